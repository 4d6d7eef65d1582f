// Landlock grants that leave out the files the supervisor serves itself (the virtual
// hostname, cpuinfo, meminfo and CPU lists): no rule covers the real file, so a path the
// supervisor let continue cannot be rewritten into it by another thread.

import type { PathGrant } from "./landlock.js";
import { HOST_FS, childPath, within, type FsView } from "./proc-grants.js";


export interface Carved {
  grants: PathGrant[];
  /** Virtual files a writable grant still reaches (see below), for the report. */
  reachable: string[];
}

/**
 * `files`: real paths of the virtual files. A read-only grant above one of them is split as
 * /proc is (plan/proc-grants.ts): the directories on the way keep only the right to list,
 * their other entries get the grant's rights, and the file itself gets none. A grant that
 * is exactly the file is dropped: the supervisor serves it. A writable grant is left whole:
 * split, the files the sandbox creates later in those directories would be covered by no
 * rule and unusable; the race then can reach the real file, which `reachable` reports.
 */
export function carveOut(grants: readonly PathGrant[], files: readonly string[], fs: FsView = HOST_FS): Carved {
  const out: PathGrant[] = [];
  const reachable = new Set<string>();
  for (const g of grants) {
    let real: string;
    try {
      real = fs.realpath(g.path);
    } catch {
      out.push(g);
      continue;
    }
    const inside = files.filter((f) => within(f, real));
    if (g.dirOnly || inside.length === 0) {
      out.push(g);
    } else if (g.writable) {
      for (const f of inside) reachable.add(f);
      out.push(g);
    } else if (!inside.includes(real)) {
      split(real, inside, fs, out);
    }
  }
  return { grants: out, reachable: [...reachable] };
}

function split(dir: string, files: readonly string[], fs: FsView, out: PathGrant[]): void {
  out.push({ path: dir, isDir: true, writable: false, dirOnly: true });
  for (const e of fs.list(dir, () => true)) {
    const path = childPath(dir, e.name);
    // Landlock checks the file a symlink leads to, under that file's own rule.
    if (e.type === "symlink" || files.includes(path)) continue;
    const deeper = files.filter((f) => within(f, path));
    if (deeper.length > 0 && e.type === "dir") split(path, deeper, fs, out);
    else out.push({ path, isDir: e.type === "dir", writable: false });
  }
}
