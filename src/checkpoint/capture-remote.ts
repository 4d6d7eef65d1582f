// Remote system calls in a frozen process during a capture (x86_64), for state /proc does
// not show (signal handlers, timers): one stopped thread runs the calls through a "syscall"
// instruction of its vDSO, answers land below its stack's red zone, and afterwards its
// registers and those stack bytes are put back exactly, so the capture leaves no trace.

import { native } from "../confine/native.js";
import type { StoppedThread } from "./freeze.js";
import type { MapEntry } from "./image.js";
import { discardedUntraced } from "./discarded.js";
import { REG, waitStop } from "./inject.js";

const NT_PRSTATUS = 1;
const SIGTRAP = 5;
const PTRACE_EVENT_STOP = 128;
/** Below the red zone (128 bytes the System V ABI lets leaf code use without moving rsp). */
const SCRATCH_BELOW_SP = 512n;
/** Bytes of scratch a call may use for its answer. */
export const SCRATCH_BYTES = 64;

/** A "syscall" instruction (0f 05) in the process's vDSO, or undefined. */
export function vdsoSyscall(pid: number, maps: readonly MapEntry[]): bigint | undefined {
  const vdso = maps.find((m) => m.path === "[vdso]");
  if (vdso === undefined) return undefined;
  const code = Buffer.alloc(Number(vdso.end - vdso.start));
  if (native().readMemory(pid, Number(vdso.start), code) !== code.length) return undefined;
  const at = code.indexOf(Buffer.from([0x0f, 0x05]));
  return at < 0 ? undefined : vdso.start + BigInt(at);
}

/** What the callback of withCaptureCalls gets: a call (rax, or undefined when the thread did
 * not stop as expected) and the scratch area's address and contents. */
export interface CaptureCalls {
  call(nr: number, ...args: (bigint | number)[]): Promise<bigint | undefined>;
  scratch: bigint;
  read(length: number): Buffer | undefined;
}

/**
 * Runs fn with remote calls in one stopped thread of pid, then puts the thread back exactly
 * as it was (stack bytes, then registers: the interrupted call's restart code and the call
 * in orig_rax included, so it restarts on thaw as before). Resolves with fn's result, or
 * undefined when no thread can run calls or fn resolves undefined. x86_64 only.
 */
export async function withCaptureCalls<T>(pid: number, threads: readonly StoppedThread[], maps: readonly MapEntry[], timeoutMs: number, fn: (c: CaptureCalls) => Promise<T | undefined>): Promise<T | undefined> {
  if (process.arch !== "x64") return undefined;
  // A thread in a plain ptrace-stop (not one holding a signal to re-deliver).
  const t = threads.find((x) => x.stop !== "signal");
  const gadget = vdsoSyscall(pid, maps);
  if (t === undefined || gadget === undefined) return undefined;
  const saved = Buffer.alloc(27 * 8);
  if (native().ptraceGetRegset(t.tid, NT_PRSTATUS, saved) !== saved.length) return undefined;
  const scratch = (saved.readBigUInt64LE(REG.rsp * 8) - SCRATCH_BELOW_SP) & ~15n;
  const stackBytes = Buffer.alloc(SCRATCH_BYTES);
  if (native().readMemory(pid, Number(scratch), stackBytes) !== SCRATCH_BYTES) return undefined;
  const call = async (nr: number, ...args: (bigint | number)[]): Promise<bigint | undefined> => {
    const r = Buffer.from(saved);
    r.writeBigUInt64LE(BigInt(nr), REG.rax * 8);
    r.writeBigInt64LE(-1n, REG.origRax * 8);
    r.writeBigUInt64LE(gadget, REG.rip * 8);
    const slots = [REG.rdi, REG.rsi, REG.rdx, REG.r10, REG.r8, REG.r9];
    args.forEach((a, i) => r.writeBigUInt64LE(BigInt.asUintN(64, BigInt(a)), slots[i]! * 8));
    if (native().ptraceSetRegset(t.tid, NT_PRSTATUS, r) < 0) return undefined;
    // Entry and exit stops. A thread of a paused sandbox re-enters its group-stop when
    // resumed (a PTRACE_EVENT_STOP): resumed again, a few times at most. A signal the
    // process would discard untraced is dropped (resumed without it) and the call goes on.
    let phase = 0;
    const deadline = Date.now() + timeoutMs;
    for (let tries = 0; phase < 2 && tries < 8; ) {
      if (native().ptraceSyscall(t.tid, 0) < 0) return undefined;
      const status = await waitStop(t.tid, Math.max(1, deadline - Date.now()), "checkpoint: a call in the frozen process");
      const sig = (status >> 8) & 0xff;
      // (dropped for as long as the call may take; not counted among the tries)
      if (status >> 16 === 0 && sig !== SIGTRAP && Date.now() < deadline && discardedUntraced(pid, sig)) continue;
      tries++;
      if (status >> 16 === PTRACE_EVENT_STOP) continue;
      if (sig !== SIGTRAP) return undefined;
      phase++;
    }
    const after = Buffer.alloc(27 * 8);
    if (phase < 2 || native().ptraceGetRegset(t.tid, NT_PRSTATUS, after) !== after.length) return undefined;
    return after.readBigInt64LE(REG.rax * 8);
  };
  const read = (length: number): Buffer | undefined => {
    const b = Buffer.alloc(Math.min(length, SCRATCH_BYTES));
    return native().readMemory(pid, Number(scratch), b) === b.length ? b : undefined;
  };
  try {
    return await fn({ call, scratch, read });
  } catch {
    return undefined;
  } finally {
    native().writeMemory(pid, Number(scratch), stackBytes);
    native().ptraceSetRegset(t.tid, NT_PRSTATUS, saved);
  }
}
