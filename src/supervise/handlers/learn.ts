// The recorder of a learning run (sandlock learn): first in every chain, it notes the path
// each open, exec and directory change names, the ports bound and the processes started,
// and passes the call on to the next concern (or lets it continue). It decides nothing.
//
// Every answer here is "not mine": the call then goes on exactly as it would without the
// recorder, so the record is evidence, not a decision (DESIGN 6 is about decisions). A
// thread that rewrites a path between the copy and the kernel's own read makes the record
// wrong, never the confinement weaker: learn mode trusts the command (docs/learn.md).

import { resolve as resolvePath } from "node:path";
import type { Observed } from "../../learn/observed.js";
import { SYSCALLS } from "../../kernel/syscalls.js";
import { CLONE_THREAD } from "../../plan/seccomp.js";
import type { HandlerTable, SupervisorContext } from "../handler.js";
import type { Notification } from "../notification.js";
import { AT_FDCWD, readOpen, readlinkPath, wantsWrite, O } from "../paths.js";

const AT_EMPTY_PATH = 0x1000;
const AF_INET = 2;
const AF_INET6 = 10;

/** Where each call's paths are: [dirfd argument or -1 for the cwd, path argument], and
 * whether the path is changed (needs a writable grant) or only run. */
const PATHS: Readonly<Record<string, { at: readonly (readonly [number, number])[]; access: "write" | "exec" }>> = {
  execve: { at: [[-1, 0]], access: "exec" },
  execveat: { at: [[0, 1]], access: "exec" },
  mkdir: { at: [[-1, 0]], access: "write" },
  mkdirat: { at: [[0, 1]], access: "write" },
  rmdir: { at: [[-1, 0]], access: "write" },
  unlink: { at: [[-1, 0]], access: "write" },
  unlinkat: { at: [[0, 1]], access: "write" },
  rename: { at: [[-1, 0], [-1, 1]], access: "write" },
  renameat: { at: [[0, 1], [2, 3]], access: "write" },
  renameat2: { at: [[0, 1], [2, 3]], access: "write" },
  link: { at: [[-1, 1]], access: "write" },
  linkat: { at: [[2, 3]], access: "write" },
  symlink: { at: [[-1, 1]], access: "write" },
  symlinkat: { at: [[1, 2]], access: "write" },
  mknod: { at: [[-1, 0]], access: "write" },
  mknodat: { at: [[0, 1]], access: "write" },
  truncate: { at: [[-1, 0]], access: "write" },
};

/** The absolute path a path argument names for the calling thread, resolved lexically
 * against its working directory or dirfd; undefined when it cannot be told. */
function absolutePath(n: Notification, ctx: SupervisorContext, dirArg: number, pathArg: number): string | undefined {
  const raw = ctx.memory.readString(n, n.argAddr(pathArg));
  if (raw === null || raw === "") return undefined;
  if (raw.startsWith("/")) return resolvePath(raw);
  const dirfd = dirArg < 0 ? AT_FDCWD : n.argI32(dirArg);
  const base = readlinkPath(dirfd === AT_FDCWD ? `/proc/${n.pid}/cwd` : `/proc/${n.pid}/fd/${dirfd}`);
  return base === null ? undefined : resolvePath(base, raw);
}

export function learnHandlers(log: Observed, ctx: SupervisorContext): HandlerTable {
  const open = (n: Notification): undefined => {
    const req = readOpen(n, ctx.memory);
    if (req === null || req.target.kind !== "path") return undefined;
    const access = wantsWrite(req.flags) ? "write" : (req.flags & O.DIRECTORY) !== 0 ? "list" : "read";
    log.file(req.target.path, access);
    return undefined;
  };
  const table: Record<string, (n: Notification) => undefined> = { open, openat: open, openat2: open, creat: open };
  for (const [name, spec] of Object.entries(PATHS)) {
    table[name] = (n) => {
      // execveat(fd, "", ..., AT_EMPTY_PATH) runs the descriptor itself: no path to note.
      if (name === "execveat" && (n.argU32(4) & AT_EMPTY_PATH) !== 0) return undefined;
      for (const [dirArg, pathArg] of spec.at) {
        const path = absolutePath(n, ctx, dirArg, pathArg);
        if (path === undefined) continue;
        if (spec.access === "exec") log.exec(path);
        else log.file(path, "write");
      }
      return undefined;
    };
  }
  table.bind = (n) => {
    const name = ctx.memory.read(n, n.argAddr(1), Math.min(n.argU32(2), 28));
    if (name === null || name.length < 4) return undefined;
    const family = name.readUInt16LE(0);
    if (family === AF_INET || family === AF_INET6) log.binds.add(name.readUInt16BE(2));
    return undefined;
  };
  const started = (n: Notification): undefined => {
    if (n.nr !== SYSCALLS.clone || (n.argU32(0) & CLONE_THREAD) === 0) log.processes++;
    return undefined;
  };
  table.clone = started;
  table.fork = started;
  table.vfork = started;
  return table;
}
