// Which descriptors of a frozen tree share one open file description (a dup in one
// process, or inherited by a child): kcmp(KCMP_FILE) between candidates with the same
// target, so a restore can give them back shared (one offset) instead of reopening twice.

import { native } from "../confine/native.js";
import type { FdEntry, ProcessImage } from "./image.js";

/** Sets fds[].sharedWith (the parent's fd first, else a lower fd of the same process) and
 * fdsCompared on each process; descriptors 0-2 are left out (a restore replaces them). */
export function markSharedFds(processes: ProcessImage[]): ProcessImage[] {
  const byPid = new Map(processes.map((p) => [p.pid, p]));
  return processes.map((p) => {
    const parent = byPid.get(p.ppid);
    let compared = true;
    const same = (a: ProcessImage, f: FdEntry, g: FdEntry): boolean => {
      if (f.target !== g.target) return false;
      const rc = native().kcmpFile(p.pid, f.fd, a.pid, g.fd);
      if (rc < 0) compared = false;
      return rc === 0;
    };
    const fds = p.fds.map((f, i): FdEntry => {
      if (f.fd <= 2) return f;
      const inherited = parent?.fds.find((g) => g.fd > 2 && same(parent, f, g));
      if (inherited !== undefined) return { ...f, sharedWith: { pid: parent!.pid, fd: inherited.fd } };
      const dup = p.fds.slice(0, i).find((g) => g.fd > 2 && same(p, f, g));
      return dup === undefined ? f : { ...f, sharedWith: { pid: p.pid, fd: dup.fd } };
    });
    return { ...p, fds, fdsCompared: compared };
  });
}
