// Landlock grants that never make a kernel interface writable: every rule inside sysfs,
// cgroup filesystems and the other kernel-interface filesystems is read-only, as procfs's
// are (plan/proc-grants.ts), and a writable grant naming one is refused; debugfs and
// tracefs get no rule unless a grant names them.

import { PolicyError } from "../errors.js";
import type { MountEntry } from "../kernel/mounts.js";
import type { PathGrant } from "./landlock.js";
import { HOST_FS, childPath, within, type FsView } from "./proc-grants.js";

/**
 * Filesystems whose files are the kernel's settings and controls rather than data. uid 0
 * writes most of them on file mode alone, without any capability (measured as root with
 * every capability dropped: sysfs attributes such as /sys/module/printk/parameters/time
 * and a block queue's read_ahead_kb, and cgroup v1's cgroup.procs, which moves any
 * process of the host into another cgroup, out of its limits). efivarfs holds the
 * firmware's boot variables, tracefs the tracer's controls and every task's events.
 */
export const KERNEL_FS_TYPES: ReadonlySet<string> = new Set([
  "sysfs", "cgroup", "cgroup2", "debugfs", "tracefs", "securityfs", "pstore", "efivarfs", "bpf",
  "configfs", "fusectl", "selinuxfs", "smackfs", "binfmt_misc", "nfsd", "rpc_pipefs", "resctrl", "xenfs",
]);

/** Kernel filesystems no grant reaches unless it names them: debugfs (the kernel's
 * internals, readable by uid 0 on file mode alone) and tracefs (the tracer's buffers:
 * events of every task of the host). Also their usual mount points, which the kernel
 * mounts on first access (an automount) and the mount table may not show yet. */
const HIDDEN_FS_TYPES: ReadonlySet<string> = new Set(["debugfs", "tracefs"]);
const HIDDEN_PATHS = ["/sys/kernel/debug", "/sys/kernel/tracing"];

export interface KernelFs {
  /** Mount points whose rules are read-only (outermost only: one nested in another is
   * covered by its parent's read-only rule), with their filesystem types. */
  readOnly: { point: string; fstype: string }[];
  /** Paths that get no rule from a grant above them. */
  hidden: string[];
}

/** The kernel filesystems of a mount table. The last mount of a point is the one seen. */
export function kernelFs(table: readonly MountEntry[], exists: (path: string) => boolean = () => true): KernelFs {
  const top = new Map<string, string>();
  for (const m of table) top.set(m.point, m.fstype);
  const all = [...top].filter(([, t]) => KERNEL_FS_TYPES.has(t)).map(([point, fstype]) => ({ point, fstype }));
  const hidden = [...top].filter(([, t]) => HIDDEN_FS_TYPES.has(t)).map(([p]) => p);
  for (const p of HIDDEN_PATHS) if (!hidden.includes(p) && exists(p)) hidden.push(p);
  return { readOnly: all.filter((m) => !all.some((o) => o.point !== m.point && within(m.point, o.point))), hidden };
}


/**
 * `grants` are the policy's own (a writable one at or inside a kernel filesystem is the
 * caller's mistake, and says so; a read grant naming a hidden one is its choice, kept).
 * A writable grant above a kernel filesystem, and any grant above a hidden one, is split
 * as procfs's ancestors are: the directories on the way may only be listed (Landlock's
 * rights on a directory reach everything beneath it), every other entry keeps the grant's
 * rights, a kernel filesystem's mount point gets one read-only rule for all of it (mounts
 * nested in it, such as the cgroup hierarchies in /sys/fs/cgroup, included) unless a
 * hidden one is inside it (then it is split the same way, read-only), and a hidden one
 * gets no rule.
 */
export function readOnlyKernelFs(grants: readonly PathGrant[], k: KernelFs, fs: FsView = HOST_FS): PathGrant[] {
  const out: PathGrant[] = [];
  for (const g of grants) {
    if (g.dirOnly) {
      out.push(g);
      continue;
    }
    let real: string;
    try {
      real = fs.realpath(g.path);
    } catch {
      out.push(g);
      continue;
    }
    const inside = k.readOnly.find((m) => within(real, m.point));
    if (g.writable && inside !== undefined) {
      throw new PolicyError(
        "fsWritable",
        g.path,
        `fsWritable: ${JSON.stringify(g.path)} is in ${inside.fstype} (${inside.point}), a kernel interface: never writable from a sandbox (uid 0 without capabilities could change the host's settings or move its processes between cgroups); grant it readable`,
      );
    }
    const readOnly = g.writable ? k.readOnly.map((m) => m.point).filter((p) => within(p, real)) : [];
    const hidden = k.hidden.filter((p) => p !== real && within(p, real) && !k.hidden.some((h) => within(real, h)));
    if (readOnly.length === 0 && hidden.length === 0) {
      out.push(g);
      continue;
    }
    try {
      split(real, g.writable && inside === undefined, readOnly, hidden, fs, out);
    } catch (e) {
      const field = g.writable ? "fsWritable" : "fsReadable";
      const code = (e as NodeJS.ErrnoException).code ?? String(e);
      throw new PolicyError(field, g.path, `${field}: ${JSON.stringify(g.path)} contains kernel interfaces (${[...readOnly, ...hidden].join(", ")}) that must stay read-only or hidden, and its entries cannot be listed to split it (${code}); grant its subdirectories instead`);
    }
  }
  return out;
}

function split(dir: string, writable: boolean, readOnly: readonly string[], hidden: readonly string[], fs: FsView, out: PathGrant[]): void {
  out.push({ path: dir, isDir: true, writable: false, dirOnly: true });
  for (const e of fs.list(dir, () => true)) {
    const path = childPath(dir, e.name);
    if (e.type === "symlink" || hidden.includes(path)) continue; // a link: Landlock checks where it leads
    const w = writable && !readOnly.some((p) => within(path, p));
    const deeper = [...readOnly, ...hidden].some((p) => p !== path && within(p, path));
    if (e.type === "dir" && deeper) split(path, w, readOnly, hidden, fs, out);
    else out.push({ path, isDir: e.type === "dir", writable: w });
  }
}
