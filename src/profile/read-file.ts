// Reading a profile file safely (SPEC 10): never through a symlink, never blocking on a
// FIFO or a device, only a regular file of bounded size, and only valid UTF-8.

import { closeSync, constants, fstatSync, openSync, readSync } from "node:fs";
import { ProfileError } from "./errors.js";
import { fileKind } from "../kernel/file-kind.js";

/** A profile is a few dozen lines; anything this large is not one. */
export const PROFILE_MAX_BYTES = 1 << 20;

/**
 * The text of the profile at `path`. O_NOFOLLOW: a link at the last component is refused
 * (a link to /etc/shadow would otherwise leak its first line in a parse error; one to
 * /dev/zero would be read without end). O_NONBLOCK: opening a FIFO returns at once, and the
 * type check refuses it. The size is checked on the open descriptor, and the read stops
 * one byte past the limit, so a file that grows while read is refused too.
 */
export function readProfileFile(path: string): string {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ELOOP") throw new ProfileError(path, undefined, undefined, "is a symbolic link; profile files are never followed through links (give the file it points to)");
    if (code === "ENOENT") throw new ProfileError(path, undefined, undefined, "does not exist");
    throw new ProfileError(path, undefined, undefined, `cannot be opened (${code ?? (e as Error).message})`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new ProfileError(path, undefined, undefined, `is ${fileKind(st)}, not a regular file`);
    if (st.size > PROFILE_MAX_BYTES) throw new ProfileError(path, undefined, undefined, `is ${st.size} bytes, more than a profile may be (${PROFILE_MAX_BYTES})`);
    const buf = Buffer.alloc(PROFILE_MAX_BYTES + 1);
    let n = 0;
    for (;;) {
      const got = readSync(fd, buf, n, buf.length - n, null);
      if (got === 0) break;
      n += got;
      if (n > PROFILE_MAX_BYTES) throw new ProfileError(path, undefined, undefined, `grew past ${PROFILE_MAX_BYTES} bytes while being read`);
    }
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(buf.subarray(0, n));
    } catch {
      throw new ProfileError(path, undefined, undefined, "is not valid UTF-8 text");
    }
  } finally {
    closeSync(fd);
  }
}
