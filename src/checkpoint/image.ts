// What a checkpoint holds, as plain typed values: per process its threads' register sets,
// memory maps, captured memory, descriptors and identity; plus the policy and app state.
// Capture fills these, the format encodes them, a later restore will consume them.

import type { PolicyJSON } from "../policy/types.js";

export const FORMAT_NAME = "sandlock-checkpoint";
/** The version of the checkpoint format this package writes and reads. */
export const FORMAT_VERSION = 1;

/** One PTRACE_GETREGSET register set of a thread, as the kernel laid it out. */
export interface RegisterSet {
  /** The ELF note type (NT_PRSTATUS = 1, NT_PRFPREG = 2, NT_X86_XSTATE = 0x202...). */
  note: number;
  /** "prstatus", "fpregset", "xstate", "tls": see REGSET_NOTES. */
  name: string;
  /** The register bytes as PTRACE_GETREGSET returned them. */
  data: Buffer;
}

/** One thread of a captured process: its registers and signal state. */
export interface ThreadImage {
  /** The thread id. */
  tid: number;
  /** The thread's id in the sandbox's own pid namespace (the kernel view's), when it
   * differs from `tid` (/proc/<tid>/status NSpid): the id its memory holds (glibc's thread
   * control block, the owner word of a mutex it holds). */
  nsTid?: number;
  /** Register sets, prstatus first. */
  regsets: RegisterSet[];
  /**
   * How the thread was stopped for the capture: "interrupt" (PTRACE_INTERRUPT while it
   * ran or slept), "group-stop" (the sandbox was paused), or "signal" (a signal arrived
   * first; it was delivered again on thaw and is recorded in pendingSignal).
   */
  stop: "interrupt" | "group-stop" | "signal";
  /** Signal number delivered again on thaw, or 0. */
  pendingSignal: number;
  /** Blocked and pending-for-this-thread signal masks (/proc/<tid>/status SigBlk, SigPnd), hex. */
  sigBlocked: string;
  /** Signals pending for this thread only (SigPnd), hex. */
  sigPending: string;
  /** Its rseq registration (PTRACE_GET_RSEQ_CONFIGURATION), null when it has none;
   * absent in a checkpoint of an older sandlock or when the kernel could not tell. */
  rseq?: RseqImage | null;
  /** Its robust-futex list (get_robust_list): head 0 when it has none; absent as above. */
  robustList?: RobustListImage;
  /** Its scheduling (/proc/<pid>/task/<tid>/stat and status); absent in a checkpoint of an
   * older sandlock or when /proc could not tell (sched.ts). */
  sched?: SchedImage;
}

/** A thread's nice, scheduling policy and real-time priority, and the CPUs it may run on. */
export interface SchedImage {
  nice: number;
  /** SCHED_OTHER 0, FIFO 1, RR 2, BATCH 3, IDLE 5 (DEADLINE 6 is refused at restore). */
  policy: number;
  /** rt_priority (0 for the normal policies). */
  priority: number;
  /** Cpus_allowed_list, sorted. */
  cpus: number[];
}

/** A thread's robust-futex list as get_robust_list reports it. */
export interface RobustListImage {
  /** Address of its struct robust_list_head (0: none). */
  head: bigint;
  /** The head's size in bytes (24 on 64-bit). */
  length: number;
}

/** An earlier descriptor one shares its open file description with. */
export interface FdShare {
  /** The process holding it (this one, or its parent). */
  pid: number;
  /** Its descriptor number there. */
  fd: number;
}

/** A thread's rseq registration: the area's address and length, signature and flags. */
export interface RseqImage {
  address: bigint;
  length: number;
  signature: number;
  flags: number;
}

/** A time as [seconds, nanoseconds] (itimers: microseconds, as getitimer gives them). */
export type TimePair = [number, number];

/** An armed interval timer (setitimer's which: 0 ITIMER_REAL, which alarm uses too,
 * 1 ITIMER_VIRTUAL, 2 ITIMER_PROF): its interval and the time left, [s, us]. */
export interface ItimerImage {
  which: number;
  interval: TimePair;
  remaining: TimePair;
}

/** A POSIX timer (/proc/<pid>/timers and timer_gettime): [s, ns] times; remaining [0, 0]
 * when disarmed. */
export interface PosixTimerImage {
  id: number;
  clock: number;
  /** The signal it raises (sigev_signo) and its sigev_value, as the kernel keeps them. */
  signo: number;
  sigValue: bigint;
  /** sigev_notify: 0 SIGEV_SIGNAL, 1 SIGEV_NONE, | 4 SIGEV_THREAD_ID with `tid` its target. */
  notify: number;
  tid: number;
  interval: TimePair;
  remaining: TimePair;
}

/** A process's timers at the capture. */
export interface TimersImage {
  itimers: ItimerImage[];
  posix: PosixTimerImage[];
}

/** Which file a descriptor or mapping held, to tell at restore that it is still the same
 * (same device and inode, size and modification time). */
export interface FileStamp {
  /** st_dev, st_ino, st_size as numbers. */
  dev: number;
  ino: number;
  size: number;
  /** st_mtime in nanoseconds, as a decimal string. */
  mtimeNs: string;
}

/** The process's memory layout fields (/proc/<pid>/stat 26-28, 45-51; brk: the end of
 * [heap]), which a restore gives back to the kernel (prctl PR_SET_MM_MAP). */
export interface MmLayout {
  startCode: bigint;
  endCode: bigint;
  startData: bigint;
  endData: bigint;
  startBrk: bigint;
  brk: bigint;
  startStack: bigint;
  argStart: bigint;
  argEnd: bigint;
  envStart: bigint;
  envEnd: bigint;
}

/** A signal's disposition as rt_sigaction reports it (x86_64 struct kernel_sigaction). */
export interface SigAction {
  sig: number;
  handler: bigint;
  flags: bigint;
  restorer: bigint;
  mask: bigint;
}

/** One line of /proc/<pid>/maps. Addresses are bigints: [vsyscall] lies above 2^53. */
export interface MapEntry {
  /** First address of the mapping. */
  start: bigint;
  /** The address just past the mapping. */
  end: bigint;
  /** "rw-p", "r-xp", "rw-s"... */
  perms: string;
  /** Offset into the backing file (0 for anonymous mappings). */
  offset: number;
  /** "major:minor" of the backing file's device, hex as the kernel prints it. */
  device: string;
  /** Inode of the backing file (0 for anonymous memory). */
  inode: number;
  /** Backing file, "[heap]", "[stack]", "[vdso]"..., or "" for anonymous memory. */
  path: string;
  /** The backing file's identity at capture, when its path still named it. */
  file?: FileStamp;
}

/**
 * Captured bytes of a process's memory, starting at `start`, a whole number of pages.
 * Only pages that differ from their backing are captured: in a private mapping, the
 * anonymous pages (written, or swapped out). A page of a private mapping that is not
 * captured holds zeros (anonymous mapping) or the file's bytes at its offset.
 */
export interface MemorySegment {
  /** Address of the first captured byte (page-aligned). */
  start: bigint;
  /** The captured bytes. */
  data: Buffer;
}

/** One open descriptor of a captured process (/proc/<pid>/fd and fdinfo). */
export interface FdEntry {
  /** The descriptor number. */
  fd: number;
  /** readlink of /proc/<pid>/fd/<fd>: a path, "pipe:[ino]", "socket:[ino]", "anon_inode:[eventfd]"... */
  target: string;
  /** open(2) flags from fdinfo, O_CLOEXEC included. */
  flags: number;
  /** The file offset from fdinfo. */
  pos: number;
  /** Mount id from fdinfo (to tell which mount a path was opened through), or -1. */
  mntId: number;
  /** The open file's identity at capture (a target that is a path). */
  file?: FileStamp;
  /** The descriptor shares its open file description (one offset, one set of status
   * flags) with an earlier one: a lower fd of this process, or an fd of its parent
   * (inherited). Found with kcmp(KCMP_FILE) at capture. */
  sharedWith?: FdShare;
}

/** Everything captured of one process of the sandbox. */
export interface ProcessImage {
  /** The process id at capture time. */
  pid: number;
  /** Parent pid; for the sandbox's root process this is the launcher (outside the image). */
  ppid: number;
  /** Process group id. */
  pgid: number;
  /** Session id. */
  sid: number;
  /** The command name (/proc/<pid>/comm). */
  comm: string;
  /** The argument vector (/proc/<pid>/cmdline). */
  cmdline: string[];
  /** readlink of /proc/<pid>/exe, /proc/<pid>/cwd and /proc/<pid>/root. */
  exe: string;
  /** readlink of /proc/<pid>/cwd: the working directory. */
  cwd: string;
  /** readlink of /proc/<pid>/root: the root directory. */
  root: string;
  /** File creation mask, or -1 when the kernel does not report it. */
  umask: number;
  /** Page size the memory segments are counted in (from the auxiliary vector). */
  pageSize: number;
  /** The auxiliary vector (/proc/<pid>/auxv), raw. */
  auxv: Buffer;
  /** Process-wide signal state (/proc/<pid>/status ShdPnd, SigIgn, SigCgt), hex masks. */
  sigSharedPending: string;
  /** Ignored signals (SigIgn), hex. */
  sigIgnored: string;
  /** Signals with a handler (SigCgt), hex. */
  sigCaught: string;
  /** Every thread, the main one first. */
  threads: ThreadImage[];
  /** The memory maps (/proc/<pid>/maps). */
  maps: MapEntry[];
  /** The captured memory (see MemorySegment). */
  memory: MemorySegment[];
  /** The open descriptors. */
  fds: FdEntry[];
  /** The kernel's layout fields of the process (absent in older checkpoints). */
  mm?: MmLayout;
  /** The handler of every caught signal, when they could be read (x86_64). */
  sigActions?: SigAction[];
  /** True when the descriptors were compared with kcmp (fds[].sharedWith is then set on
   * every shared one); absent in older checkpoints or when kcmp failed. */
  fdsCompared?: boolean;
  /** Its timers, when they could be read (x86_64; absent in older checkpoints). */
  timers?: TimersImage;
}

/** Whether process p was captured in the sandbox's own pid namespace (the kernel view): its
 * threads' ids there are recorded as nsTid, and a restore gives them back. */
export function inOwnPidNamespace(p: ProcessImage | undefined): boolean {
  return p?.threads[0]?.nsTid !== undefined;
}

/** Why the processes' ids cannot be an image of one sandbox, or undefined: every pid once,
 * every thread id once (a process's main thread is the thread whose id is its pid), and
 * the same for the ids inside the sandbox's pid namespace. A crafted image repeating one
 * made the restore's walk of each process's children grow without end. */
export function duplicateIds(processes: readonly ProcessImage[]): string | undefined {
  const pids = new Set<number>();
  const tids = new Map<number, number>();
  const nsTids = new Map<number, number>();
  for (const p of processes) {
    if (pids.has(p.pid)) return `process ${p.pid} is listed twice`;
    pids.add(p.pid);
    for (const t of p.threads) {
      const other = tids.get(t.tid);
      if (other !== undefined) return `thread ${t.tid} of process ${p.pid} is also a thread of process ${other}`;
      tids.set(t.tid, p.pid);
      if (t.nsTid !== undefined) {
        const ns = nsTids.get(t.nsTid);
        if (ns !== undefined) return `thread ${t.tid} of process ${p.pid} has the sandbox's id ${t.nsTid}, as a thread of process ${ns} has`;
        nsTids.set(t.nsTid, p.pid);
      }
    }
  }
  return undefined;
}

export interface CheckpointData {
  /** ISO time of the capture. */
  createdAt: string;
  /** process.arch of the capturing host ("x64", "arm64"): the register layouts depend on it. */
  arch: string;
  /** uname release of the capturing kernel. */
  kernel: string;
  policy: PolicyJSON;
  appState: Buffer | null;
  /** Parents before children. */
  processes: ProcessImage[];
}

/** The register sets read per thread on each architecture: [note, name, required]. */
export const REGSET_NOTES: Readonly<Record<string, readonly (readonly [number, string, boolean])[]>> = {
  x64: [
    [1, "prstatus", true], // NT_PRSTATUS: struct user_regs_struct (general registers, fs_base, gs_base)
    [2, "fpregset", true], // NT_PRFPREG: struct user_fpregs_struct (fxsave area: x87, SSE)
    [0x202, "xstate", false], // NT_X86_XSTATE: the XSAVE area (AVX and later), absent without XSAVE
  ],
  arm64: [
    [1, "prstatus", true], // NT_PRSTATUS: struct user_pt_regs
    [2, "fpregset", true], // NT_PRFPREG: struct user_fpsimd_state
    [0x401, "tls", false], // NT_ARM_TLS: tpidr_el0
  ],
};

/** Byte offsets of the program counter and stack pointer in prstatus, per architecture. */
const PC_SP: Readonly<Record<string, readonly [number, number]>> = {
  x64: [16 * 8, 19 * 8], // rip, rsp in struct user_regs_struct
  arm64: [32 * 8, 31 * 8], // pc, sp in struct user_pt_regs
};

/** A thread's program counter and stack pointer. */
export interface PcAndSp {
  /** Program counter. */
  pc: bigint;
  /** Stack pointer. */
  sp: bigint;
}

/** A thread's program counter and stack pointer, decoded from its prstatus. */
export function pcAndSp(arch: string, t: ThreadImage): PcAndSp {
  const at = PC_SP[arch];
  const prstatus = t.regsets.find((r) => r.name === "prstatus");
  if (at === undefined) throw new Error(`registers: no layout known for architecture ${arch}`);
  if (prstatus === undefined || prstatus.data.length < at[0] + 8) throw new Error(`registers: thread ${t.tid} has no prstatus`);
  return { pc: prstatus.data.readBigUInt64LE(at[0]), sp: prstatus.data.readBigUInt64LE(at[1]) };
}
