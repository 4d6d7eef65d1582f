// The Landlock part of a plan: which access rights are handled on this host's ABI, and the
// rules that grant them back per path and per TCP port.

import type { Protection } from "../policy/types.js";

export const FS = {
  EXECUTE: 1n << 0n,
  WRITE_FILE: 1n << 1n,
  READ_FILE: 1n << 2n,
  READ_DIR: 1n << 3n,
  REMOVE_DIR: 1n << 4n,
  REMOVE_FILE: 1n << 5n,
  MAKE_CHAR: 1n << 6n,
  MAKE_DIR: 1n << 7n,
  MAKE_REG: 1n << 8n,
  MAKE_SOCK: 1n << 9n,
  MAKE_FIFO: 1n << 10n,
  MAKE_BLOCK: 1n << 11n,
  MAKE_SYM: 1n << 12n,
  REFER: 1n << 13n, // ABI 2
  TRUNCATE: 1n << 14n, // ABI 3
  IOCTL_DEV: 1n << 15n, // ABI 5
} as const;

export const NET = { BIND_TCP: 1n << 0n, CONNECT_TCP: 1n << 1n } as const; // ABI 4
export const SCOPE = { ABSTRACT_UNIX_SOCKET: 1n << 0n, SIGNAL: 1n << 1n } as const; // ABI 6

/** The ABI 1 filesystem rights: everything but refer, truncate and ioctl_dev. */
const FS_ABI1 = (1n << 13n) - 1n;
/** Rights that make sense on a single file; adding others to a file rule is EINVAL. */
const FS_FILE_RIGHTS = FS.EXECUTE | FS.WRITE_FILE | FS.READ_FILE | FS.TRUNCATE | FS.IOCTL_DEV;
const FS_READ = FS.EXECUTE | FS.READ_FILE | FS.READ_DIR;

/** Protections that are in force for this plan (already reconciled with the host). */
export type ActiveSet = ReadonlySet<Protection>;

export interface PathGrant {
  path: string;
  isDir: boolean;
  writable: boolean;
  /** Directory rights only (listing; creating and removing entries when writable): the
   * files beneath need rules of their own. Used to keep /proc's process directories out
   * of a grant on an ancestor (plan/proc-grants.ts). */
  dirOnly?: boolean;
  /** chroot: where the sandbox's mount namespace shows it (plan/chroot.ts), for the
   * supervisor's proofs made from the sandbox's root (supervise/grant-proof.ts). */
  inRoot?: string;
}

export interface LandlockPlan {
  handledFs: bigint;
  handledNet: bigint;
  scoped: bigint;
  paths: { path: string; access: bigint }[];
  ports: { port: number; access: bigint }[];
}

export function handledFsRights(active: ActiveSet): bigint {
  if (!active.has("fs")) return 0n;
  let rights = FS_ABI1;
  if (active.has("fs-refer")) rights |= FS.REFER;
  if (active.has("fs-truncate")) rights |= FS.TRUNCATE;
  if (active.has("ioctl-dev")) rights |= FS.IOCTL_DEV;
  return rights;
}

export interface NetGrants {
  /** TCP ports connect() may reach, or "any" when connect is not restricted. */
  connect: readonly number[] | "any";
  /** TCP ports bind() may use, or "any". */
  bind: readonly number[] | "any";
}

/** Rights no grant ever gives back: making character or block device nodes. They stay
 * handled, so Landlock refuses them everywhere; with capabilities dropped mknod of a
 * device needs CAP_MKNOD anyway, and this holds even where the drop could not be made
 * complete. A device node of the host's disk inside a writable tree would be the disk. */
const FS_NEVER = FS.MAKE_CHAR | FS.MAKE_BLOCK;

/**
 * Read grants give execute, read and list; write grants give every handled right but
 * making device nodes, device ioctl included (a device the sandbox may write to, it may
 * also drive). Refer needs the right on both ends, so it is only ever granted inside
 * writable trees.
 */
export function planLandlock(active: ActiveSet, grants: readonly PathGrant[], net: NetGrants): LandlockPlan {
  const handledFs = handledFsRights(active);
  const paths: LandlockPlan["paths"] = [];
  if (handledFs !== 0n) {
    for (const g of grants) {
      let access = (g.writable ? handledFs & ~FS_NEVER : FS_READ) & handledFs;
      if (!g.isDir) access &= FS_FILE_RIGHTS;
      if (g.dirOnly) access &= ~FS_FILE_RIGHTS;
      paths.push({ path: g.path, access });
    }
  }
  let handledNet = 0n;
  const ports: LandlockPlan["ports"] = [];
  if (active.has("net-tcp")) {
    if (net.connect !== "any") {
      handledNet |= NET.CONNECT_TCP;
      for (const p of net.connect) ports.push({ port: p, access: NET.CONNECT_TCP });
    }
    if (net.bind !== "any") {
      handledNet |= NET.BIND_TCP;
      for (const p of net.bind) ports.push({ port: p, access: NET.BIND_TCP });
    }
  }
  const scoped = active.has("scopes") ? SCOPE.ABSTRACT_UNIX_SOCKET | SCOPE.SIGNAL : 0n;
  return { handledFs, handledNet, scoped, paths, ports: mergePorts(ports) };
}

/** One rule per port, with the union of the rights asked for it. */
function mergePorts(ports: LandlockPlan["ports"]): LandlockPlan["ports"] {
  const byPort = new Map<number, bigint>();
  for (const p of ports) byPort.set(p.port, (byPort.get(p.port) ?? 0n) | p.access);
  return [...byPort].sort((a, b) => a[0] - b[0]).map(([port, access]) => ({ port, access }));
}

/** Whether the plan restricts anything at all (no ruleset is created otherwise). */
export function landlockNeeded(p: LandlockPlan): boolean {
  return p.handledFs !== 0n || p.handledNet !== 0n || p.scoped !== 0n;
}
