// Named unix sockets the sandbox may reach: only those beneath a writable grant. The
// socket's inode is pinned with an O_PATH descriptor and the call the supervisor performs
// names that inode ("/proc/self/fd/N"), so a path swapped after the check cannot win.

import { closeSync } from "node:fs";
import type { PathGrant } from "../../plan/landlock.js";
import { AF } from "../../plan/seccomp.js";
import { SOCKADDR_UN_PATH } from "../../plan/seccomp-net.js";
import { callerBase, callerRoot, ownMountNamespace, pinCallerPath, pinCallerPathInRoot } from "../caller-path.js";
import { fileId, isType, S_IF, WritableGrants } from "../grant-proof.js";
import type { Notification } from "../notification.js";
import { AT_FDCWD } from "../paths.js";
import { native } from "../../confine/native.js";
import { callerUmask, splitPath } from "./names-site.js";

const E = { EPERM: 1, EACCES: 13, ENOTDIR: 20, EINVAL: 22, ECONNREFUSED: 111 } as const;
/** sizeof(struct sockaddr_un): the kernel refuses longer unix addresses. */
const SOCKADDR_UN_MAX = 110;

/** A unix socket address (bind's, connect's or getsockname's bytes) that is an abstract
 * name: sun_path[0] is NUL. */
export function isAbstract(name: Buffer): boolean {
  return name.length > SOCKADDR_UN_PATH && name[SOCKADDR_UN_PATH] === 0;
}

/** The path of a unix address (not abstract): sun_path's bytes up to its NUL, or to the
 * address's end, as the kernel reads them. */
function sunPath(name: Buffer): Buffer {
  const raw = name.subarray(SOCKADDR_UN_PATH);
  const nul = raw.indexOf(0);
  return nul >= 0 ? raw.subarray(0, nul) : raw;
}
const SLASH = 0x2f;

/** A unix address to hand the kernel, and the descriptor pinning its socket (to close
 * once the call is done). */
export interface UnixTarget {
  readonly name: Buffer;
  readonly pin?: number;
}

/** struct sockaddr_un naming `path`, NUL-terminated. */
function sockaddrUn(path: string): Buffer {
  const p = Buffer.from(path);
  const out = Buffer.alloc(2 + p.length + 1);
  out.writeUInt16LE(AF.UNIX, 0);
  p.copy(out, 2);
  return out;
}

export class UnixTargets {
  private readonly grants: WritableGrants | "any";

  /** `grants`: the writable grants (see WritableGrants), or "any" when the filesystem
   * protection is not in force. */
  /** `denied`: policyFn's ctx.denyPath, asked with the real path of the pinned socket (or,
   * for a bind, of the name in its pinned parent), saying the refusal itself; a connect,
   * send or bind there is refused (EACCES). */
  constructor(
    grants: readonly PathGrant[] | "any",
    private readonly abstractScoped: boolean,
    onClose: (fn: () => void) => void,
    private readonly denied?: (path: string, syscall: "connect" | "bind") => boolean,
  ) {
    this.grants = grants === "any" ? "any" : new WritableGrants(grants, onClose);
  }

  /**
   * What a connect or send to the unix address `name` (the caller's copy) becomes, or an
   * errno. Addresses of another family go as they are: the kernel refuses them, or reads
   * AF_UNSPEC as a disconnect, which reaches nothing.
   *
   * Abstract addresses are refused (EPERM, what Landlock's abstract-socket scope answers
   * for a socket outside the sandbox): a connect or send the supervisor performs is not
   * scoped, so it would reach abstract sockets anywhere on the host, and the supervisor
   * cannot tell a socket the sandbox bound from one of the host without a race (the name
   * is looked up again at the call). Sandboxed programs that talk among themselves over
   * abstract sockets must use a named socket under a writable grant, or socketpair().
   * With the scope protection disabled nothing scoped them: they go as they are.
   */
  target(n: Notification, name: Buffer): UnixTarget | number {
    if (name.length < SOCKADDR_UN_PATH || name.readUInt16LE(0) !== AF.UNIX) return { name };
    if (name.length > SOCKADDR_UN_MAX) return E.EINVAL;
    if (name.length === SOCKADDR_UN_PATH) return { name }; // no path: the kernel refuses it
    if (isAbstract(name)) return this.abstractScoped ? E.EPERM : { name };
    return this.pin(n, sunPath(name));
  }

  /** Resolves `path` as the caller's connect would (relative to its working directory,
   * following symlinks; magic links only of its own process), pins the inode, and checks
   * it is a socket beneath a writable grant. */
  private pin(n: Notification, path: Buffer): UnixTarget | number {
    // A copy-on-write workdir: the caller's paths live in its own mount namespace, where
    // the workdir is an overlay (caller-path.ts pinCallerPathInRoot), resolved and proved
    // from its root; the notification is re-checked by the caller of target() after.
    const root = ownMountNamespace(n.pid) ? callerRoot(n.pid) : undefined;
    if (root !== undefined && root < 0) return -root;
    const arg = { dirfd: AT_FDCWD, path, follow: true, emptyPath: false };
    let pinned: number;
    try {
      pinned = root !== undefined ? pinCallerPathInRoot(n, arg, null, root) : pinCallerPath(n, arg, null);
    } catch (e) {
      if (root !== undefined) closeSync(root);
      throw e;
    }
    if (pinned < 0) {
      if (root !== undefined) closeSync(root);
      return -pinned; // ENOENT, ENOTDIR, ELOOP...: what the kernel would say
    }
    let ok: number;
    try {
      const st = fileId(pinned);
      // connect(2) to a file that is not a socket: ECONNREFUSED, as the kernel says.
      ok = typeof st === "number" ? -st : !isType(st, S_IF.SOCK) ? E.ECONNREFUSED : this.grants === "any" || this.grants.contains(pinned, st, root) ? 0 : E.EACCES;
    } catch (e) {
      closeSync(pinned);
      throw e;
    } finally {
      if (root !== undefined) closeSync(root);
    }
    // ctx.denyPath covers a socket as it covers a file (tenth review: a connect to a host
    // agent's socket in a denied directory went through): decided on the pinned inode's
    // real path, the very socket then connected to.
    if (ok === 0 && this.denied !== undefined) {
      const real = native().fdPath(pinned);
      if (typeof real !== "number" && this.denied(real.toString("utf8"), "connect")) ok = E.EACCES;
    }
    if (ok !== 0) {
      closeSync(pinned);
      return ok;
    }
    return { name: sockaddrUn(`/proc/self/fd/${pinned}`), pin: pinned };
  }

  /**
   * bind(2) of the unix socket `sock` (the supervisor's duplicate of the caller's) to the
   * path in `name` (the caller's address, copied once; never an abstract one), made by the
   * supervisor so that the kernel never reads the caller's address again: 0 or an errno.
   * A bind that continued had the kernel read it at its own lookup, where a thread that
   * turned the path's first byte into a NUL meanwhile bound an abstract name (4% of a tight
   * race's binds). The parent directory is pinned as the caller's lookup would reach it and
   * proved beneath a writable grant (EACCES otherwise, Landlock's answer; policyFn's denyPath
   * likewise); the bind then runs on a thread of its own (native unixBindAs) with the
   * caller's working directory, umask and capabilities, Landlock allowing MAKE_SOCK beneath
   * that parent only, so a path changed since the pin creates nothing elsewhere. The address
   * bound is the caller's own path, as getsockname and the peers see it, except for an
   * absolute path from a sandbox with a mount namespace of its own (a workdir, fsDenied,
   * chroot): looked up from the supervisor's root it would name another file, so the name
   * is bound from the pinned parent and the address is its last component. `stillValid`
   * re-checks the notification once the pins are made, before the bind.
   */
  bind(n: Notification, sock: number, name: Buffer, caps: bigint, stillValid: () => boolean): number {
    if (name.length <= SOCKADDR_UN_PATH || name.readUInt16LE(0) !== AF.UNIX || name.length > SOCKADDR_UN_MAX || isAbstract(name)) return E.EINVAL;
    const path = sunPath(name);
    const umask = callerUmask(n);
    if (umask === undefined) return E.EPERM; // the caller is gone
    const own: number[] = [];
    const keep = (fd: number): number => (fd >= 0 && own.push(fd), fd);
    try {
      const root = ownMountNamespace(n.pid) ? keep(callerRoot(n.pid)) : undefined;
      if (root !== undefined && root < 0) return E.EPERM;
      const split = splitPath(path);
      const arg = { dirfd: AT_FDCWD, path: split.dir, follow: true, emptyPath: false };
      const parent = keep(split.dir.length === 0 ? callerBase(n.pid, AT_FDCWD) : root !== undefined ? pinCallerPathInRoot(n, arg, caps, root) : pinCallerPath(n, arg, caps));
      if (parent < 0) return -parent;
      const st = fileId(parent);
      if (typeof st === "number") return -st;
      if (!isType(st, S_IF.DIR)) return E.ENOTDIR;
      if (this.grants !== "any" && !this.grants.contains(parent, st, root)) return E.EACCES;
      if (this.denied !== undefined) {
        const dir = native().fdPath(parent);
        const real = typeof dir === "number" ? "" : dir.toString("utf8");
        if (this.denied(`${real === "/" ? "" : real}/${split.name.toString("utf8")}`, "bind")) return E.EACCES;
      }
      const relative = path[0] !== SLASH;
      const cwd = !relative ? (root !== undefined ? parent : -1) : split.dir.length === 0 ? parent : keep(callerBase(n.pid, AT_FDCWD));
      if (cwd < -1) return -cwd;
      if (!stillValid()) return E.EPERM;
      const bound = relative || root === undefined ? path : Buffer.concat([split.name, split.trailing ? Buffer.from("/") : Buffer.alloc(0)]);
      const rc = native().unixBindAs(sock, bound, cwd, this.grants === "any" ? -1 : parent, umask, caps);
      return rc < 0 ? -rc : 0;
    } finally {
      for (const fd of own) closeSync(fd);
    }
  }
}
