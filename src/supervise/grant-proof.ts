// Proves that an inode the supervisor pinned (an O_PATH descriptor, or a duplicate of the
// caller's) lies beneath a writable grant, by reaching the very same inode from the
// grant's own descriptor without any symlink. Shared by named unix sockets and file metadata.

import { closeSync } from "node:fs";
import { grantRealpath } from "../plan/grant-path.js";
import { native } from "../confine/native.js";
import type { PathGrant } from "../plan/landlock.js";
import { openat2Bytes } from "./caller-path.js";
import { O, RESOLVE } from "./paths.js";

/** What identifies a file, and its type and link count (native fileId). */
export interface FileId {
  readonly dev: bigint;
  readonly ino: bigint;
  /** st_mode: type and permission bits. */
  readonly mode: number;
  readonly nlink: number;
}

export const S_IFMT = 0o170000;
export const S_IF = { SOCK: 0o140000, LNK: 0o120000, REG: 0o100000, DIR: 0o040000, FIFO: 0o010000 } as const;
export const isType = (id: FileId, type: number): boolean => (id.mode & S_IFMT) === type;

const toId = (r: [bigint, bigint, number, number] | number): FileId | number =>
  typeof r === "number" ? r : { dev: r[0], ino: r[1], mode: r[2], nlink: r[3] };

/** The identity of descriptor fd, or -errno. */
export function fileId(fd: number): FileId | number {
  return toId(native().fileId(fd));
}

/** The identity of what rel (bytes) names from dirfd without following its last
 * component, within `resolve`'s bounds; or -errno. */
function fileIdAt(dirfd: number, rel: Buffer, resolve: number): FileId | number {
  const z = Buffer.alloc(rel.length + 1);
  rel.copy(z);
  return toId(native().fileId(dirfd, z, resolve));
}

interface OpenGrant {
  /** The grant's real path, as the kernel prints paths (readlink of /proc/self/fd/N). */
  readonly path: Buffer;
  /** A directory grant whose files are covered (not a split grant's directory-only rule). */
  readonly tree: boolean;
  readonly fd: number;
  readonly stat: FileId;
  /** Its path from the sandbox's root (a chroot's path inside it; else the real path). */
  readonly inRoot: Buffer;
}

const SLASH = 0x2f;
const DELETED = Buffer.from(" (deleted)");
const BENEATH = RESOLVE.BENEATH | RESOLVE.NO_SYMLINKS | RESOLVE.NO_MAGICLINKS;

export const sameInode = (a: FileId, b: FileId): boolean => a.dev === b.dev && a.ino === b.ino;

/** The kernel's path of an open descriptor of this process (bytes: any name is valid), or null. */
export function descriptorPath(fd: number): Buffer | null {
  const path = native().fdPath(fd);
  return typeof path === "number" ? null : path;
}

/** rel of path below dir ("" for dir itself), or undefined when path is not dir or beneath it. */
function below(path: Buffer, dir: Buffer): Buffer | undefined {
  if (path.equals(dir)) return Buffer.alloc(0);
  if (dir.length === 1 && dir[0] === SLASH) return path[0] === SLASH ? path.subarray(1) : undefined;
  if (path.length > dir.length && path[dir.length] === SLASH && path.subarray(0, dir.length).equals(dir)) return path.subarray(dir.length + 1);
  return undefined;
}

/** The file `rel` below `grant` (a grant's path in the caller's namespace), looked up from
 * the caller's root without any link, or -errno. */
function idBelowInRoot(root: number, grant: Buffer, rel: Buffer): FileId | number {
  const fd = openat2Bytes(root, grant, O.PATH | O.CLOEXEC, RESOLVE.IN_ROOT | RESOLVE.NO_SYMLINKS | RESOLVE.NO_MAGICLINKS, null);
  if (fd < 0) return fd;
  try {
    return rel.length === 0 ? fileId(fd) : fileIdAt(fd, rel, BENEATH);
  } finally {
    closeSync(fd);
  }
}

/** The directory an unlinked file was removed from, read from its descriptor's path
 * ("DIR/NAME (deleted)"), or undefined for a path that is not an unlinked file's. */
function unlinkedParent(real: Buffer): Buffer | undefined {
  if (real.length <= DELETED.length || !real.subarray(real.length - DELETED.length).equals(DELETED)) return undefined;
  const name = real.subarray(0, real.length - DELETED.length);
  const slash = name.lastIndexOf(SLASH);
  return slash <= 0 ? Buffer.from("/") : name.subarray(0, slash);
}

export class WritableGrants {
  private readonly grants: readonly OpenGrant[];

  /**
   * The writable grants are opened now, at the sandbox's start, as Landlock bound its
   * rules to their inodes then: a grant renamed or replaced later keeps meaning the
   * directory that was granted. A grant that cannot be opened bounds nothing.
   * A directory-only grant (the rule plan/proc-grants.ts and plan/carve.ts leave on a
   * split directory: its entries have rules of their own) covers the directory itself.
   */
  constructor(grants: readonly PathGrant[], onClose: (fn: () => void) => void, readable = false) {
    const open: OpenGrant[] = [];
    for (const g of grants) {
      // readable: every grant (policyFn's file events prove reads too: handlers/names-open.ts).
      if (!g.writable && !readable) continue;
      try {
        // Resolved as planning did (no link another process could swap is followed), then
        // opened without following any: a link swapped in since the launcher opened the
        // rule would otherwise make the proofs below accept paths beneath its target.
        const path = Buffer.from(grantRealpath(g.path));
        const fd = openat2Bytes(-100, path, O.PATH | O.CLOEXEC, RESOLVE.NO_SYMLINKS, null);
        if (fd < 0) continue;
        const stat = fileId(fd);
        if (typeof stat === "number") {
          closeSync(fd);
          continue;
        }
        open.push({ path, tree: g.isDir && g.dirOnly !== true, fd, stat, inRoot: g.inRoot === undefined ? path : Buffer.from(g.inRoot) });
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
   * Whether the inode `fd` refers to lies beneath a writable grant. The kernel's path of
   * the descriptor is only a hint of where to look: from the grant's own descriptor, the
   * rest of that path must lead, without any symlink and without leaving the grant
   * (RESOLVE_BENEATH), to the same inode (device and inode number). A file reached
   * through a hard link inside the grant is beneath it, as Landlock sees it too; the same
   * inode reached by its name outside is not (the path is that of the name used).
   *
   * An unlinked file (link count 0: O_TMPFILE, or removed while open) has no path left to
   * walk: it is beneath the grant when the directory it was removed from (the kernel
   * keeps the dentry's parent) is, on the same filesystem.
   */
  contains(fd: number, st: FileId, root?: number): boolean {
    const real = descriptorPath(fd);
    if (real === null || real[0] !== SLASH) return false;
    if (root !== undefined) return this.containsInRoot(real, st, root);
    for (const g of this.grants) {
      const rel = below(real, g.path);
      if (rel === undefined) continue;
      if (rel.length === 0) {
        if (sameInode(st, g.stat)) return true;
        continue;
      }
      if (!g.tree) continue;
      if (this.reaches(g, rel, st)) return true;
    }
    return st.nlink === 0 && !isType(st, S_IF.DIR) ? this.containsUnlinked(real, st) : false;
  }

  /**
   * contains() for a caller in a mount namespace of its own (a copy-on-write workdir): the
   * grants are opened again from the caller's root, so the proof walks the overlay the
   * caller writes to, not the real directory beneath it that the descriptors opened at
   * the start name. An unlinked file is proved as contains() proves it, by the directory
   * it was removed from, walked from the grant opened in the caller's root (the kernel
   * view's O_TMPFILE files: `linkat(AT_EMPTY_PATH)` gave EXDEV there).
   */
  private containsInRoot(real: Buffer, st: FileId, root: number): boolean {
    if (st.nlink === 0 && !isType(st, S_IF.DIR)) return this.containsUnlinked(real, st, root);
    for (const g of this.grants) {
      if (g.inRoot.length === 0) continue; // a chroot's grant the sandbox does not reach
      const rel = below(real, g.inRoot);
      if (rel === undefined || (rel.length > 0 && !g.tree)) continue;
      const q = idBelowInRoot(root, g.inRoot, rel);
      if (typeof q !== "number" && sameInode(q, st)) return true;
    }
    return false;
  }

  /**
   * Where the inode `fd` refers to lies below the writable grants: its path below the
   * outermost grant that proves it (as contains() proves: from the grant's descriptor,
   * without symlinks, to the same inode), as components; undefined when none does. The
   * outermost grant's path holds every inner one's as a suffix, so a name protected below
   * any grant (policy/protected.ts protectedAt, at any depth) is found in it.
   * Used on directories the name operations pinned (handlers/names*.ts).
   */
  position(fd: number, st: FileId, root?: number): string[] | undefined {
    const real = descriptorPath(fd);
    if (real === null || real[0] !== SLASH) return undefined;
    let best: Buffer | undefined;
    for (const g of this.grants) {
      const rel = below(real, g.path);
      if (rel === undefined || (best !== undefined && rel.length <= best.length)) continue;
      if (rel.length > 0 && !g.tree) continue;
      let proved: boolean;
      if (root !== undefined) {
        const q = idBelowInRoot(root, g.path, rel);
        proved = typeof q !== "number" && sameInode(q, st);
      } else {
        proved = rel.length === 0 ? sameInode(st, g.stat) : this.reaches(g, rel, st);
      }
      if (proved) best = rel;
    }
    return best === undefined ? undefined : best.toString("latin1").split("/").filter((c) => c !== "");
  }

  private reaches(g: OpenGrant, rel: Buffer, st: FileId): boolean {
    const q = fileIdAt(g.fd, rel, BENEATH);
    return typeof q !== "number" && sameInode(q, st);
  }

  /** An unlinked file is beneath a grant when the directory it was removed from is, on the
   * same filesystem; with `root` that directory is walked from the grant opened there. */
  private containsUnlinked(real: Buffer, st: FileId, root?: number): boolean {
    const parent = unlinkedParent(real);
    if (parent === undefined) return false;
    for (const g of this.grants) {
      const at = root === undefined ? g.path : g.inRoot;
      if (!g.tree || at.length === 0) continue;
      const rel = below(parent, at);
      if (rel === undefined) continue;
      const dir = root !== undefined ? idBelowInRoot(root, at, rel) : rel.length === 0 ? g.stat : fileIdAt(g.fd, rel, BENEATH);
      if (typeof dir !== "number" && isType(dir, S_IF.DIR) && dir.dev === st.dev) return true;
    }
    return false;
  }
}
