// The argument filters of the memory cap on kernel buffers: pipes may not grow past the
// size they are charged at (the supervisor charges every pipe the sandbox holds as
// PIPE_CHARGE_BYTES; supervise/kernel-buffers.ts), decided on registers alone.

import { type BpfAssembler, Ret, SeccompData } from "./bpf/assembler.js";

const EPERM = 1;
export const F_SETPIPE_SZ = 1031;
/** PIPE_DEF_BUFFERS (16) pages: the size of a new pipe, and the most one may hold under
 * maxMemory. */
export const PIPE_CHARGE_BYTES = 16 * 4096;

/**
 * fcntl(fd, F_SETPIPE_SZ, size) past PIPE_CHARGE_BYTES gets EPERM, what an unprivileged
 * caller gets past fs.pipe-max-size. The kernel reads the size as an unsigned int
 * (pipe_fcntl), so the low half of the register is what it uses; every other command, and
 * a pipe made smaller, is allowed without a round trip.
 */
export function fcntlBlock(b: BpfAssembler, p: string): void {
  b.load(SeccompData.argLow(1)).jeq(F_SETPIPE_SZ, 0, `${p}allow`);
  b.load(SeccompData.argLow(2)).jge(PIPE_CHARGE_BYTES + 1, 0, `${p}allow`).ret(Ret.errno(EPERM));
  b.label(`${p}allow`).ret(Ret.ALLOW);
}
