// Landlock grants that reach only harmless device nodes: a grant containing /dev is split
// so that, of the device nodes in it, only a fixed allowlist gets a rule. Naming another
// device node in fsReadable/fsWritable is the policy author's explicit choice, and kept.

import type { MountEntry } from "../kernel/mounts.js";
import type { PathGrant } from "./landlock.js";
import { HOST_FS, childPath, within, type EntryType, type FsView } from "./proc-grants.js";

/**
 * Device nodes (names in the device tree's root) a grant on the tree still reaches: the
 * data sources and sinks every program may use, the controlling terminal's alias (/dev/tty
 * opens the caller's own terminal, whatever its name), and the pseudo-terminal multiplexer
 * (a new terminal pair the sandbox owns). The fd, stdin, stdout and stderr symlinks need
 * no rule: Landlock checks what they lead to.
 */
export const DEVICE_ALLOWLIST: readonly string[] = ["null", "zero", "full", "random", "urandom", "tty", "ptmx"];

/** Filesystems of device trees: their nodes are the kernel's devices. */
const DEVICE_FS = new Set(["devtmpfs", "devpts"]);

export interface DeviceTrees {
  /** Roots of device trees: /dev, and every other devtmpfs mount. */
  roots: string[];
  /** Mount points inside them of filesystems that hold data, not device nodes (/dev/shm,
   * /dev/mqueue, /dev/hugepages): a grant reaches them as it is. */
  keep: string[];
  /** devpts mount points (/dev/pts): the sandbox's own pseudo-terminals are served by the
   * supervisor (supervise/handlers/dev-pts.ts). */
  devpts: string[];
}

/** The device trees of a mount table; `dev` is the real path of /dev (undefined: none). */
export function deviceTrees(table: readonly MountEntry[], dev: string | undefined): DeviceTrees {
  const top = new Map<string, string>();
  for (const m of table) top.set(m.point, m.fstype);
  const roots = dev === undefined ? [] : [dev];
  for (const [point, fstype] of top) {
    if (fstype === "devtmpfs" && !roots.some((r) => within(point, r))) roots.push(point);
  }
  const inTree = (p: string): boolean => roots.some((r) => p !== r && within(p, r));
  return {
    roots,
    keep: [...top].filter(([p, t]) => inTree(p) && !DEVICE_FS.has(t)).map(([p]) => p),
    devpts: [...top].filter(([, t]) => t === "devpts").map(([p]) => p),
  };
}

/**
 * A pseudo-terminal multiplexer a grant reaches (/dev/ptmx): each open makes a terminal pair
 * out of kernel.pty.max, which every user of the host shares (4,095 in 70 ms starved every
 * user: the twentieth review). It gets no Landlock rule where a supervisor runs: the
 * supervisor makes the opens of `name` itself, counted (supervise/handlers/dev-ptmx.ts).
 */
export interface Multiplexer {
  /** The path the sandbox opens it by (/dev/ptmx). */
  name: string;
  /** The device node itself (name, or where name's symlink leads: /dev/pts/ptmx). */
  node: string;
  /** Reached by a writable grant (opens for writing allowed, as Landlock's rule would). */
  writable: boolean;
}

export interface DeviceGrants {
  grants: PathGrant[];
  /** devpts mounts the grants reach, and whether a writable grant does. */
  pts: { mounts: string[]; writable: boolean } | undefined;
  /** The multiplexers the grants reach, left out of `grants` (see Multiplexer). */
  ptmx: Multiplexer[];
}

/** The Landlock rules that give the multiplexers back (a sandbox without a supervisor,
 * where nothing counts its terminals: the kernel's kernel.pty.max alone bounds them). */
export function multiplexerGrants(ptmx: readonly Multiplexer[]): PathGrant[] {
  const writable = new Map<string, boolean>();
  for (const m of ptmx) writable.set(m.node, (writable.get(m.node) ?? false) || m.writable);
  return [...writable].map(([path, w]) => ({ path, isDir: false, writable: w }));
}


function typeOf(fs: FsView, real: string): EntryType | undefined {
  if (fs.type !== undefined) return fs.type(real);
  const slash = real.lastIndexOf("/");
  const dir = slash <= 0 ? "/" : real.slice(0, slash);
  const name = real.slice(slash + 1);
  try {
    return fs.list(dir, (n) => n === name)[0]?.type;
  } catch {
    return undefined;
  }
}

/**
 * Why: uid 0 holds no capability inside, but it still owns root's device nodes, and their
 * file modes are all the kernel checks on open. Under a grant on /dev (or /) it opened the
 * console (/dev/tty1: keystrokes), /dev/vda (every file of the host's disk, whatever the
 * rules), /dev/loop0, /dev/hwrng, /dev/vcs (the console's screen) (second review of issue
 * 9). Landlock rules only add access, so a directory of a device tree keeps only the right
 * to list it and each entry is looked at: a device node gets a rule only when it is on
 * the allowlist; a FIFO gets none (in /dev, a channel of some host daemon: /dev/initctl,
 * /dev/xconsole); regular files and sockets keep the grant's rights, and so do data
 * filesystems mounted inside (/dev/shm). Subdirectories are split the same way, so a node
 * that appears later (a disk plugged in) has no rule either: closed, not open. A directory
 * of the tree named by a grant (/dev/dri) is split too: a directory is not a choice of the
 * nodes that appear in it; a device node named by a grant keeps its rule.
 *
 * The directories may only be listed, whatever the grant: creating or removing entries
 * there would let the sandbox unlink the host's device nodes (Landlock's directory rights
 * reach everything beneath), and a new node would need MAKE_CHAR/MAKE_BLOCK, never given.
 */
export function limitDevices(grants: readonly PathGrant[], trees: DeviceTrees, fs: FsView = HOST_FS): DeviceGrants {
  const out: PathGrant[] = [];
  const ptmx: Multiplexer[] = [];
  const pts = new Set<string>();
  let ptsWritable = false;
  const reachPts = (real: string, writable: boolean): void => {
    for (const p of trees.devpts) {
      if (within(p, real) || within(real, p)) {
        pts.add(p);
        ptsWritable ||= writable;
      }
    }
  };
  for (const g of grants) {
    if (g.dirOnly || !g.isDir) {
      // A file, a device node included, is exactly what the grant names; a multiplexer
      // named is served as one reached through /dev is.
      const node = g.dirOnly ? undefined : multiplexerAt(g.path, trees, fs);
      if (node !== undefined) ptmx.push({ name: g.path, node, writable: g.writable });
      else out.push(g);
      continue;
    }
    let real: string;
    try {
      real = fs.realpath(g.path);
    } catch {
      out.push(g);
      continue;
    }
    const root = trees.roots.find((r) => within(real, r));
    if (root !== undefined) {
      if (trees.keep.some((k) => within(real, k))) out.push(g);
      else {
        reachPts(real, g.writable);
        splitTree(real, root, g.writable, trees, fs, out, ptmx);
      }
      continue;
    }
    const below = trees.roots.filter((r) => within(r, real));
    if (below.length === 0) {
      out.push(g);
      continue;
    }
    reachPts(real, g.writable);
    splitDown(real, below, g.writable, trees, fs, out, ptmx);
  }
  return { grants: out, pts: pts.size === 0 ? undefined : { mounts: [...pts], writable: ptsWritable }, ptmx };
}

/** The device node a path names when it is a multiplexer of a device tree (ptmx, or a
 * symlink named so that leads to one), else undefined. */
function multiplexerAt(path: string, trees: DeviceTrees, fs: FsView): string | undefined {
  if (!path.endsWith("/ptmx")) return undefined;
  let node: string;
  try {
    node = fs.realpath(path);
  } catch {
    return undefined;
  }
  if (!node.endsWith("/ptmx") || !trees.roots.some((r) => within(node, r)) || typeOf(fs, node) !== "device") return undefined;
  return node;
}

/** The directories above a device tree: listable only, their other entries as granted. */
function splitDown(dir: string, roots: readonly string[], writable: boolean, trees: DeviceTrees, fs: FsView, out: PathGrant[], ptmx: Multiplexer[]): void {
  out.push({ path: dir, isDir: true, writable: false, dirOnly: true });
  for (const e of fs.list(dir, () => true)) {
    const path = childPath(dir, e.name);
    if (e.type === "symlink") continue;
    if (roots.includes(path) && e.type === "dir") {
      splitTree(path, path, writable, trees, fs, out, ptmx);
      continue;
    }
    const deeper = roots.filter((r) => within(r, path));
    if (deeper.length > 0 && e.type === "dir") splitDown(path, deeper, writable, trees, fs, out, ptmx);
    else out.push({ path, isDir: e.type === "dir", writable });
  }
}

/** A directory of a device tree (see limitDevices). */
function splitTree(dir: string, root: string, writable: boolean, trees: DeviceTrees, fs: FsView, out: PathGrant[], ptmx: Multiplexer[]): void {
  out.push({ path: dir, isDir: true, writable: false, dirOnly: true });
  const atRoot = dir === root;
  for (const e of fs.list(dir, () => true)) {
    const path = childPath(dir, e.name);
    const allowed = atRoot && DEVICE_ALLOWLIST.includes(e.name);
    switch (e.type) {
      case "dir":
        if (trees.keep.includes(path)) out.push({ path, isDir: true, writable });
        else splitTree(path, root, writable, trees, fs, out, ptmx);
        break;
      case "device":
        if (allowed && e.name === "ptmx") ptmx.push({ name: path, node: path, writable });
        else if (allowed) out.push({ path, isDir: false, writable });
        break;
      case "symlink": {
        // An allowlisted name that is a link (/dev/ptmx -> pts/ptmx in many containers):
        // the node it leads to, when that is a device node of this tree, gets the rule.
        if (!allowed) break;
        let target: string;
        try {
          target = fs.realpath(path);
        } catch {
          break;
        }
        if (!within(target, root) || typeOf(fs, target) !== "device") break;
        // Served by both names, as the rule on the node reached both.
        if (e.name === "ptmx") ptmx.push({ name: path, node: target, writable }, { name: target, node: target, writable });
        else out.push({ path: target, isDir: false, writable });
        break;
      }
      case "fifo":
        break;
      default:
        out.push({ path, isDir: false, writable });
    }
  }
}
