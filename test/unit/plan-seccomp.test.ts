// The seccomp program, run through an independent BPF interpreter: the architecture and
// x32 checks, the default blocklist and its lifted group, extra denials, the clone, ioctl,
// prctl and socket argument filters, the verdict of every syscall number, and path length.

import { test } from "node:test";
import assert from "node:assert/strict";
import { SYSCALLS, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT } from "../../src/kernel/syscalls.js";
import { SYSCALL_GROUPS } from "../../src/kernel/syscall-groups.js";
import { DEFAULT_BLOCKLIST, REVIEWED_ALLOWED, blockedSyscalls } from "../../src/plan/blocklist.js";
import { Ret, encodeProgram, type Insn } from "../../src/plan/bpf/assembler.js";
import { CONSOLE_RANGES, CONSOLE_READS } from "../../src/plan/seccomp-console.js";
import {
  AF, CLONE_NAMESPACE_FLAGS, CLONE_UNTRACED, Errno, IOCTL_DENIED, IOCTL_TCXONC, IPPROTO, NETLINK_ROUTE, PRCTL_DENIED, SOCK, buildSeccompProgram,
  type SeccompSpec,
} from "../../src/plan/seccomp.js";
import { REACH_SYSCALLS } from "../../src/plan/seccomp-reach.js";
import { computeFeatures, pipeBudget, threadCap } from "../../src/plan/features.js";
import { pipeUserPagesSoft } from "../../src/kernel/probe.js";
import { Policy, type PolicyInput } from "../../src/policy/index.js";
import { decodeProgram, runFilter, runFilterTrace, type SeccompInput } from "../helpers/bpf-interpreter.js";

// Expected actions, written out rather than taken from src/ (checked against it below).
const ALLOW = 0x7fff0000;
const EPERM = 0x00050001;
const ENOSYS = 0x00050026;
const EOPNOTSUPP = 0x0005005f;
const EAFNOSUPPORT = 0x00050061;
const KILL_PROCESS = 0x80000000;
const X86_64 = 0xc000003e;
const X32 = 0x40000000;
const LAST_NR = 469;

function sys(name: string): number {
  const n = SYSCALLS[name];
  assert.notEqual(n, undefined, `syscall ${name} is not in the table`);
  return n!;
}

function spec(over: Partial<SeccompSpec> = {}): SeccompSpec {
  return { blocked: blockedSyscalls([], []), allowUdp: false, allowPing: false, notify: [], ...over };
}

const DEFAULT = buildSeccompProgram(spec());
const DEFAULT_BYTES = encodeProgram(DEFAULT);

function verdict(prog: Insn[] | Buffer, name: string, args: (number | bigint)[] = []): number {
  return runFilter(prog, { nr: sys(name), args });
}

function hex(n: number): string {
  return `0x${(n >>> 0).toString(16).padStart(8, "0")}`;
}

/** Asserts an action and names the call in the failure message. */
function expectAction(prog: Insn[] | Buffer, input: SeccompInput, want: number, what: string): void {
  const got = runFilter(prog, input);
  assert.equal(hex(got), hex(want), `${what}: got ${hex(got)}, want ${hex(want)}`);
}

function socket(prog: Insn[] | Buffer, domain: number, type: number, protocol: number): number {
  return runFilter(prog, { nr: sys("socket"), args: [domain, type, protocol] });
}

// sendto, sendmsg, sendmmsg and setsockopt: TCP Fast Open and early-connect options are refused in every policy (seccomp-net.ts).
const ARG_FILTERED = new Set(["clone", "clone3", "ioctl", "prctl", "socket", "sendto", "sendmsg", "sendmmsg", "setsockopt", ...REACH_SYSCALLS]);

test("the expected action values match the constants of src/", () => {
  assert.equal(Ret.ALLOW, ALLOW);
  assert.equal(Ret.KILL_PROCESS, KILL_PROCESS);
  assert.equal(Ret.errno(Errno.EPERM), EPERM);
  assert.equal(Ret.errno(Errno.ENOSYS), ENOSYS);
  assert.equal(Ret.errno(Errno.EAFNOSUPPORT), EAFNOSUPPORT);
  assert.equal(AUDIT_ARCH_X86_64, X86_64);
  assert.equal(X32_SYSCALL_BIT, X32);
  assert.equal(CLONE_NAMESPACE_FLAGS, 0x7e020000);
  assert.deepEqual({ ...IOCTL_DENIED }, { TIOCSTI: 0x5412, TIOCLINUX: 0x541c, TIOCSETD: 0x5423, TIOCEXCL: 0x540c });
  assert.deepEqual({ ...PRCTL_DENIED }, { PR_SET_DUMPABLE: 4, PR_SET_SECUREBITS: 28, PR_SET_PTRACER: 0x59616d61 });
  assert.deepEqual({ ...AF }, { UNIX: 1, INET: 2, INET6: 10, NETLINK: 16 });
  assert.equal(SOCK.STREAM, 1);
  assert.equal(SOCK.DGRAM, 2);
  assert.equal(SOCK.RAW, 3);
  assert.equal(IPPROTO.TCP, 6);
  assert.equal(IPPROTO.UDP, 17);
  assert.equal(IPPROTO.ICMP, 1);
  assert.equal(IPPROTO.ICMPV6, 58);
  assert.equal(NETLINK_ROUTE, 0);
});

test("the syscall table has the kernel's numbers for the calls the filter names", () => {
  const known: Record<string, number> = {
    read: 0, write: 1, open: 2, mmap: 9, ioctl: 16, shmget: 29, getpid: 39, socket: 41, clone: 56, fork: 57, vfork: 58,
    execve: 59, msgget: 68, ptrace: 101, personality: 135, prctl: 157, chroot: 161, mount: 165, umount2: 166,
    reboot: 169, init_module: 175, exit_group: 231, openat: 257, unshare: 272, perf_event_open: 298, setns: 308,
    process_vm_readv: 310, kcmp: 312, bpf: 321, userfaultfd: 323, io_uring_setup: 425, open_tree: 428, fsopen: 430,
    clone3: 435, pidfd_getfd: 438, mount_setattr: 442, open_tree_attr: 467, file_setattr: 469,
  };
  for (const [name, n] of Object.entries(known)) assert.equal(SYSCALLS[name], n, name);
  const byNumber = new Map<number, string>();
  for (const [name, n] of Object.entries(SYSCALLS)) {
    assert.ok(Number.isInteger(n) && n >= 0 && n <= LAST_NR, `${name}: ${n}`);
    assert.equal(byNumber.get(n), undefined, `${name} and ${byNumber.get(n)} share number ${n}`);
    byNumber.set(n, name);
  }
});

test("every name of the default blocklist and of the syscall groups is in the syscall table", () => {
  let count = 0;
  for (const entry of DEFAULT_BLOCKLIST) {
    assert.ok(entry.names.length > 0, entry.why);
    assert.ok(entry.why.length > 0);
    for (const name of entry.names) {
      assert.ok(Object.hasOwn(SYSCALLS, name), `blocklist entry "${entry.why}": ${name} is not a syscall`);
      count++;
    }
  }
  assert.ok(count >= 60, `only ${count} blocked names`);
  for (const [group, names] of Object.entries(SYSCALL_GROUPS)) {
    assert.ok(names.length > 0, group);
    for (const name of names) assert.ok(Object.hasOwn(SYSCALLS, name), `group ${group}: ${name} is not a syscall`);
  }
});

test("blockedSyscalls: the default list, a lifted group, extra names and groups", () => {
  const all = DEFAULT_BLOCKLIST.flatMap((e) => e.names);
  assert.deepEqual(new Set(blockedSyscalls([], [])), new Set(all));
  const lifted = new Set(blockedSyscalls([], ["sysv_ipc"]));
  for (const n of SYSCALL_GROUPS.sysv_ipc!) assert.ok(!lifted.has(n), n);
  for (const n of all.filter((n) => !SYSCALL_GROUPS.sysv_ipc!.includes(n))) assert.ok(lifted.has(n), n);
  const extra = new Set(blockedSyscalls(["socket", "getpid"], []));
  assert.ok(extra.has("socket") && extra.has("getpid") && extra.has("mount"));
  // A group name in extraDeny expands to its members, not to a syscall named like the group.
  const viaGroup = blockedSyscalls(["io_uring"], ["sysv_ipc"]);
  assert.ok(!viaGroup.includes("io_uring"));
  assert.ok(viaGroup.includes("io_uring_setup"));
  // Denying a lifted group again blocks it.
  assert.ok(blockedSyscalls(["sysv_ipc"], ["sysv_ipc"]).includes("shmget"));
});

test("every syscall of the default blocklist gets EPERM", () => {
  for (const entry of DEFAULT_BLOCKLIST) {
    for (const name of entry.names) {
      expectAction(DEFAULT, { nr: sys(name) }, EPERM, name);
      expectAction(DEFAULT, { nr: sys(name), args: [1, 2, 3, 4, 5, 6] }, EPERM, `${name} with arguments`);
      expectAction(DEFAULT_BYTES, { nr: sys(name) }, EPERM, `${name} (encoded program)`);
    }
  }
});

test("the sysv_ipc group is allowed once lifted, the rest stays blocked", () => {
  const prog = buildSeccompProgram(spec({ blocked: blockedSyscalls([], ["sysv_ipc"]) }));
  for (const name of SYSCALL_GROUPS.sysv_ipc!) {
    expectAction(prog, { nr: sys(name) }, ALLOW, `${name} lifted`);
    expectAction(DEFAULT, { nr: sys(name) }, EPERM, `${name} by default`);
  }
  for (const name of ["mount", "ptrace", "bpf", "io_uring_setup", "keyctl", "fsopen"]) {
    expectAction(prog, { nr: sys(name) }, EPERM, name);
  }
});

test("extraDeny names and groups are blocked", () => {
  const prog = buildSeccompProgram(spec({ blocked: blockedSyscalls(["getpid", "mount_api", "sysv_ipc", "ioctl"], ["sysv_ipc"]) }));
  expectAction(prog, { nr: sys("getpid") }, EPERM, "getpid");
  for (const name of SYSCALL_GROUPS.mount_api!) expectAction(prog, { nr: sys(name) }, EPERM, name);
  for (const name of SYSCALL_GROUPS.sysv_ipc!) expectAction(prog, { nr: sys(name) }, EPERM, name);
  // A denied name with an argument filter is denied whatever the arguments.
  expectAction(prog, { nr: sys("ioctl"), args: [0, 0x5401] }, EPERM, "ioctl(TCGETS) when ioctl is denied");
  expectAction(prog, { nr: sys("getppid") }, ALLOW, "getppid stays allowed");
  expectAction(prog, { nr: sys("read") }, ALLOW, "read stays allowed");
});

test("an extraDeny of socket overrides the socket argument filter", () => {
  const prog = buildSeccompProgram(spec({ blocked: blockedSyscalls(["socket"], []), allowUdp: true, allowPing: true }));
  assert.equal(socket(prog, AF.UNIX, SOCK.STREAM, 0), EPERM);
  assert.equal(socket(prog, AF.INET, SOCK.STREAM, 0), EPERM);
  assert.equal(socket(prog, AF.INET, SOCK.DGRAM, IPPROTO.UDP), EPERM);
  assert.equal(socket(prog, 17 /* AF_PACKET */, SOCK.RAW, 0), EPERM);
  assert.equal(socket(DEFAULT, AF.UNIX, SOCK.STREAM, 0), ALLOW);
  for (const name of ["clone", "prctl", "clone3"]) {
    const p = buildSeccompProgram(spec({ blocked: [name] }));
    expectAction(p, { nr: sys(name), args: [17] }, EPERM, `${name} denied outright`);
  }
});

test("an unknown syscall name in the blocked list is refused when building", () => {
  assert.throws(() => buildSeccompProgram(spec({ blocked: ["no_such_call"] })), /unknown syscall no_such_call/);
});

test("another architecture is killed, whatever the syscall", () => {
  const archs = [0x40000003 /* i386 */, 0xc00000b7 /* aarch64 */, 0x4000003e /* x86_64 without 64-bit flag */, 0, 0xffffffff];
  for (const arch of archs) {
    for (const nr of [0, 1, 11, 41, 56, 59, 165, 435, X32 | 0]) {
      expectAction(DEFAULT, { nr, arch }, KILL_PROCESS, `arch ${hex(arch)} nr ${nr}`);
      expectAction(DEFAULT_BYTES, { nr, arch }, KILL_PROCESS, `arch ${hex(arch)} nr ${nr} (encoded)`);
    }
  }
});

test("x32 syscall numbers get EPERM", () => {
  for (const name of ["read", "write", "getpid", "execve", "mount", "socket", "clone", "ioctl"]) {
    expectAction(DEFAULT, { nr: (sys(name) | X32) >>> 0 }, EPERM, `x32 ${name}`);
  }
  // x32's own numbers (512 and up) and the top of the range.
  for (const nr of [X32 + 512, X32 + 547, 0x7fffffff, 0x80000000, 0xffffffff]) {
    expectAction(DEFAULT, { nr }, EPERM, `nr ${hex(nr)}`);
  }
  const lifted = buildSeccompProgram(spec({ blocked: [] }));
  expectAction(lifted, { nr: (sys("read") | X32) >>> 0 }, EPERM, "x32 read with an empty blocklist");
});

test("ordinary syscalls are allowed", () => {
  for (const name of ["read", "write", "openat", "mmap", "execve", "execveat", "exit_group", "getpid", "fork", "vfork", "wait4", "futex", "connect", "bind"]) {
    expectAction(DEFAULT, { nr: sys(name), args: [1, 2, 3, 4, 5, 6] }, ALLOW, name);
    expectAction(DEFAULT_BYTES, { nr: sys(name) }, ALLOW, `${name} (encoded)`);
  }
});

test("every syscall added since Linux 6.8 was reviewed: blocked, or allowed with a reason, never both", () => {
  const blocked = new Set(DEFAULT_BLOCKLIST.flatMap((e) => e.names));
  const allowed = new Set(REVIEWED_ALLOWED.flatMap((e) => e.names));
  for (const name of allowed) {
    assert.ok(Object.hasOwn(SYSCALLS, name), `${name} is not a syscall`);
    assert.ok(!blocked.has(name), `${name} is both blocked and reviewed as allowed`);
  }
  // 6.8 brought statmount (457) onwards; 335 and 336 (uretprobe 6.11, uprobe 6.16) fill a gap below.
  const newer = Object.entries(SYSCALLS).filter(([, n]) => n >= sys("statmount") || n === 335 || n === 336);
  assert.equal(newer.length, 15);
  for (const [name] of newer) assert.ok(blocked.has(name) || allowed.has(name), `${name} (Linux 6.8 or later) was not reviewed`);
  for (const name of ["listmount", "statmount", "file_setattr", "lsm_set_self_attr", "open_tree_attr"]) assert.ok(blocked.has(name), name);
});

test("every syscall number 0..469 gets the verdict the blocklist and filters call for", () => {
  const blocked = new Set(blockedSyscalls([], []).map(sys));
  const filtered = new Set([...ARG_FILTERED].map(sys));
  let allowed = 0;
  for (let nr = 0; nr <= LAST_NR; nr++) {
    let want = ALLOW;
    if (blocked.has(nr)) want = EPERM;
    else if (nr === sys("clone3")) want = ENOSYS;
    else if (nr === sys("socket")) want = EAFNOSUPPORT; // socket(0, 0, 0): AF_UNSPEC
    else if (!filtered.has(nr)) allowed++;
    expectAction(DEFAULT, { nr }, want, `nr ${nr}`);
    // Without an argument filter the verdict cannot depend on the arguments.
    if (!filtered.has(nr)) expectAction(DEFAULT, { nr, args: [-1, -1, -1, -1, -1, -1], instructionPointer: -1 }, want, `nr ${nr} with arguments`);
  }
  assert.ok(allowed > 300, `only ${allowed} numbers allowed`);
  // Numbers past the table were never reviewed: ENOSYS, as from an older kernel.
  for (const nr of [LAST_NR + 1, 470, 1000, X32 - 1]) expectAction(DEFAULT, { nr }, ENOSYS, `nr ${nr}`);
  expectAction(buildSeccompProgram(spec({ blocked: [] })), { nr: LAST_NR + 1 }, ENOSYS, "past the table with an empty blocklist");
});

const CLONE = {
  VM: 0x100, FS: 0x200, FILES: 0x400, SIGHAND: 0x800, PARENT_SETTID: 0x100000, THREAD: 0x10000, SYSVSEM: 0x40000,
  SETTLS: 0x80000, CHILD_CLEARTID: 0x200000, CHILD_SETTID: 0x1000000, VFORK: 0x4000, NEWTIME: 0x80,
} as const;
const NAMESPACES: Record<string, number> = {
  NEWNS: 0x20000, NEWCGROUP: 0x02000000, NEWUTS: 0x04000000, NEWIPC: 0x08000000, NEWUSER: 0x10000000,
  NEWPID: 0x20000000, NEWNET: 0x40000000,
};
const SIGCHLD = 17;
const NOTIFY = 0x7fc00000;
const THREAD_FLAGS = CLONE.VM | CLONE.FS | CLONE.FILES | CLONE.SIGHAND | CLONE.THREAD | CLONE.SYSVSEM | CLONE.SETTLS |
  CLONE.PARENT_SETTID | CLONE.CHILD_CLEARTID;

test("clone: namespace flags get EPERM, threads and forks are allowed", () => {
  const clone = (flags: number | bigint): number => verdict(DEFAULT, "clone", [flags, 0, 0, 0, 0]);
  for (const [name, flag] of Object.entries(NAMESPACES)) {
    assert.equal(clone(flag), EPERM, `CLONE_${name}`);
    assert.equal(clone(flag | SIGCHLD), EPERM, `CLONE_${name}|SIGCHLD`);
    assert.equal(clone((flag | THREAD_FLAGS) >>> 0), EPERM, `CLONE_${name} with thread flags`);
  }
  assert.equal(clone(0x7e020000 | SIGCHLD), EPERM, "every namespace flag");
  // A child the launcher's tracer would not attach (timeStart, policyFn's exec check).
  assert.equal(CLONE_UNTRACED, 0x00800000);
  assert.equal(clone(CLONE_UNTRACED | SIGCHLD), EPERM, "CLONE_UNTRACED");
  assert.equal(clone(CLONE_UNTRACED | CLONE.VM | CLONE.VFORK | SIGCHLD), EPERM, "CLONE_UNTRACED with vfork");
  assert.equal(clone(THREAD_FLAGS), ALLOW, "pthread_create's flags");
  assert.equal(clone(SIGCHLD), ALLOW, "fork");
  assert.equal(clone(CLONE.CHILD_SETTID | CLONE.CHILD_CLEARTID | SIGCHLD), ALLOW, "glibc fork");
  assert.equal(clone(CLONE.VM | CLONE.VFORK | SIGCHLD), ALLOW, "vfork-style (posix_spawn)");
  assert.equal(clone(0), ALLOW, "no flags");
  // CLONE_NEWTIME's bit is part of the exit signal in clone(2).
  assert.equal(clone(CLONE.NEWTIME), ALLOW, "signal 0x80");
});

test("clone: high 32 bits of the flags do not change the verdict of the low bits", () => {
  const clone = (flags: bigint): number => verdict(DEFAULT, "clone", [flags]);
  for (const high of [1n, 0x80000000n, 0xffffffffn, 0x7e020000n]) {
    assert.equal(clone((high << 32n) | BigInt(SIGCHLD)), ALLOW, `fork with high ${high.toString(16)}`);
    assert.equal(clone((high << 32n) | BigInt(THREAD_FLAGS)), ALLOW, `thread with high ${high.toString(16)}`);
    for (const [name, flag] of Object.entries(NAMESPACES)) {
      assert.equal(clone((high << 32n) | BigInt(flag)), EPERM, `CLONE_${name} with high ${high.toString(16)}`);
    }
  }
});

test("with process counting, clone that makes a process goes to the supervisor, threads never", () => {
  const prog = buildSeccompProgram(spec({ notify: ["clone", "fork", "vfork"] }));
  const clone = (flags: number): number => verdict(prog, "clone", [flags]);
  assert.equal(clone(SIGCHLD), NOTIFY, "fork");
  assert.equal(clone(CLONE.CHILD_SETTID | CLONE.CHILD_CLEARTID | SIGCHLD), NOTIFY, "glibc fork");
  assert.equal(clone(CLONE.VM | CLONE.VFORK | SIGCHLD), NOTIFY, "vfork-style (posix_spawn)");
  assert.equal(clone(THREAD_FLAGS), ALLOW, "pthread_create's flags");
  assert.equal(clone(NAMESPACES.NEWUSER! | SIGCHLD), EPERM, "namespaces are refused before counting");
  assert.equal(verdict(prog, "fork"), NOTIFY);
  assert.equal(verdict(prog, "vfork"), NOTIFY);
  assert.equal(verdict(prog, "getpid"), ALLOW);
  // Without supervision nothing is ever routed to a listener.
  for (let nr = 0; nr <= LAST_NR; nr++) assert.notEqual(runFilter(DEFAULT, { nr, args: [SIGCHLD] }), NOTIFY, `nr ${nr}`);
});

test("with the thread cap or the memory cap, clone that makes a thread goes to the supervisor too", () => {
  const both = buildSeccompProgram(spec({ notify: ["clone", "fork", "vfork"], notifyThreads: true }));
  assert.equal(verdict(both, "clone", [THREAD_FLAGS]), NOTIFY, "pthread_create's flags");
  assert.equal(verdict(both, "clone", [SIGCHLD]), NOTIFY, "fork");
  assert.equal(verdict(both, "clone", [(THREAD_FLAGS | NAMESPACES.NEWNET!) >>> 0]), EPERM, "namespaces are refused first");
  // Memory cap without a process count: only threads are routed.
  const threadsOnly = buildSeccompProgram(spec({ notify: ["mmap"], notifyThreads: true }));
  assert.equal(verdict(threadsOnly, "clone", [THREAD_FLAGS]), NOTIFY, "pthread_create's flags");
  assert.equal(verdict(threadsOnly, "clone", [SIGCHLD]), ALLOW, "fork");
  assert.equal(verdict(threadsOnly, "clone", [NAMESPACES.NEWUSER! | SIGCHLD]), EPERM);
});

test("the thread cap is 64 per allowed process, at least 256, and every policy routes threads", () => {
  assert.equal(threadCap(1), 256);
  assert.equal(threadCap(4), 256);
  assert.equal(threadCap(8), 512);
  assert.equal(threadCap(64), 4096);
  const f = computeFeatures(new Policy({}), { landlockAbi: 7, cpuCount: 2 });
  assert.equal(f.supervision.maxThreads, 4096, "from the default maxProcesses 64");
  assert.equal(f.seccomp.notifyThreads, true);
});

test("shmget goes to the supervisor only under maxMemory with sysv_ipc lifted (segments are charged)", () => {
  const host = { landlockAbi: 7, cpuCount: 2 };
  const notify = (input: object): readonly string[] => computeFeatures(new Policy(input), host).seccomp.notify;
  assert.ok(notify({ maxMemory: "64M", extraAllowSyscalls: ["sysv_ipc"] }).includes("shmget"));
  assert.ok(!notify({ maxMemory: "64M" }).includes("shmget"), "blocked: EPERM in the filter");
  assert.ok(!notify({ extraAllowSyscalls: ["sysv_ipc"] }).includes("shmget"), "no memory cap");
  assert.equal(computeFeatures(new Policy({ maxMemory: "64M" }), host).seccomp.capBuffers, true);
  assert.equal(computeFeatures(new Policy({}), host).seccomp.capBuffers, false);
});

test("clone3 gets ENOSYS so that libc falls back to clone", () => {
  for (const args of [[], [0, 88], [0x10000000, 88], [-1, -1]]) {
    assert.equal(verdict(DEFAULT, "clone3", args), ENOSYS);
  }
  assert.equal(runFilter(DEFAULT_BYTES, { nr: sys("clone3") }), ENOSYS);
});

test("ioctl: TIOCSTI, TIOCLINUX, TIOCSETD and TIOCEXCL get EPERM, also with high bits; TCGETS, FIONREAD, TIOCGETD and TIOCNXCL are allowed", () => {
  const ioctl = (req: number | bigint, fd: number = 0): number => verdict(DEFAULT, "ioctl", [fd, req, 0]);
  for (const req of [0x5412, 0x541c, 0x5423, 0x540c]) {
    assert.equal(ioctl(req), EPERM, hex(req));
    assert.equal(ioctl(req, 1), EPERM, `${hex(req)} on fd 1`);
    for (const high of [1n, 0xffffffffn, 0x80000000n]) {
      assert.equal(ioctl((high << 32n) | BigInt(req)), EPERM, `${hex(req)} with high ${high.toString(16)}`);
    }
  }
  for (const req of [0x5401 /* TCGETS */, 0x541b /* FIONREAD */, 0x5413 /* TIOCGWINSZ */, 0x5424 /* TIOCGETD */, 0x540d /* TIOCNXCL */, 0x5411, 0x541d, 0x5412 + 0x10000, 0]) {
    assert.equal(ioctl(req), ALLOW, hex(req));
  }
  assert.equal(ioctl((1n << 32n) | 0x5401n), ALLOW, "TCGETS with high bits");
});

test("prctl: PR_SET_THP_DISABLE is refused only under noHugePages (it would turn huge pages back on)", () => {
  const withThp = buildSeccompProgram(spec({ keepThpDisabled: true }));
  assert.equal(runFilter(withThp, { nr: sys("prctl"), args: [41, 0] }), EPERM);
  assert.equal(runFilter(DEFAULT_BYTES, { nr: sys("prctl"), args: [41, 0] }), ALLOW, "control: without noHugePages");
  assert.equal(runFilter(withThp, { nr: sys("prctl"), args: [4, 1] }), EPERM, "PR_SET_DUMPABLE still");
  assert.equal(runFilter(withThp, { nr: sys("prctl"), args: [15, 0] }), ALLOW, "PR_SET_NAME");
});

test("ioctl: the namespace files' requests (type 0xb7) get EPERM; a request of another type with the same number does not", () => {
  const ioctl = (req: number | bigint): number => verdict(DEFAULT, "ioctl", [3, req, 0x1000]);
  for (const req of [0xb701 /* NS_GET_USERNS */, 0xb702 /* NS_GET_PARENT */, 0x8010b70a /* NS_MNT_GET_INFO */, 0x8010b70b /* NS_MNT_GET_NEXT */]) {
    assert.equal(ioctl(req), EPERM, hex(req));
  }
  assert.equal(ioctl(0xb601), ALLOW, "another type");
  assert.equal(ioctl(0x541b), ALLOW, "FIONREAD");
});

test("with the filesystem protection: renameat2(RENAME_WHITEOUT) EPERM and fcntl(F_NOTIFY) EINVAL, before any other route; other flags and commands pass", () => {
  const fs = buildSeccompProgram(spec({ fsGuards: true, capBuffers: true }));
  const EINVAL = 0x00050016;
  assert.equal(runFilter(fs, { nr: sys("renameat2"), args: [-100, 0x1000, -100, 0x2000, 4] }), EPERM, "RENAME_WHITEOUT");
  assert.equal(runFilter(fs, { nr: sys("renameat2"), args: [-100, 0x1000, -100, 0x2000, 4 | 1] }), EPERM, "with NOREPLACE");
  assert.equal(runFilter(fs, { nr: sys("renameat2"), args: [-100, 0x1000, -100, 0x2000, 2] }), ALLOW, "RENAME_EXCHANGE");
  assert.equal(runFilter(fs, { nr: sys("fcntl"), args: [3, 1026, 0x80000001] }), EINVAL, "F_NOTIFY");
  assert.equal(runFilter(fs, { nr: sys("fcntl"), args: [3, 1, 0] }), ALLOW, "F_GETFD");
  // capBuffers' own fcntl route still answers after the wrap: F_OFD_SETLK EINVAL.
  assert.equal(runFilter(fs, { nr: sys("fcntl"), args: [3, 37, 0x1000] }), EINVAL, "F_OFD_SETLK (capBuffers)");
  assert.equal(runFilter(DEFAULT_BYTES, { nr: sys("fcntl"), args: [3, 1026, 1] }), ALLOW, "control: without the protection");
});

test("ioctl: FS_IOC_GETFSMAP (the whole filesystem's extents) gets EOPNOTSUPP, also with high bits", () => {
  const ioctl = (req: number | bigint): number => verdict(DEFAULT, "ioctl", [3, req, 0x1000]);
  assert.equal(ioctl(0xc0c0583b), EOPNOTSUPP);
  assert.equal(ioctl((1n << 32n) | 0xc0c0583bn), EOPNOTSUPP, "high bits");
  assert.equal(ioctl(0xc0c0583a), ALLOW, "a neighbour");
});

test("ioctl: TCXONC with TCOOFF (suspending a terminal's output) gets EPERM, with any high bits of the request or the argument; TCOON, TCIOFF, TCION are allowed", () => {
  const tcxonc = (req: number | bigint, arg: number | bigint): number => verdict(DEFAULT, "ioctl", [0, req, arg]);
  assert.deepEqual({ ...IOCTL_TCXONC }, { request: 0x540a, TCOOFF: 0 });
  assert.equal(tcxonc(0x540a, 0), EPERM, "TCOOFF");
  assert.equal(tcxonc((1n << 32n) | 0x540an, 0), EPERM, "TCOOFF, request with high bits");
  // The kernel compares the whole argument: a non-zero high half is not TCOOFF there (EINVAL),
  // and refused here all the same.
  assert.equal(tcxonc(0x540a, 1n << 32n), EPERM, "argument with high bits");
  for (const arg of [1 /* TCOON */, 2 /* TCIOFF */, 3 /* TCION */]) assert.equal(tcxonc(0x540a, arg), ALLOW, String(arg));
  assert.equal(tcxonc(0x5401 /* TCGETS */, 0), ALLOW, "another request with argument 0");
});

test("ioctl: the console's requests that change something get EPERM (with high bits too), those that read are allowed, neighbours and new-style 'V' requests untouched", () => {
  const ioctl = (req: number | bigint): number => verdict(DEFAULT, "ioctl", [0, req, 0]);
  assert.deepEqual(CONSOLE_RANGES, { kd: [0x4b00, 0x4c00], vt: [0x5600, 0x5700] });
  const setters = [0x4b2f /* KIOCSOUND */, 0x4b32 /* KDSETLED */, 0x4b3a /* KDSETMODE */, 0x4b41 /* PIO_SCRNMAP */, 0x4b45 /* KDSKBMODE */, 0x4b47 /* KDSKBENT */, 0x4b49 /* KDSKBSENT */, 0x4b4b /* KDSKBDIACR */, 0x4b61 /* PIO_FONT */, 0x4b63 /* KDSKBMETA */, 0x4b65 /* KDSKBLED */, 0x4b67 /* PIO_UNIMAP */, 0x4b6d /* PIO_FONTRESET */, 0x4b71 /* PIO_CMAP */, 0x4b72 /* KDFONTOP */, 0x4bfb /* KDSKBDIACRUC */, 0x4b00, 0x4bff, 0x5602 /* VT_SETMODE */, 0x5605 /* VT_RELDISP */, 0x5606 /* VT_ACTIVATE */, 0x5608 /* VT_DISALLOCATE */, 0x5609 /* VT_RESIZE */, 0x560f /* VT_SETACTIVATE */, 0x5600 + 0xff];
  for (const req of setters) {
    assert.equal(ioctl(req), EPERM, hex(req));
    assert.equal(ioctl((1n << 32n) | BigInt(req)), EPERM, `${hex(req)} with high bits`);
  }
  for (const req of CONSOLE_READS) assert.equal(ioctl(req), ALLOW, hex(req));
  assert.ok(CONSOLE_READS.includes(0x4b33) && CONSOLE_READS.includes(0x5603), "KDGKBTYPE and VT_GETSTATE read");
  for (const req of [0x4aff, 0x4c00, 0x55ff, 0x5700, 0xc0585609 /* VIDIOC_QUERYBUF-like: new style, 'V' */, 0x80045600]) assert.equal(ioctl(req), ALLOW, hex(req));
});

test("prctl: DUMPABLE, SECUREBITS and PTRACER get EPERM; PR_SET_NAME is allowed", () => {
  const prctl = (option: number | bigint, arg = 0): number => verdict(DEFAULT, "prctl", [option, arg]);
  for (const option of [4, 28, 0x59616d61]) {
    assert.equal(prctl(option), EPERM, hex(option));
    assert.equal(prctl(option, 1), EPERM, `${hex(option)}, 1`);
  }
  for (const option of [15 /* SET_NAME */, 16 /* GET_NAME */, 3 /* GET_DUMPABLE */, 27 /* GET_SECUREBITS */, 1 /* SET_PDEATHSIG */, 38 /* NO_NEW_PRIVS */, 0]) {
    assert.equal(prctl(option), ALLOW, String(option));
  }
});

const NONBLOCK_CLOEXEC = 0x800 | 0x80000;

test("socket: AF_UNIX of any type is allowed", () => {
  for (const type of [1, 2, 3, 5, 1 | NONBLOCK_CLOEXEC, 2 | NONBLOCK_CLOEXEC]) {
    for (const protocol of [0, 1, 6, 17]) assert.equal(socket(DEFAULT, AF.UNIX, type, protocol), ALLOW, `AF_UNIX type ${type} proto ${protocol}`);
  }
});

test("socket: TCP streams are allowed, other stream protocols are not", () => {
  for (const family of [AF.INET, AF.INET6]) {
    for (const flags of [0, 0x800, 0x80000, NONBLOCK_CLOEXEC]) {
      assert.equal(socket(DEFAULT, family, SOCK.STREAM | flags, 0), ALLOW, `family ${family} flags ${hex(flags)} proto 0`);
      assert.equal(socket(DEFAULT, family, SOCK.STREAM | flags, 6), ALLOW, `family ${family} flags ${hex(flags)} proto 6`);
      assert.equal(socket(DEFAULT, family, SOCK.STREAM | flags, 262), EPERM, `MPTCP, family ${family} flags ${hex(flags)}`);
      assert.equal(socket(DEFAULT, family, SOCK.STREAM | flags, 132), EPERM, `SCTP, family ${family} flags ${hex(flags)}`);
    }
    assert.equal(socket(DEFAULT, family, SOCK.STREAM, 17), EPERM, "stream with UDP protocol");
  }
});

test("socket: raw sockets are refused for every protocol, whatever the rules", () => {
  for (const s of [spec(), spec({ allowUdp: true, allowPing: true })]) {
    const prog = buildSeccompProgram(s);
    for (const family of [AF.INET, AF.INET6]) {
      for (const protocol of [0, 1, 6, 17, 58, 255, 256]) {
        assert.equal(socket(prog, family, SOCK.RAW, protocol), EPERM, `raw family ${family} proto ${protocol}`);
        assert.equal(socket(prog, family, SOCK.RAW | NONBLOCK_CLOEXEC, protocol), EPERM);
      }
      // SEQPACKET, RDM, and (AF_INET, SOCK_PACKET), which the kernel turns into AF_PACKET.
      for (const type of [4, 5, 10]) assert.equal(socket(prog, family, type, 0), EPERM, `type ${type}`);
    }
  }
});

test("socket: datagrams follow allowUdp and allowPing", () => {
  const cases: [Partial<SeccompSpec>, Record<number, number>][] = [
    [{}, { 0: EPERM, 17: EPERM, 1: EPERM, 58: EPERM }],
    [{ allowUdp: true }, { 0: ALLOW, 17: ALLOW, 1: EPERM, 58: EPERM }],
    [{ allowPing: true }, { 0: EPERM, 17: EPERM, 1: ALLOW, 58: ALLOW }],
    [{ allowUdp: true, allowPing: true }, { 0: ALLOW, 17: ALLOW, 1: ALLOW, 58: ALLOW }],
  ];
  for (const [over, want] of cases) {
    const prog = buildSeccompProgram(spec(over));
    for (const family of [AF.INET, AF.INET6]) {
      for (const flags of [0, NONBLOCK_CLOEXEC]) {
        for (const [protocol, action] of Object.entries(want)) {
          assert.equal(hex(socket(prog, family, SOCK.DGRAM | flags, Number(protocol))), hex(action), `${JSON.stringify(over)} family ${family} dgram proto ${protocol}`);
        }
        // Other datagram protocols (UDP-Lite 136, 6) are never allowed.
        assert.equal(socket(prog, family, SOCK.DGRAM | flags, 136), EPERM);
        assert.equal(socket(prog, family, SOCK.DGRAM | flags, 6), EPERM);
      }
      // Streams are unaffected by the datagram rules.
      assert.equal(socket(prog, family, SOCK.STREAM, 6), ALLOW);
      assert.equal(socket(prog, family, SOCK.STREAM, 262), EPERM);
    }
  }
});

test("socket: netlink only for NETLINK_ROUTE; other families get EAFNOSUPPORT", () => {
  for (const type of [3, 2, 3 | NONBLOCK_CLOEXEC]) assert.equal(socket(DEFAULT, AF.NETLINK, type, 0), ALLOW, `route type ${type}`);
  for (const protocol of [9 /* audit */, 16 /* generic */, 4 /* sock_diag */, 15 /* kobject_uevent */, 12 /* netfilter */]) {
    assert.equal(socket(DEFAULT, AF.NETLINK, 3, protocol), EAFNOSUPPORT, `netlink ${protocol}`);
  }
  for (const family of [0, 17 /* PACKET */, 31 /* BLUETOOTH */, 40 /* VSOCK */, 38 /* ALG */, 15 /* KEY */, 4 /* IPX */, 44 /* XDP */, 3, 5, 46, 0xffff]) {
    for (const type of [1, 2, 3]) assert.equal(socket(DEFAULT, family, type, 0), EAFNOSUPPORT, `family ${family} type ${type}`);
  }
  // The family is an int: high bits of the register cannot turn another family into AF_UNIX.
  assert.equal(socket(DEFAULT, Number((1n << 32n) | 1n), 1, 0), ALLOW);
});

test("socket: the verdicts are the same through the encoded program", () => {
  const triples: [number, number, number][] = [
    [AF.UNIX, 1, 0], [AF.INET, 1, 6], [AF.INET6, 1 | NONBLOCK_CLOEXEC, 0], [AF.INET, 2, 17], [AF.INET, 3, 1],
    [AF.NETLINK, 3, 0], [AF.NETLINK, 3, 9], [17, 3, 0],
  ];
  for (const [d, t, p] of triples) assert.equal(socket(DEFAULT_BYTES, d, t, p), socket(DEFAULT, d, t, p));
});

/** Arguments that drive every branch of the argument filters. */
const ARG_VECTORS: (number | bigint)[][] = [
  [],
  [-1, -1, -1, -1, -1, -1],
  ...Object.values(NAMESPACES).map((f) => [f]),
  [THREAD_FLAGS], [SIGCHLD],
  ...[0x5412, 0x541c, 0x5401, 0x541b].map((r) => [0, r]),
  ...[4, 28, 0x59616d61, 15].map((o) => [o]),
  ...[0, 1, 2, 10, 16, 17, 31, 40].flatMap((d) => [1, 2, 3, 5].flatMap((t) => [0, 1, 6, 9, 17, 58, 132, 262].map((p) => [d, t, p]))),
];

test("the longest path through the filter stays short for every syscall number", () => {
  const programs = [
    DEFAULT,
    buildSeccompProgram(spec({ allowUdp: true, allowPing: true })),
    buildSeccompProgram(spec({ blocked: blockedSyscalls(["mount_api", "socket", "getpid", "kill", "tgkill", "mmap"], ["sysv_ipc"]) })),
  ];
  for (const prog of programs) {
    let longest = { steps: 0, nr: -1, args: [] as (number | bigint)[] };
    for (let nr = 0; nr <= LAST_NR; nr++) {
      for (const args of ARG_VECTORS) {
        const { steps } = runFilterTrace(prog, { nr, args });
        if (steps > longest.steps) longest = { steps, nr, args };
      }
    }
    for (const nr of [X32, X32 | 1, 0xffffffff]) longest.steps = Math.max(longest.steps, runFilterTrace(prog, { nr }).steps);
    assert.ok(longest.steps < 40, `longest path ${longest.steps} instructions (nr ${longest.nr}, args ${longest.args.join(",")})`);
    // A syscall with no handler never reads an argument: the action cache can skip it.
    const read = runFilterTrace(prog, { nr: sys("read") });
    assert.ok(read.steps < 20, `read takes ${read.steps} instructions`);
  }
});

test("a syscall without a handler never loads an argument (the kernel can cache its verdict)", () => {
  const filtered = new Set([...ARG_FILTERED].map(sys));
  for (let nr = 0; nr <= LAST_NR; nr++) {
    if (filtered.has(nr)) continue;
    const { path } = runFilterTrace(DEFAULT, { nr });
    for (const pc of path) {
      const ins = DEFAULT[pc]!;
      if (ins.code === 0x20) assert.ok(ins.k === 0 || ins.k === 4, `nr ${nr} loads offset ${ins.k} at ${pc}`);
    }
  }
});

test("encodeProgram writes {u16 code, u8 jt, u8 jf, u32 k} little-endian, 8 bytes each", () => {
  assert.equal(DEFAULT_BYTES.length, DEFAULT.length * 8);
  assert.deepEqual(decodeProgram(DEFAULT_BYTES), DEFAULT.map((i) => ({ code: i.code, jt: i.jt, jf: i.jf, k: i.k >>> 0 })));
  const sample: Insn[] = [
    { code: 0x0020, jt: 0, jf: 0, k: 4 },
    { code: 0x0015, jt: 0xfe, jf: 0x01, k: 0xc000003e },
    { code: 0x1234, jt: 0xff, jf: 0x7f, k: 0x80000000 },
    { code: 0x0006, jt: 0, jf: 0, k: 0x7fff0000 },
  ];
  const bytes = encodeProgram(sample);
  assert.equal(
    bytes.toString("hex"),
    "2000" + "00" + "00" + "04000000" +
      "1500" + "fe" + "01" + "3e0000c0" +
      "3412" + "ff" + "7f" + "00000080" +
      "0600" + "00" + "00" + "0000ff7f",
  );
  assert.equal(encodeProgram([]).length, 0);
});

test("the program starts with the architecture check and the x32 refusal", () => {
  const first = DEFAULT.slice(0, 6).map((i) => [i.code, i.jt, i.jf, i.k >>> 0]);
  assert.deepEqual(first, [
    [0x20, 0, 0, 4],
    [0x15, 1, 0, X86_64],
    [0x06, 0, 0, KILL_PROCESS],
    [0x20, 0, 0, 0],
    [0x35, 0, 1, X32],
    [0x06, 0, 0, EPERM],
  ]);
  assert.ok(DEFAULT.length <= 4096);
});

test("protectedFiles by the supervisor: open and openat go to it only with a write flag in the flags register (high bits ignored, as the kernel truncates), openat2 is ENOSYS, the name calls go whole; a policy routing opens whole keeps its route", () => {
  const host = { landlockAbi: 7, cpuCount: 2 };
  const f = computeFeatures(new Policy({ fsReadable: ["/usr"], fsWritable: ["/tmp"], protectedFiles: true }), host);
  assert.equal(f.seccomp.names, true);
  assert.equal(f.protect, undefined, "no read-only binds: the supervisor holds");
  const prog = buildSeccompProgram(f.seccomp);
  const NOTIF = Ret.USER_NOTIF;
  for (const [flags, want] of [[0, ALLOW], [0o2000000 /* O_CLOEXEC */, ALLOW], [0o200000 /* O_DIRECTORY */, ALLOW], [1, NOTIF], [2, NOTIF], [3, NOTIF], [0o100, NOTIF], [0o1000, NOTIF], [0o20200000 /* O_TMPFILE */, NOTIF], [0x100000000 /* a high bit only */, ALLOW]] as const) {
    expectAction(prog, { nr: sys("open"), args: [0, flags] }, want, `open flags ${flags.toString(8)}`);
    expectAction(prog, { nr: sys("openat"), args: [-100, 0, flags] }, want, `openat flags ${flags.toString(8)}`);
  }
  expectAction(prog, { nr: sys("openat2"), args: [] }, ENOSYS, "openat2");
  for (const name of ["mkdir", "mkdirat", "mknodat", "symlinkat", "linkat", "renameat2", "unlinkat", "rmdir", "truncate", "creat"]) expectAction(prog, { nr: sys(name), args: [] }, NOTIF, name);
  const off = buildSeccompProgram(computeFeatures(new Policy({ fsReadable: ["/usr"], fsWritable: ["/tmp"] }), host).seccomp);
  expectAction(off, { nr: sys("openat"), args: [-100, 0, 1] }, ALLOW, "control: no protectedFiles, a write open stays in the kernel");
  expectAction(off, { nr: sys("mkdir"), args: [] }, ALLOW, "control: mkdir");
  // With /proc granted the supervised view routes opens whole: they stay routed whole.
  const view = buildSeccompProgram(computeFeatures(new Policy({ fsReadable: ["/usr", "/proc"], fsWritable: ["/tmp"], protectedFiles: true, procView: "supervised" }), host).seccomp);
  expectAction(view, { nr: sys("openat"), args: [-100, 0, 0] }, NOTIF, "openat routed whole by the /proc view");
});

test("no set-id create (eighth review): open, openat (with O_CREAT or O_TMPFILE), creat, mknod and mknodat get EPERM for a mode with set-user-ID or set-group-ID, before any other route; other modes and opens that create nothing keep theirs", () => {
  const host = { landlockAbi: 7, cpuCount: 2 };
  const plain = computeFeatures(new Policy({ fsReadable: ["/usr"], fsWritable: ["/tmp"] }), host);
  assert.equal(plain.seccomp.fsGuards, true, "set wherever the filesystem protection holds");
  const NOTIF = Ret.USER_NOTIF;
  const O_CREAT = 0o100, O_TMPFILE = 0o20200000, O_WRONLY = 1;
  const cases = (prog: Insn[], createAllowed: number, what: string): void => {
    for (const [flags, mode, want] of [
      [O_CREAT | O_WRONLY, 0o4755, EPERM], [O_CREAT | O_WRONLY, 0o2755, EPERM], [O_CREAT | O_WRONLY, 0o6755, EPERM], [O_TMPFILE | O_WRONLY, 0o4755, EPERM],
      [O_CREAT | O_WRONLY, 0o755, createAllowed], [O_CREAT | O_WRONLY, 0o1777, createAllowed],
      [0, 0o4755, ALLOW] /* no create: the kernel ignores the mode */, [O_CREAT | O_WRONLY, 0x100000000 + 0o755, createAllowed] /* high bits: the kernel truncates */,
    ] as const) {
      expectAction(prog, { nr: sys("open"), args: [0, flags, mode] }, want, `${what}: open ${flags.toString(8)} ${mode.toString(8)}`);
      expectAction(prog, { nr: sys("openat"), args: [-100, 0, flags, mode] }, want, `${what}: openat ${flags.toString(8)} ${mode.toString(8)}`);
    }
    for (const [mode, want] of [[0o4755, EPERM], [0o2700, EPERM], [0o644, createAllowed]] as const) {
      expectAction(prog, { nr: sys("creat"), args: [0, mode] }, want, `${what}: creat ${mode.toString(8)}`);
      expectAction(prog, { nr: sys("mknod"), args: [0, 0o100000 | mode, 0] }, want, `${what}: mknod ${mode.toString(8)}`);
      expectAction(prog, { nr: sys("mknodat"), args: [-100, 0, 0o10000 | mode, 0] }, want, `${what}: mknodat fifo ${mode.toString(8)}`);
    }
  };
  cases(buildSeccompProgram(plain.seccomp), ALLOW, "plain");
  // protectedFiles routes creates to the supervisor: the mode's check comes first.
  const names = buildSeccompProgram(computeFeatures(new Policy({ fsReadable: ["/usr"], fsWritable: ["/tmp"], protectedFiles: true }), host).seccomp);
  cases(names, NOTIF, "protectedFiles");
  // The supervised /proc view routes opens whole: a set-id create never reaches it.
  const view = buildSeccompProgram(computeFeatures(new Policy({ fsReadable: ["/usr", "/proc"], fsWritable: ["/tmp"], procView: "supervised" }), host).seccomp);
  expectAction(view, { nr: sys("openat"), args: [-100, 0, O_CREAT, 0o4755] }, EPERM, "the /proc view: set-id create");
  expectAction(view, { nr: sys("openat"), args: [-100, 0, O_CREAT, 0o644] }, NOTIF, "the /proc view: its route stays");
  expectAction(view, { nr: sys("openat"), args: [-100, 0, 0, 0] }, NOTIF, "the /proc view: a read open stays routed");
  // An extraDenySyscalls entry still overrides: the blocklist comes last.
  const denied = buildSeccompProgram(computeFeatures(new Policy({ fsReadable: ["/usr"], fsWritable: ["/tmp"], extraDenySyscalls: ["creat"] }), host).seccomp);
  expectAction(denied, { nr: sys("creat"), args: [0, 0o644] }, EPERM, "creat denied by name");
  // Control: a filter without it lets the same create through.
  expectAction(DEFAULT, { nr: sys("openat"), args: [-100, 0, O_CREAT, 0o4755] }, ALLOW, "control: without the protection");
});

test("epoll watch budget: every supervised policy routes epoll_ctl(EPOLL_CTL_ADD), and only that op; none without a supervisor or a readable limit", () => {
  const EPOLL_CTL = { ADD: 1, DEL: 2, MOD: 3 };
  const host = { landlockAbi: 7, cpuCount: 2, epollWatchesLimit: 5_491_645 };
  const supervised = computeFeatures(new Policy({ fsReadable: ["/usr"] }), host);
  assert.deepEqual(supervised.supervision.epoll, { budget: 1_372_911, explicit: false, traced: false }, "a quarter of the limit, counted frozen");
  const prog = buildSeccompProgram(supervised.seccomp);
  expectAction(prog, { nr: sys("epoll_ctl"), args: [3, EPOLL_CTL.ADD, 4, 0] }, NOTIFY, "an add");
  // The kernel reads op as an int: high bits set still make an add, and still go to the supervisor.
  expectAction(prog, { nr: sys("epoll_ctl"), args: [3, 0x1_0000_0000 + EPOLL_CTL.ADD, 4, 0] }, NOTIFY, "an add with high bits");
  expectAction(prog, { nr: sys("epoll_ctl"), args: [3, EPOLL_CTL.DEL, 4, 0] }, ALLOW, "a delete");
  expectAction(prog, { nr: sys("epoll_ctl"), args: [3, EPOLL_CTL.MOD, 4, 0] }, ALLOW, "a change");
  const kernelView = computeFeatures(new Policy({ fsReadable: ["/usr"], procView: "kernel" }), host);
  assert.deepEqual(kernelView.supervision.epoll, { budget: 1_372_911, explicit: false, traced: false }, "the kernel view shares the uid's count too");
  // A thread has one tracer: where the launcher traces every process, it holds them for the count.
  for (const traced of [{ timeStart: "2020-01-01T00:00:00Z" }, { policyFn: () => undefined }] as PolicyInput[]) {
    const f = computeFeatures(new Policy({ fsReadable: ["/usr"], ...traced }), host);
    assert.deepEqual(f.supervision.epoll, { budget: 1_372_911, explicit: false, traced: true }, Object.keys(traced)[0]);
  }
  // maxEpollWatches: the policy's budget, never above the uid's whole limit; counted even
  // where the limit cannot be read.
  assert.deepEqual(computeFeatures(new Policy({ fsReadable: ["/usr"], maxEpollWatches: 5000 }), host).supervision.epoll, { budget: 5000, explicit: true, traced: false });
  assert.deepEqual(computeFeatures(new Policy({ fsReadable: ["/usr"], maxEpollWatches: 0 }), { ...host, epollWatchesLimit: undefined }).supervision.epoll, { budget: 0, explicit: true, traced: false });
  assert.throws(() => computeFeatures(new Policy({ fsReadable: ["/usr"], maxEpollWatches: 5_491_646 }), host), (e: unknown) => {
    assert.equal((e as Error).message, "maxEpollWatches: 5491646 is more than this host's fs.epoll.max_user_watches (5491645), which every process of the uid shares");
    assert.equal((e as { field?: string }).field, "maxEpollWatches");
    return true;
  });
  const unsupervised = computeFeatures(new Policy({ fsReadable: ["/usr"], supervisor: false }), host);
  assert.equal(unsupervised.supervision.epoll, undefined, "no supervisor, no count (docs/security.md, Known limits)");
  expectAction(buildSeccompProgram(unsupervised.seccomp), { nr: sys("epoll_ctl"), args: [3, EPOLL_CTL.ADD, 4, 0] }, ALLOW, "unsupervised: the kernel's");
  const unknown = computeFeatures(new Policy({ fsReadable: ["/usr"] }), { landlockAbi: 7, cpuCount: 2, epollWatchesLimit: undefined });
  assert.equal(unknown.supervision.epoll, undefined, "no limit read, nothing to share");
  expectAction(buildSeccompProgram(unknown.seccomp), { nr: sys("epoll_ctl"), args: [3, EPOLL_CTL.ADD, 4, 0] }, ALLOW, "no budget: the kernel's");
});

test("pipe budget: every supervised policy routes pipe, pipe2, mknod, mknodat, sendfile and copy_file_range, and F_SETPIPE_SZ past 64 KiB is EPERM; none without a supervisor or a limit", () => {
  const host = { landlockAbi: 7, cpuCount: 2, pipePagesLimit: 16_384 };
  const F_SETPIPE_SZ = 1031;
  const F_OFD_SETLK = 37;
  const supervised = computeFeatures(new Policy({ fsReadable: ["/usr"] }), host);
  assert.deepEqual(supervised.supervision.pipes, { budget: 256, traced: false }, "a quarter of the pages, in pipes of 16");
  assert.equal(pipeBudget(16_384), 256);
  assert.equal(pipeBudget(63), 1, "at least one pipe");
  const prog = buildSeccompProgram(supervised.seccomp);
  for (const name of ["pipe", "pipe2", "mknod", "mknodat", "sendfile", "copy_file_range"]) expectAction(prog, { nr: sys(name), args: [3, 0, 0, 0] }, NOTIFY, name);
  const fcntl = (args: (number | bigint)[]): SeccompInput => ({ nr: sys("fcntl"), args });
  expectAction(prog, fcntl([3, F_SETPIPE_SZ, 1 << 20]), EPERM, "a pipe grown past its charge");
  expectAction(prog, fcntl([3, F_SETPIPE_SZ, 65537]), EPERM, "one byte past");
  expectAction(prog, fcntl([3, F_SETPIPE_SZ, 65536]), ALLOW, "at its charge");
  expectAction(prog, fcntl([3, F_OFD_SETLK, 0]), ALLOW, "OFD locks stay maxMemory's rule");
  const traced = computeFeatures(new Policy({ fsReadable: ["/usr"], timeStart: "2020-01-01T00:00:00Z" }), host);
  assert.deepEqual(traced.supervision.pipes, { budget: 256, traced: true }, "the launcher holds the sandbox for the count");
  const kernelView = computeFeatures(new Policy({ fsReadable: ["/usr"], procView: "kernel" }), host);
  assert.deepEqual(kernelView.supervision.pipes, { budget: 256, traced: false }, "the kernel view shares the uid's count too");
  const unsupervised = computeFeatures(new Policy({ fsReadable: ["/usr"], supervisor: false }), host);
  assert.equal(unsupervised.supervision.pipes, undefined, "no supervisor, no count (docs/security.md, Known limits)");
  expectAction(buildSeccompProgram(unsupervised.seccomp), { nr: sys("pipe2"), args: [0, 0] }, ALLOW, "unsupervised: the kernel's");
  expectAction(buildSeccompProgram(unsupervised.seccomp), fcntl([3, F_SETPIPE_SZ, 1 << 20]), ALLOW, "unsupervised: the kernel's");
  const unlimited = computeFeatures(new Policy({ fsReadable: ["/usr"] }), { landlockAbi: 7, cpuCount: 2, pipePagesLimit: undefined });
  assert.equal(unlimited.supervision.pipes, undefined, "no soft limit (0) or none read: nothing to share");
  assert.equal(pipeUserPagesSoft("16384\n"), 16_384);
  assert.equal(pipeUserPagesSoft("0\n"), null, "0: no limit");
  assert.equal(pipeUserPagesSoft("junk"), null);
});

test("sysv_ipc lifted in the supervised view: the gets go to the supervisor and IPC_SET is EPERM (with or without IPC_64); the kernel view's and the blocklist's stay as they were", () => {
  const host = { landlockAbi: 7, cpuCount: 2 };
  const IPC_SET = 1;
  const IPC_STAT = 2;
  const IPC_64 = 0x100;
  const lifted = computeFeatures(new Policy({ fsReadable: ["/usr"], extraAllowSyscalls: ["sysv_ipc"], procView: "supervised" }), host);
  assert.deepEqual(lifted.supervision.sysv, { calls: ["shmget", "msgget", "semget"] });
  const prog = buildSeccompProgram(lifted.seccomp);
  for (const get of ["shmget", "msgget", "semget"]) expectAction(prog, { nr: sys(get), args: [0, 1, 0] }, NOTIFY, get);
  for (const [name, at] of [["shmctl", 1], ["msgctl", 1], ["semctl", 2]] as const) {
    const args = (cmd: number): number[] => (at === 1 ? [3, cmd, 0] : [3, 0, cmd, 0]);
    expectAction(prog, { nr: sys(name), args: args(IPC_SET) }, EPERM, `${name} IPC_SET`);
    expectAction(prog, { nr: sys(name), args: args(IPC_SET | IPC_64) }, EPERM, `${name} IPC_SET|IPC_64`);
    expectAction(prog, { nr: sys(name), args: args(IPC_STAT | IPC_64) }, ALLOW, `${name} IPC_STAT`);
  }
  const kernel = computeFeatures(new Policy({ fsReadable: ["/usr"], extraAllowSyscalls: ["sysv_ipc"], procView: "kernel" }), host);
  assert.equal(kernel.supervision.sysv, undefined, "the kernel view's IPC namespace is its own");
  expectAction(buildSeccompProgram(kernel.seccomp), { nr: sys("shmctl"), args: [3, IPC_SET, 0] }, ALLOW, "kernel view: IPC_SET");
  expectAction(buildSeccompProgram(kernel.seccomp), { nr: sys("shmget"), args: [0, 1, 0] }, ALLOW, "kernel view: shmget");
  const denied = computeFeatures(new Policy({ fsReadable: ["/usr"], extraAllowSyscalls: ["sysv_ipc"], extraDenySyscalls: ["msgget"], procView: "supervised" }), host);
  assert.deepEqual(denied.supervision.sysv, { calls: ["shmget", "semget"] }, "a denied get stays denied");
  expectAction(buildSeccompProgram(denied.seccomp), { nr: sys("msgget"), args: [0, 0o1000] }, EPERM, "msgget denied by name");
  const blocked = computeFeatures(new Policy({ fsReadable: ["/usr"], procView: "supervised" }), host);
  assert.equal(blocked.supervision.sysv, undefined);
  expectAction(buildSeccompProgram(blocked.seccomp), { nr: sys("shmget"), args: [0, 1, 0] }, EPERM, "the blocklist");
});
