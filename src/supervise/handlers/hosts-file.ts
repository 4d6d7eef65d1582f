// The synthetic /etc/hosts (SPEC 2.1.1): an open of /etc/hosts, however it is spelled,
// gets a fresh sealed memfd with the names the network rules pinned at start; with domain
// rules /etc/resolv.conf too. Every other path passes to the next handler untouched.

import { native } from "../../confine/native.js";
import { deny } from "../action.js";
import type { Handler, HandlerTable, SupervisorContext } from "../handler.js";
import { O, readOpen } from "../paths.js";

export const HOSTS = "/etc/hosts";
export const RESOLV = "/etc/resolv.conf";
const EACCES = 13;
const EEXIST = 17;
const ENOTDIR = 20;

/**
 * The path is resolved by paths.ts as the kernel will (dirfd or cwd, ".", "..", "//",
 * procfs links), from the supervisor's copy, and the file served is the supervisor's own:
 * a path rewritten after the look cannot redirect this open. A rewrite of some other
 * path that we let continue can still reach the host's /etc/hosts, if Landlock grants it:
 * harmless, because this file is a convenience, not the boundary. Enforcement is on the
 * addresses (net.ts), so names found elsewhere lead nowhere the rules do not allow.
 * Served even when /etc is not granted: the supervisor installs the descriptor itself.
 */
export function hostsFileHandlers(content: string, ctx: SupervisorContext, resolvConf?: string): HandlerTable {
  const files = new Map([[HOSTS, Buffer.from(content)]]);
  if (resolvConf !== undefined) files.set(RESOLV, Buffer.from(resolvConf));
  const open: Handler = (n) => {
    const req = readOpen(n, ctx.memory);
    if (req === null || req.target.kind !== "path") return undefined;
    const path = req.target.path;
    const data = files.get(path);
    if (data === undefined) return undefined;
    if ((req.flags & O.PATH) !== 0) return undefined; // a handle, not the content
    if (req.target.trailingSlash || (req.flags & O.DIRECTORY) !== 0) return deny(ENOTDIR);
    if ((req.flags & (O.CREAT | O.EXCL)) === (O.CREAT | O.EXCL)) return deny(EEXIST);
    // Read-only, as a file of root's the sandbox may not write.
    if ((req.flags & O.ACCMODE) !== 0 || (req.flags & O.TRUNC) !== 0) return deny(EACCES);
    return { kind: "inject", fd: native().memfdReadonly(path === HOSTS ? "sandlock-etc-hosts" : "sandlock-resolv-conf", data), cloexec: (req.flags & O.CLOEXEC) !== 0, close: true };
  };
  return { open, openat: open, openat2: open, creat: open };
}
