// File metadata (mode, owner, extended attributes, times, inode flags): Landlock has no
// access right for it, so with the filesystem protection in force the supervisor
// performs every such call beneath a writable grant and refuses the rest.

import type { PathGrant } from "./landlock.js";

/** What the metadata supervisor needs: the writable grants (of the plan, after splits). */
export interface MetaSupervision {
  readonly writable: readonly PathGrant[];
  /** `user`: ids the sandbox names (chown) are its namespace's, translated to the host's. */
  readonly user?: { readonly uid: number; readonly gid: number; readonly outerUid: number; readonly outerGid: number };
  /** A copy-on-write workdir: the sandbox has a mount namespace of its own, and paths are
   * resolved and proved from its root (supervise/caller-path.ts pinCallerPathInRoot). */
  readonly ownMounts?: boolean;
  /** protectedFiles by the supervisor (handlers/names.ts): a change at a protected
   * position is refused too (policy/protected.ts protectedAt). */
  readonly protect?: boolean;
  /** The supervised view, and the kernel view with denied paths: inotify_add_watch goes to
   * the supervisor, which adds a watch only beneath one of these grants, every grant but a
   * directory-only one, and never on a denied path's parent (handlers/watches.ts). */
  readonly watchGrants?: readonly PathGrant[];
  /** fsDenied's paths: their parent directories cannot be watched. */
  readonly watchDenied?: readonly string[];
  /** The supervised view: inotify_init and inotify_init1 go to the supervisor, whose broker
   * makes the instances in a user namespace with half the caller's limits
   * (handlers/inotify-init.ts). */
  readonly inotifyBroker?: true;
}

/** The calls that change a file's metadata, by path or by descriptor. */
export const META_SYSCALLS = [
  "chmod", "fchmod", "fchmodat", "fchmodat2",
  "chown", "fchown", "lchown", "fchownat",
  "setxattr", "lsetxattr", "fsetxattr", "setxattrat",
  "removexattr", "lremovexattr", "fremovexattr", "removexattrat",
  "utime", "utimes", "futimesat", "utimensat",
] as const;

/**
 * ioctl requests that change an inode's flags or attributes on a descriptor that may have
 * been opened read-only, each with the size of the argument the kernel reads (none holds
 * a pointer). The supervisor performs them on a duplicate of the descriptor. The 32-bit
 * variants are what a compat task would use; a filesystem may accept them natively.
 */
export const INODE_IOCTLS: ReadonlyMap<number, number> = new Map([
  [0x40086602, 4], // FS_IOC_SETFLAGS (the kernel reads an int)
  [0x40046602, 4], // FS_IOC32_SETFLAGS
  [0x401c5820, 28], // FS_IOC_FSSETXATTR (struct fsxattr)
  [0x40087602, 4], // FS_IOC_SETVERSION (an int)
  [0x40047602, 4], // FS_IOC32_SETVERSION
  [0x40086604, 4], // EXT4_IOC_SETVERSION
  [0x40046604, 4], // EXT4_IOC32_SETVERSION
  [0x4008941a, 8], // BTRFS_IOC_SUBVOL_SETFLAGS (a u64: read-only subvolume)
  [0x6609, 0], // EXT4_IOC_MIGRATE (sets the extents flag; no argument)
]);

/**
 * Requests that change a file for good on a read-only descriptor, with arguments the
 * supervisor would have to interpret first: fs-verity (pointers to a salt and a
 * signature; the file becomes read-only forever) and an fscrypt policy on an empty
 * directory (its size depends on a version byte). Refused with EOPNOTSUPP, as by a
 * filesystem without the feature, while the filesystem protection is in force.
 */
export const UNSUPPORTED_INODE_IOCTLS: readonly number[] = [
  0x40806685, // FS_IOC_ENABLE_VERITY
  0x800c6613, // FS_IOC_SET_ENCRYPTION_POLICY
];
