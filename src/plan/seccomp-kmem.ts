// The argument filters of the memory cap on kernel buffers: pipes may not grow past the
// size they are charged at (the supervisor charges every pipe the sandbox holds as
// PIPE_CHARGE_BYTES; supervise/kernel-buffers.ts), and no lock record may outlive every
// descriptor of its file, decided on registers alone.

import { type BpfAssembler, Ret, SeccompData } from "./bpf/assembler.js";

const EPERM = 1;
export const F_SETPIPE_SZ = 1031;
/** PIPE_DEF_BUFFERS (16) pages: the size of a new pipe, and the most one may hold under
 * maxMemory. */
export const PIPE_CHARGE_BYTES = 16 * 4096;

/** Open-file-description byte-range locks: set, and set waiting. */
export const F_OFD_SETLK = 37;
export const F_OFD_SETLKW = 38;
const EINVAL = 22;

/**
 * fcntl(fd, F_SETPIPE_SZ, size) past PIPE_CHARGE_BYTES gets EPERM, what an unprivileged
 * caller gets past fs.pipe-max-size. The kernel reads the size as an unsigned int
 * (pipe_fcntl), so the low half of the register is what it uses.
 *
 * F_OFD_SETLK and F_OFD_SETLKW get EINVAL, what a kernel without open-file-description
 * locks (before 3.15) answers, from which programs fall back to POSIX locks. Lock records
 * are charged from the fdinfo of the descriptors they were taken through
 * (supervise/kernel-buffers.ts LOCK_RECORD_BYTES), but an OFD lock lives as long as its
 * open file, which a shared mapping keeps after every descriptor of it is closed: 100
 * records on a file mapped and closed stayed in /proc/locks with no descriptor left, and
 * a process may hold 65,530 mappings. A POSIX lock goes at its process's first close of the
 * file, and a flock or a lease is one per open file.
 *
 * The command is an int: the low half of the register. Every other command, and a pipe
 * made smaller, is allowed without a round trip.
 */
export function fcntlBlock(b: BpfAssembler, p: string): void {
  b.load(SeccompData.argLow(1)).jeq(F_OFD_SETLK, `${p}ofd`, 0).jeq(F_OFD_SETLKW, `${p}ofd`, 0).jeq(F_SETPIPE_SZ, 0, `${p}allow`);
  pipeSizeRest(b, p);
  b.label(`${p}ofd`).ret(Ret.errno(EINVAL));
}

/** The F_SETPIPE_SZ rule alone (the pipe budget's, without maxMemory: handlers/pipes.ts). */
export function pipeSizeBlock(b: BpfAssembler, p: string): void {
  b.load(SeccompData.argLow(1)).jeq(F_SETPIPE_SZ, 0, `${p}allow`);
  pipeSizeRest(b, p);
}

function pipeSizeRest(b: BpfAssembler, p: string): void {
  b.load(SeccompData.argLow(2)).jge(PIPE_CHARGE_BYTES + 1, 0, `${p}allow`).ret(Ret.errno(EPERM));
  b.label(`${p}allow`).ret(Ret.ALLOW);
}
