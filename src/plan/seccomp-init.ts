// The seccomp filter of the kernel view's init (native/launcher/init.c): an allow list of
// the few calls the reaper makes once its filter is loaded, everything else killing it.
// Stricter than the command's program, which the init loaded before, and about 25 times
// smaller: the kernel runs a new filter over every syscall number when it loads it (its
// allow cache), so the 400-instruction program cost the init about 0.3 ms per start.

import { AUDIT_ARCH_X86_64, SYSCALLS, X32_SYSCALL_BIT } from "../kernel/syscalls.js";
import { BpfAssembler, encodeProgram, type Insn, Ret, SeccompData } from "./bpf/assembler.js";

/**
 * What the init calls after its filter (init.c, steps.c): the late rlimits on itself
 * (prlimit64 with pid 0), then read of the exec pipe and of the launcher's answer, write of
 * its reports, close, wait4 in its reaping loop, exit_group. restart_syscall for a wait
 * interrupted by a stop from outside (SIGSTOP/SIGCONT reach the init from the parent
 * namespace).
 */
export const INIT_SYSCALLS = ["read", "write", "close", "wait4", "exit_group", "restart_syscall"] as const;

function nr(name: string): number {
  const n = SYSCALLS[name];
  if (n === undefined) throw new Error(`seccomp-init: unknown syscall ${name}`);
  return n;
}

/**
 * The program: the architecture checked, x32 numbers refused, the calls above allowed,
 * prlimit64 allowed on the init itself only (pid 0: the late rlimits), every other call
 * kills the init (and with it the whole pid namespace: nothing of the sandbox survives a
 * hijacked reaper). The reaper runs sandlock's own code only; a call outside this list
 * is a bug of the launcher, which integration tests would see as every start failing.
 */
export function initFilterProgram(): Insn[] {
  const a = new BpfAssembler();
  a.load(SeccompData.ARCH).jeq(AUDIT_ARCH_X86_64, 1, 0).ret(Ret.KILL_PROCESS);
  a.load(SeccompData.NR);
  a.jge(X32_SYSCALL_BIT, "kill");
  for (const name of INIT_SYSCALLS) a.jeq(nr(name), "allow");
  a.jeq(nr("prlimit64"), 0, "kill");
  a.load(SeccompData.argLow(0)).jeq(0, 0, "kill");
  a.load(SeccompData.argHigh(0)).jeq(0, "allow", "kill");
  a.label("kill").ret(Ret.KILL_PROCESS);
  a.label("allow").ret(Ret.ALLOW);
  return a.assemble();
}

let payload: Buffer | undefined;

/** SL_STEP_INIT_FILTER's payload: u32 flags (0), u32 pad, the program (built once). */
export function initFilterPayload(): Buffer {
  if (payload === undefined) {
    const program = encodeProgram(initFilterProgram());
    payload = Buffer.alloc(8 + program.length);
    program.copy(payload, 8);
  }
  return payload;
}
