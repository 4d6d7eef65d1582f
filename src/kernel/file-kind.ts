// What a file is, for an error that says it is not what was expected (a regular file for a
// profile or a checkpoint's part, a pipe for a clone's output).

import type { Stats } from "node:fs";

export function fileKind(st: Stats): string {
  if (st.isDirectory()) return "a directory";
  if (st.isFIFO()) return "a FIFO";
  if (st.isCharacterDevice()) return "a character device";
  if (st.isBlockDevice()) return "a block device";
  if (st.isSocket()) return "a socket";
  if (st.isSymbolicLink()) return "a link";
  if (st.isFile()) return "a regular file";
  return "a file of another kind";
}
