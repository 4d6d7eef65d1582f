// The default syscall blocklist: one table, each entry with the reason it is blocked. A
// blocked call fails with EPERM. The README's blocklist section is this table.

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
  { names: ["swapon", "swapoff", "reboot", "kexec_load", "kexec_file_load"], why: "administering the machine" },
  { names: ["sethostname", "setdomainname"], why: "host identity" },
  { names: ["settimeofday", "clock_settime", "clock_adjtime", "adjtimex"], why: "setting the system clock" },
  { names: ["init_module", "finit_module", "delete_module"], why: "kernel modules" },
  { names: ["unshare", "setns"], why: "namespaces (see also the clone argument filter)" },
  { names: ["perf_event_open", "bpf", "userfaultfd"], why: "large kernel attack surface, side channels" },
  { names: SYSCALL_GROUPS.keyring!, why: "kernel keyrings are not namespaced per sandbox" },
  { names: ["ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "process_madvise", "kcmp"], why: "reaching into another process" },
  { names: ["open_by_handle_at", "name_to_handle_at"], why: "file handles bypass path-based rules" },
  { names: ["ioperm", "iopl"], why: "raw I/O port access" },
  { names: ["quotactl", "quotactl_fd", "acct", "lookup_dcookie", "syslog", "vhangup", "nfsservctl", "fanotify_init"], why: "administering the machine" },
  { names: SYSCALL_GROUPS.io_uring!, why: "io_uring performs syscalls that seccomp never sees" },
  { names: ["personality"], why: "execution domains re-enable legacy behaviour (ASLR off is set by the launcher)" },
  { names: SYSCALL_GROUPS.sysv_ipc!, group: "sysv_ipc", why: "SysV IPC objects are shared host-wide" },
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
