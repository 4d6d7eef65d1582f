// Named unix sockets the sandbox may reach: only those beneath a writable grant. The
// socket's inode is pinned with an O_PATH descriptor and the call the supervisor performs
// names that inode ("/proc/self/fd/N"), so a path swapped after the check cannot win.

import { closeSync } from "node:fs";
import type { PathGrant } from "../../plan/landlock.js";
import { AF } from "../../plan/seccomp.js";
import { callerRoot, ownMountNamespace, pinCallerPath, pinCallerPathInRoot } from "../caller-path.js";
import { fileId, isType, S_IF, WritableGrants } from "../grant-proof.js";
import type { Notification } from "../notification.js";
import { AT_FDCWD } from "../paths.js";
import { native } from "../../confine/native.js";

const E = { EPERM: 1, EACCES: 13, EINVAL: 22, ECONNREFUSED: 111 } as const;
/** sizeof(struct sockaddr_un): the kernel refuses longer unix addresses. */
const SOCKADDR_UN_MAX = 110;

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
  /** `denied`: policyFn's ctx.denyPath, asked with the real path of the pinned socket (and
   * saying the refusal itself); a connect or send to a socket there is refused (EACCES). */
  constructor(
    grants: readonly PathGrant[] | "any",
    private readonly abstractScoped: boolean,
    onClose: (fn: () => void) => void,
    private readonly denied?: (path: string) => boolean,
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
    if (name.length < 2 || name.readUInt16LE(0) !== AF.UNIX) return { name };
    if (name.length > SOCKADDR_UN_MAX) return E.EINVAL;
    if (name.length === 2) return { name }; // no path: the kernel refuses it
    if (name[2] === 0) return this.abstractScoped ? E.EPERM : { name };
    const raw = name.subarray(2);
    const nul = raw.indexOf(0);
    return this.pin(n, nul >= 0 ? raw.subarray(0, nul) : raw);
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
      if (typeof real !== "number" && this.denied(real.toString("utf8"))) ok = E.EACCES;
    }
    if (ok !== 0) {
      closeSync(pinned);
      return ok;
    }
    return { name: sockaddrUn(`/proc/self/fd/${pinned}`), pin: pinned };
  }
}
