// Remote system calls in a seized process (x86_64), for a checkpoint restore: the thread
// is pointed at a "syscall" instruction with the call's registers and run to the call's
// exit stop (PTRACE_SYSCALL twice), and the result is read from rax. The instruction lives
// in a page the launcher's restore step mapped (native/launcher/restore.c).

import { native } from "../confine/native.js";
import { discardedUntraced } from "./discarded.js";
import { pollTurn } from "./turns.js";

/** struct user_regs_struct, x86_64: 27 registers of 8 bytes. */
export const REG = { rbx: 5, r10: 7, r9: 8, r8: 9, rax: 10, rdx: 12, rsi: 13, rdi: 14, origRax: 15, rip: 16, rsp: 19 } as const;
const NT_PRSTATUS = 1;
const SIGTRAP = 5;
const PTRACE_EVENT_STOP = 128;

export const NR = {
  close: 3,
  lseek: 8,
  mmap: 9,
  mprotect: 10,
  munmap: 11,
  rtSigaction: 13,
  rtSigprocmask: 14,
  mremap: 25,
  dup3: 292,
  fcntl: 72,
  chdir: 80,
  umask: 95,
  prctl: 157,
  openat: 257,
  closeRange: 436,
  clone: 56,
  fork: 57,
} as const;

/** Where the restore page's clone loop starts (restore.c): rbx clones, each new thread
 * exiting at once, then int3. */
export const CLONE_LOOP = 24n;

/** A thread the tracer stopped; the stop it reported, as a waitpid status. */
export class TraceError extends Error {}

/** Waits (without blocking the event loop: the supervisor answers the tracee's calls) for
 * the tracee's next stop; returns its wait status. */
export async function waitStop(tid: number, timeoutMs: number, what: string): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (let polls = 0; ; polls++) {
    const [rc, status] = native().ptraceWaitStop(tid);
    if (rc < 0) throw new TraceError(`${what}: waitpid on ${tid} failed (errno ${-rc})`);
    if (rc === tid) {
      if ((status & 0xff) !== 0x7f) throw new TraceError(`${what}: process ${tid} ended (wait status 0x${status.toString(16)})`);
      return status;
    }
    if (Date.now() > deadline) throw new TraceError(`${what}: process ${tid} did not stop within ${timeoutMs} ms`);
    await pollTurn(polls);
  }
}

/** A seized, stopped thread that runs system calls on request. */
export class Remote {
  private readonly regs: Buffer;

  private constructor(
    readonly tid: number,
    private readonly gadget: bigint,
    readonly scratch: bigint,
    regs: Buffer,
    private readonly timeoutMs: number,
  ) {
    this.regs = regs;
  }

  /** Seizes tid (asleep in the restore step) and stops it; gadget: the syscall instruction. */
  static async attach(tid: number, gadget: bigint, scratch: bigint, timeoutMs: number): Promise<Remote> {
    let rc = native().ptraceSeize(tid);
    if (rc < 0) throw new TraceError(`ptrace(PTRACE_SEIZE) on ${tid}: errno ${-rc}`);
    rc = native().ptraceInterrupt(tid);
    if (rc < 0) throw new TraceError(`ptrace(PTRACE_INTERRUPT) on ${tid}: errno ${-rc}`);
    const status = await waitStop(tid, timeoutMs, "restore: stopping the new process");
    if (status >> 16 !== PTRACE_EVENT_STOP) throw new TraceError(`restore: unexpected first stop of ${tid} (wait status 0x${status.toString(16)})`);
    const regs = Buffer.alloc(27 * 8);
    const n = native().ptraceGetRegset(tid, NT_PRSTATUS, regs);
    if (n !== regs.length) throw new TraceError(`restore: ptrace(PTRACE_GETREGSET) on ${tid}: ${n < 0 ? `errno ${-n}` : `${n} bytes`}`);
    return new Remote(tid, gadget, scratch, regs, timeoutMs);
  }

  /** The saved registers set up for system call `nr` with `args` at the gadget. */
  private callRegs(nr: number, args: readonly (bigint | number)[], gadget = this.gadget): Buffer {
    const r = Buffer.from(this.regs);
    r.writeBigUInt64LE(BigInt(nr), REG.rax * 8);
    // orig_rax -1: the kernel must not treat the stop the thread is in as a call to restart.
    r.writeBigInt64LE(-1n, REG.origRax * 8);
    r.writeBigUInt64LE(gadget, REG.rip * 8);
    const slots = [REG.rdi, REG.rsi, REG.rdx, REG.r10, REG.r8, REG.r9];
    args.forEach((a, i) => r.writeBigUInt64LE(BigInt.asUintN(64, BigInt(a)), slots[i]! * 8));
    return r;
  }

  /**
   * Runs the restore page's clone loop at `entry`: `count` clones with `args`, each new
   * thread exiting at once, without a stop between them (PTRACE_CONT to the loop's int3).
   * Resolves with rax: the id the last clone returned, or -errno of the one that failed.
   */
  async cloneLoop(entry: bigint, count: number, args: readonly (bigint | number)[], timeoutMs: number): Promise<bigint> {
    const r = this.callRegs(NR.clone, args, entry);
    r.writeBigUInt64LE(BigInt(count), REG.rbx * 8);
    this.setRegs(r);
    const rc = native().ptraceCont(this.tid, 0);
    if (rc < 0) throw new TraceError(`restore: ptrace(PTRACE_CONT) on ${this.tid}: errno ${-rc}`);
    const status = await waitStop(this.tid, timeoutMs, "restore: the clone loop");
    if (((status >> 8) & 0xff) !== SIGTRAP || status >> 16 !== 0) throw new TraceError(`restore: the clone loop: unexpected stop (wait status 0x${status.toString(16)})`);
    return this.rax();
  }

  private rax(): bigint {
    const out = Buffer.alloc(27 * 8);
    const n = native().ptraceGetRegset(this.tid, NT_PRSTATUS, out);
    if (n !== out.length) throw new TraceError(`restore: ptrace(PTRACE_GETREGSET) on ${this.tid}: errno ${-n}`);
    return out.readBigInt64LE(REG.rax * 8);
  }

  /** Runs one system call in the tracee; returns the kernel's result (negative: -errno). */
  async call(nr: number, ...args: (bigint | number)[]): Promise<bigint> {
    this.setRegs(this.callRegs(nr, args));
    // A signal the process would have discarded untraced (a SIGWINCH before the rebuild's
    // first call blocks them all) stops the thread before the call: dropped, for as long as
    // the call may take (a flood of them then fails the call, as a thread that never stops
    // would).
    const deadline = Date.now() + this.timeoutMs;
    for (let phase = 0; phase < 2; ) {
      const rc = native().ptraceSyscall(this.tid, 0);
      if (rc < 0) throw new TraceError(`restore: ptrace(PTRACE_SYSCALL) on ${this.tid}: errno ${-rc}`);
      const status = await waitStop(this.tid, Math.max(1, deadline - Date.now()), `restore: system call ${nr} (${phase === 0 ? "entry" : "exit"})`);
      const sig = (status >> 8) & 0xff;
      if (sig !== SIGTRAP && status >> 16 === 0 && Date.now() < deadline && discardedUntraced(this.tid, sig)) continue;
      if (sig !== SIGTRAP || status >> 16 !== 0) throw new TraceError(`restore: system call ${nr}: unexpected stop (wait status 0x${status.toString(16)})`);
      phase++;
    }
    return this.rax();
  }

  /**
   * Runs a blocking call (a sleep) and interrupts it once it runs: the kernel keeps what a
   * restart needs (the sleep's absolute end) in the thread's restart block and reports
   * -ERESTART_RESTARTBLOCK; the interrupt still pending then stops the thread before any
   * user code (PTRACE_EVENT_STOP), from where further calls run as usual. Resolves with rax.
   */
  async callInterrupted(nr: number, ...args: (bigint | number)[]): Promise<bigint> {
    this.setRegs(this.callRegs(nr, args));
    const step = async (phase: string, interrupt: boolean): Promise<number> => {
      const rc = native().ptraceSyscall(this.tid, 0);
      if (rc < 0) throw new TraceError(`restore: ptrace(PTRACE_SYSCALL) on ${this.tid}: errno ${-rc}`);
      if (interrupt) {
        const ri = native().ptraceInterrupt(this.tid);
        if (ri < 0) throw new TraceError(`restore: ptrace(PTRACE_INTERRUPT) on ${this.tid}: errno ${-ri}`);
      }
      return waitStop(this.tid, this.timeoutMs, `restore: system call ${nr} (${phase})`);
    };
    let status = await step("entry", false);
    if (((status >> 8) & 0xff) !== SIGTRAP || status >> 16 !== 0) throw new TraceError(`restore: system call ${nr}: unexpected stop (wait status 0x${status.toString(16)})`);
    status = await step("interrupted", true);
    if (((status >> 8) & 0xff) !== SIGTRAP || status >> 16 !== 0) throw new TraceError(`restore: system call ${nr}: unexpected stop (wait status 0x${status.toString(16)})`);
    const out = Buffer.alloc(27 * 8);
    const n = native().ptraceGetRegset(this.tid, NT_PRSTATUS, out);
    if (n !== out.length) throw new TraceError(`restore: ptrace(PTRACE_GETREGSET) on ${this.tid}: errno ${-n}`);
    // Leaving the exit stop, the thread either stops for the pending interrupt, or (the
    // kernel's own restart of the interrupted call) enters restart_syscall at the gadget:
    // that entry is skipped (orig_rax -1), which leaves the restart block as it is.
    status = await step("leaving the call", false);
    if (status >> 16 !== PTRACE_EVENT_STOP) {
      if (((status >> 8) & 0xff) !== SIGTRAP || status >> 16 !== 0) throw new TraceError(`restore: system call ${nr}: unexpected stop after it (wait status 0x${status.toString(16)})`);
      const entry = Buffer.alloc(27 * 8);
      if (native().ptraceGetRegset(this.tid, NT_PRSTATUS, entry) !== entry.length) throw new TraceError(`restore: ptrace(PTRACE_GETREGSET) on ${this.tid} failed`);
      entry.writeBigInt64LE(-1n, REG.origRax * 8);
      this.setRegs(entry);
      status = await step("skipped restart", false);
      if (((status >> 8) & 0xff) !== SIGTRAP || status >> 16 !== 0) throw new TraceError(`restore: system call ${nr}: unexpected stop skipping its restart (wait status 0x${status.toString(16)})`);
    }
    return out.readBigInt64LE(REG.rax * 8);
  }

  /** Writes bytes into the tracee's memory (process_vm_writev; the pages must be writable). */
  write(address: bigint, data: Buffer): void {
    for (let done = 0; done < data.length; ) {
      const n = native().writeMemory(this.tid, Number(address) + done, data.subarray(done, done + (1 << 30)));
      if (n <= 0) throw new TraceError(`restore: writing ${data.length - done} bytes at 0x${(address + BigInt(done)).toString(16)}: ${n < 0 ? `errno ${-n}` : "nothing written"}`);
      done += n;
    }
  }

  /** Puts a NUL-terminated string (or raw bytes) in the scratch page; returns its address. */
  put(data: string | Buffer): bigint {
    const b = typeof data === "string" ? Buffer.concat([Buffer.from(data), Buffer.alloc(1)]) : data;
    if (b.length > 4096) throw new TraceError(`restore: ${b.length} bytes do not fit the scratch page`);
    this.write(this.scratch, b);
    return this.scratch;
  }

  setRegs(r: Buffer, note = NT_PRSTATUS): void {
    const rc = native().ptraceSetRegset(this.tid, note, r);
    if (rc < 0) throw new TraceError(`restore: ptrace(PTRACE_SETREGSET, note ${note}) on ${this.tid}: errno ${-rc}`);
  }

  detach(signal: number): void {
    const rc = native().ptraceDetach(this.tid, signal);
    if (rc < 0) throw new TraceError(`restore: ptrace(PTRACE_DETACH) on ${this.tid}: errno ${-rc}`);
  }
}
