// Landlock grants that never make a kernel interface writable: every rule inside sysfs,
// cgroup filesystems and the other kernel-interface filesystems is read-only, as procfs's
// are (plan/proc-grants.ts), and a writable grant naming one is refused.

import { PolicyError } from "../errors.js";
import type { MountEntry } from "../kernel/mounts.js";
import type { PathGrant } from "./landlock.js";
import { HOST_FS, within, type FsView } from "./proc-grants.js";

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

/** The mount points of kernel-interface filesystems, outermost only (one nested in another
 * is covered by its parent's read-only rule). The last mount of a point is the one seen. */
export function kernelFsMounts(table: readonly MountEntry[]): { point: string; fstype: string }[] {
  const top = new Map<string, string>();
  for (const m of table) top.set(m.point, m.fstype);
  const all = [...top].filter(([, t]) => KERNEL_FS_TYPES.has(t)).map(([point, fstype]) => ({ point, fstype }));
  return all.filter((m) => !all.some((o) => o.point !== m.point && within(m.point, o.point)));
}

function join(dir: string, name: string): string {
  return dir === "/" ? `/${name}` : `${dir}/${name}`;
}

/**
 * `grants` are the policy's own (a writable one at or inside a kernel filesystem is the
 * caller's mistake, and says so); `mounts` from kernelFsMounts. A read-only grant stays as
 * it is. A writable grant above a kernel filesystem is split as procfs's ancestors are: the
 * directories on the way may only be listed (Landlock's rights on a directory reach
 * everything beneath it), every other entry keeps the grant's rights, and the kernel
 * filesystem's mount point gets one read-only rule for all of it (mounts nested in it,
 * such as the cgroup hierarchies in /sys/fs/cgroup, included).
 */
export function readOnlyKernelFs(grants: readonly PathGrant[], mounts: readonly { point: string; fstype: string }[], fs: FsView = HOST_FS): PathGrant[] {
  const out: PathGrant[] = [];
  for (const g of grants) {
    if (!g.writable || g.dirOnly) {
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
    const inside = mounts.find((m) => within(real, m.point));
    if (inside !== undefined) {
      throw new PolicyError(
        "fsWritable",
        g.path,
        `fsWritable: ${JSON.stringify(g.path)} is in ${inside.fstype} (${inside.point}), a kernel interface: never writable from a sandbox (uid 0 without capabilities could change the host's settings or move its processes between cgroups); grant it readable`,
      );
    }
    const below = mounts.map((m) => m.point).filter((p) => within(p, real));
    if (below.length === 0) {
      out.push(g);
      continue;
    }
    try {
      split(real, below, fs, out);
    } catch (e) {
      if (e instanceof PolicyError) throw e;
      const code = (e as NodeJS.ErrnoException).code ?? String(e);
      throw new PolicyError("fsWritable", g.path, `fsWritable: ${JSON.stringify(g.path)} contains kernel interfaces (${below.join(", ")}) that must stay read-only, and its entries cannot be listed to split it (${code}); grant its subdirectories instead`);
    }
  }
  return out;
}

function split(dir: string, points: readonly string[], fs: FsView, out: PathGrant[]): void {
  out.push({ path: dir, isDir: true, writable: false, dirOnly: true });
  for (const e of fs.list(dir, () => true)) {
    const path = join(dir, e.name);
    if (e.type === "symlink") continue; // Landlock checks where it leads, under that rule
    if (points.includes(path)) {
      out.push({ path, isDir: e.type === "dir", writable: false });
      continue;
    }
    const deeper = points.filter((p) => within(p, path));
    if (deeper.length > 0 && e.type === "dir") split(path, deeper, fs, out);
    else out.push({ path, isDir: e.type === "dir", writable: true });
  }
}
