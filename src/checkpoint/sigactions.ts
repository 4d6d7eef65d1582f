// The signal handlers of a frozen process, for a restore: /proc shows only which signals
// are caught, so one stopped thread is made to call rt_sigaction(sig, NULL, &old) for each
// (a "syscall" instruction of its vDSO, the answer written below its stack's red zone),
// then its registers and those stack bytes are put back exactly. Best effort: on any
// failure nothing is recorded and a restore refuses the process, naming the handlers.

import { native } from "../confine/native.js";
import type { SigAction } from "./image.js";
import { REG, waitStop } from "./inject.js";
import type { StoppedThread } from "./freeze.js";
import type { MapEntry } from "./image.js";

const NT_PRSTATUS = 1;
const NR_RT_SIGACTION = 13;
const SIGTRAP = 5;
const PTRACE_EVENT_STOP = 128;
/** Below the red zone (128 bytes the System V ABI lets leaf code use without moving rsp). */
const SCRATCH_BELOW_SP = 512n;

/** A "syscall" instruction (0f 05) in the process's vDSO, or undefined. */
function vdsoSyscall(pid: number, maps: readonly MapEntry[]): bigint | undefined {
  const vdso = maps.find((m) => m.path === "[vdso]");
  if (vdso === undefined) return undefined;
  const code = Buffer.alloc(Number(vdso.end - vdso.start));
  if (native().readMemory(pid, Number(vdso.start), code) !== code.length) return undefined;
  const at = code.indexOf(Buffer.from([0x0f, 0x05]));
  return at < 0 ? undefined : vdso.start + BigInt(at);
}

/** The handlers of the caught signals (mask `caught`), or undefined when they cannot be read. */
export async function captureSigActions(pid: number, threads: readonly StoppedThread[], maps: readonly MapEntry[], caught: bigint, timeoutMs: number): Promise<SigAction[] | undefined> {
  if (process.arch !== "x64" || caught === 0n) return caught === 0n ? [] : undefined;
  // A thread in a plain ptrace-stop (not one holding a signal to re-deliver).
  const t = threads.find((x) => x.stop !== "signal");
  const gadget = vdsoSyscall(pid, maps);
  if (t === undefined || gadget === undefined) return undefined;
  const saved = Buffer.alloc(27 * 8);
  if (native().ptraceGetRegset(t.tid, NT_PRSTATUS, saved) !== saved.length) return undefined;
  const scratch = (saved.readBigUInt64LE(REG.rsp * 8) - SCRATCH_BELOW_SP) & ~15n;
  const stackBytes = Buffer.alloc(32);
  if (native().readMemory(pid, Number(scratch), stackBytes) !== 32) return undefined;
  const out: SigAction[] = [];
  let ok = true;
  try {
    for (let sig = 1; sig <= 64 && ok; sig++) {
      if (((caught >> BigInt(sig - 1)) & 1n) === 0n) continue;
      const r = Buffer.from(saved);
      r.writeBigUInt64LE(BigInt(NR_RT_SIGACTION), REG.rax * 8);
      r.writeBigInt64LE(-1n, REG.origRax * 8);
      r.writeBigUInt64LE(gadget, REG.rip * 8);
      r.writeBigUInt64LE(BigInt(sig), REG.rdi * 8);
      r.writeBigUInt64LE(0n, REG.rsi * 8);
      r.writeBigUInt64LE(scratch, REG.rdx * 8);
      r.writeBigUInt64LE(8n, REG.r10 * 8);
      if (native().ptraceSetRegset(t.tid, NT_PRSTATUS, r) < 0) return undefined;
      // Entry and exit stops. A thread of a paused sandbox re-enters its group-stop when
      // resumed (a PTRACE_EVENT_STOP): resumed again, a few times at most.
      for (let phase = 0, tries = 0; phase < 2 && ok && tries < 8; tries++) {
        if (native().ptraceSyscall(t.tid, 0) < 0) ok = false;
        else {
          const status = await waitStop(t.tid, timeoutMs, "checkpoint: reading signal handlers");
          if (status >> 16 === PTRACE_EVENT_STOP) continue;
          ok = ((status >> 8) & 0xff) === SIGTRAP;
          phase++;
        }
      }
      const after = Buffer.alloc(27 * 8);
      if (!ok || native().ptraceGetRegset(t.tid, NT_PRSTATUS, after) !== after.length || after.readBigInt64LE(REG.rax * 8) !== 0n) {
        ok = false;
        break;
      }
      const act = Buffer.alloc(32);
      if (native().readMemory(pid, Number(scratch), act) !== 32) ok = false;
      else out.push({ sig, handler: act.readBigUInt64LE(0), flags: act.readBigUInt64LE(8), restorer: act.readBigUInt64LE(16), mask: act.readBigUInt64LE(24) });
    }
  } catch {
    ok = false;
  } finally {
    // Exactly as it was: the stack bytes, then the registers (the restart code and the
    // call in orig_rax included, so the interrupted call restarts on thaw as before).
    native().writeMemory(pid, Number(scratch), stackBytes);
    native().ptraceSetRegset(t.tid, NT_PRSTATUS, saved);
  }
  return ok ? out : undefined;
}
