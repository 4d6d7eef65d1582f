// The default syscall blocklist: one table, each entry with the reason it is blocked. A
// blocked call fails with EPERM. The README's blocklist section is rendered from these
// tables (test/unit/readme.test.ts holds the two together).

import { SYSCALL_GROUPS } from "../kernel/syscall-groups.js";

export interface BlockEntry {
  readonly names: readonly string[];
  /** Set for entries a policy may lift with extraAllowSyscalls. */
  readonly group?: string;
  readonly why: string;
}

export const DEFAULT_BLOCKLIST: readonly BlockEntry[] = Object.freeze([
  { names: ["mount", "umount2", "pivot_root", "chroot"], why: "changing the mount tree or root" },
  { names: SYSCALL_GROUPS.mount_api!, why: "the new mount API" },
  { names: ["listmount", "statmount"], why: "they list the host's mounts (the sandbox's /proc mount files show only the mounts its grants reach)" },
  { names: ["swapon", "swapoff", "reboot", "kexec_load", "kexec_file_load"], why: "administering the machine" },
  { names: ["sethostname", "setdomainname"], why: "host identity" },
  { names: ["settimeofday", "clock_settime", "clock_adjtime", "adjtimex"], why: "setting the system clock" },
  { names: ["init_module", "finit_module", "delete_module"], why: "kernel modules" },
  { names: ["unshare", "setns"], why: "namespaces (see also the clone argument filter)" },
  { names: ["perf_event_open", "bpf", "userfaultfd"], why: "large kernel attack surface, side channels" },
  { names: SYSCALL_GROUPS.keyring!, why: "kernel keyrings are not namespaced per sandbox" },
  { names: ["ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "process_madvise", "kcmp"], why: "reaching into another process" },
  { names: ["open_by_handle_at", "name_to_handle_at"], why: "file handles bypass path-based rules" },
  { names: ["file_setattr"], why: "sets inode flags (append-only, no-dump, project) by path, without the open Landlock checks; chattr uses an ioctl on an opened file instead" },
  { names: ["ioperm", "iopl"], why: "raw I/O port access" },
  { names: ["quotactl", "quotactl_fd", "acct", "lookup_dcookie", "syslog", "vhangup", "nfsservctl", "fanotify_init"], why: "administering the machine" },
  { names: SYSCALL_GROUPS.io_uring!, why: "io_uring performs syscalls that seccomp never sees" },
  { names: ["personality"], why: "execution domains re-enable legacy behaviour (`noRandomizeMemory` is applied by the launcher)" },
  { names: ["lsm_set_self_attr"], why: "relabels the process for the host's LSM; the same through /proc/self/attr needs a writable /proc grant" },
  { names: SYSCALL_GROUPS.sysv_ipc!, group: "sysv_ipc", why: "SysV IPC objects are shared host-wide" },
  { names: SYSCALL_GROUPS.posix_mq!, why: "POSIX message queues are named host-wide, beyond every path rule: a sandbox removed other programs' queues and left its own behind, up to the host's limit of queues" },
]);

/**
 * The syscalls added since Linux 6.8 (listmount's release, when this review began) that
 * stay allowed, each with the reason. Every newer syscall of the table is either here or
 * in DEFAULT_BLOCKLIST (a unit test checks it), and numbers past the table get ENOSYS from
 * the filter (plan/seccomp.ts), so a kernel newer than the table exposes nothing new.
 */
export const REVIEWED_ALLOWED: readonly BlockEntry[] = Object.freeze([
  { names: ["lsm_get_self_attr", "lsm_list_modules"], why: "read the caller's own LSM labels and the list of active LSMs (as /proc/self/attr and /sys/kernel/security/lsm do)" },
  { names: ["mseal"], why: "seals the caller's own mappings" },
  { names: ["uretprobe", "uprobe"], why: "only work from a uprobe trampoline the kernel installed (SIGILL otherwise); the kernel lets them bypass seccomp in any case" },
  { names: ["setxattrat", "getxattrat", "listxattrat", "removexattrat"], why: "the dirfd forms of the xattr calls, which are allowed: same permission checks; with the `fs` protection the two that change attributes are supervised like the others (only beneath a writable grant)" },
  { names: ["file_getattr"], why: "reads inode flags, like stat (which Landlock does not restrict either)" },
]);

/** Names blocked by default, minus lifted groups, plus extra names or groups. */
export function blockedSyscalls(extraDeny: readonly string[], extraAllow: readonly string[]): string[] {
  const out = new Set<string>();
  for (const entry of DEFAULT_BLOCKLIST) {
    if (entry.group !== undefined && extraAllow.includes(entry.group)) continue;
    for (const n of entry.names) out.add(n);
  }
  for (const name of extraDeny) {
    for (const n of SYSCALL_GROUPS[name] ?? [name]) out.add(n);
  }
  return [...out];
}
