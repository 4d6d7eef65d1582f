// Named unix sockets the sandbox may reach: only those beneath a writable grant. The
// socket's inode is pinned with an O_PATH descriptor and the call the supervisor performs
// names that inode ("/proc/self/fd/N"), so a path swapped after the check cannot win.

import { closeSync, fstatSync, openSync, readlinkSync, realpathSync, type Stats } from "node:fs";
import { native } from "../../confine/native.js";
import type { PathGrant } from "../../plan/landlock.js";
import { AF } from "../../plan/seccomp.js";
import { O, RESOLVE } from "../paths.js";

const E = { EPERM: 1, EACCES: 13, EINVAL: 22, ECONNREFUSED: 111 } as const;
const AT_FDCWD = -100;
const S_IFMT = 0o170000;
const S_IFSOCK = 0o140000;
/** sizeof(struct sockaddr_un): the kernel refuses longer unix addresses. */
const SOCKADDR_UN_MAX = 110;

interface OpenGrant {
  readonly path: string;
  readonly isDir: boolean;
  readonly fd: number;
  readonly stat: Stats;
}

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

const sameFile = (a: Stats, b: Stats): boolean => a.dev === b.dev && a.ino === b.ino;

export class UnixTargets {
  private readonly grants: readonly OpenGrant[] | "any";

  /**
   * The writable grants are opened now, at the sandbox's start, as Landlock bound its
   * rules to their inodes then: a grant renamed or replaced later keeps meaning the
   * directory that was granted. A grant that cannot be opened bounds nothing.
   */
  constructor(
    grants: readonly PathGrant[] | "any",
    private readonly abstractScoped: boolean,
    onClose: (fn: () => void) => void,
  ) {
    if (grants === "any") {
      this.grants = "any";
      return;
    }
    const open: OpenGrant[] = [];
    for (const g of grants) {
      try {
        const path = realpathSync(g.path);
        const fd = openSync(path, O.PATH | O.CLOEXEC);
        open.push({ path, isDir: g.isDir, fd, stat: fstatSync(fd) });
      } catch {
        // gone since planning: nothing beneath it to reach
      }
    }
    this.grants = open;
    onClose(() => {
      for (const g of open) closeSync(g.fd);
    });
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
  target(tid: number, name: Buffer): UnixTarget | number {
    if (name.length < 2 || name.readUInt16LE(0) !== AF.UNIX) return { name };
    if (name.length > SOCKADDR_UN_MAX) return E.EINVAL;
    if (name.length === 2) return { name }; // no path: the kernel refuses it
    if (name[2] === 0) return this.abstractScoped ? E.EPERM : { name };
    const raw = name.subarray(2);
    const nul = raw.indexOf(0);
    const bytes = nul >= 0 ? raw.subarray(0, nul) : raw;
    const path = bytes.toString("utf8");
    // A path that is not UTF-8 cannot be handed to openat2 unchanged: refused.
    if (!Buffer.from(path).equals(bytes)) return E.EACCES;
    return this.pin(tid, path);
  }

  /** Resolves `path` as the caller's connect would (relative to its working directory,
   * following symlinks), pins the inode, and checks it lies beneath a writable grant. */
  private pin(tid: number, path: string): UnixTarget | number {
    const nat = native();
    let base = AT_FDCWD;
    if (!path.startsWith("/")) {
      try {
        base = openSync(`/proc/${tid}/cwd`, O.PATH | O.DIRECTORY | O.CLOEXEC);
      } catch {
        return E.ECONNREFUSED;
      }
    }
    // Magic links (/proc/self/fd/N...) would be resolved in the supervisor's process, not
    // the caller's: refused; the check below would refuse what they reach anyway.
    const pinned = nat.openat2(base, path, O.PATH | O.CLOEXEC, 0, RESOLVE.NO_MAGICLINKS);
    if (base !== AT_FDCWD) closeSync(base);
    if (pinned < 0) return -pinned; // ENOENT, ENOTDIR, ELOOP...: what the kernel would say
    let ok: number;
    try {
      ok = this.beneathGrant(pinned);
    } catch (e) {
      closeSync(pinned);
      throw e;
    }
    if (ok !== 0) {
      closeSync(pinned);
      return ok;
    }
    return { name: sockaddrUn(`/proc/self/fd/${pinned}`), pin: pinned };
  }

  /** 0 when the pinned inode is a socket beneath a writable grant, else the errno. */
  private beneathGrant(pinned: number): number {
    const st = fstatSync(pinned);
    // connect(2) to a file that is not a socket: ECONNREFUSED, as the kernel says.
    if ((st.mode & S_IFMT) !== S_IFSOCK) return E.ECONNREFUSED;
    if (this.grants === "any") return 0;
    let real: string;
    try {
      real = readlinkSync(`/proc/self/fd/${pinned}`);
    } catch {
      return E.EACCES;
    }
    for (const g of this.grants) {
      if (!g.isDir) {
        if (real === g.path && sameFile(st, g.stat)) return 0;
        continue;
      }
      const rel = g.path === "/" ? real.slice(1) : real.startsWith(g.path + "/") ? real.slice(g.path.length + 1) : undefined;
      if (rel === undefined || rel === "") continue;
      // The path text is only a hint: the inode reached from the grant's own descriptor
      // without any symlink and without leaving it must be the pinned one.
      const q = native().openat2(g.fd, rel, O.PATH | O.NOFOLLOW | O.CLOEXEC, 0, RESOLVE.BENEATH | RESOLVE.NO_SYMLINKS | RESOLVE.NO_MAGICLINKS);
      if (q < 0) continue;
      let same: boolean;
      try {
        same = sameFile(fstatSync(q), st);
      } finally {
        closeSync(q);
      }
      if (same) return 0;
    }
    return E.EACCES;
  }
}
