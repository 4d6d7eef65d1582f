// The pid of a clone as this process names it. Under the kernel-native view the zygote
// lives in a pid namespace of its own and the pids it reports are the ones seen there; the
// pidfd it passes along names the process itself, whatever number it has where.

import { readFileSync, readlinkSync } from "node:fs";

/**
 * The pid of the process `pidfd` refers to, in this process's pid namespace (fdinfo's
 * "Pid:", which the kernel gives in the reader's namespace), or an Error saying why not.
 * `sandboxPid` is a process of the sandbox: the clone must share its pid namespace, so a
 * pidfd the zygote obtained some other way cannot make a handle act on a process that is
 * not the sandbox's (inside its own namespace the sandbox can name no other process).
 */
export function hostPidOf(pidfd: number, sandboxPid: number, reported: number): number | Error {
  let pid: number;
  try {
    const m = /^Pid:\s*(-?\d+)$/m.exec(readFileSync(`/proc/self/fdinfo/${pidfd}`, "latin1"));
    pid = m === null ? -1 : Number(m[1]);
  } catch (e) {
    return new Error(`cannot read the clone's pidfd: ${(e as Error).message}`);
  }
  // -1: the process is gone (reaped). Its number is then unknown: the one the zygote
  // reported is the sandbox's word (the zygote runs the sandbox's code), and a clone's kill
  // signals its process group by that number, so trusting it let a sandbox name any host
  // process group (fifth review: a reaped clone reported as a host pid was SIGKILLed).
  // The caller keeps pid 0 then: only the pidfd is signalled.
  if (pid === -1) return new Error(`the clone exited before it was reported (the zygote said pid ${reported}, which is not trusted)`);
  if (pid <= 0) return new Error("the clone is outside this process's pid namespace");
  try {
    if (readlinkSync(`/proc/${pid}/ns/pid`) !== readlinkSync(`/proc/${sandboxPid}/ns/pid`)) return new Error(`process ${pid} is not in the sandbox's pid namespace`);
  } catch (e) {
    return new Error(`cannot check the clone's pid namespace: ${(e as Error).message}`);
  }
  return pid;
}
