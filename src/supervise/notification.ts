// One seccomp notification as the kernel delivered it (struct seccomp_notif, 80 bytes):
// the id to answer, the calling thread, the syscall number and its six arguments.

export const NOTIF_BYTES = 80;

export class Notification {
  /** The 8-byte id, kept as bytes: it goes back to the kernel as is. */
  readonly id: Buffer;
  /** Thread id of the caller (a pid for single-threaded processes). */
  readonly pid: number;
  readonly nr: number;
  readonly arch: number;
  private readonly raw: Buffer;

  /** Copies what it needs out of the receive buffer, which the loop reuses. */
  constructor(buf: Buffer) {
    this.raw = Buffer.from(buf.subarray(0, NOTIF_BYTES));
    this.id = this.raw.subarray(0, 8);
    this.pid = this.raw.readUInt32LE(8);
    this.nr = this.raw.readInt32LE(16);
    this.arch = this.raw.readUInt32LE(20);
  }

  /** Argument i, all 64 bits. */
  arg(i: number): bigint {
    return this.raw.readBigUInt64LE(32 + 8 * i);
  }

  /** The low 32 bits of argument i, unsigned: ints, flags, descriptors as the kernel reads them. */
  argU32(i: number): number {
    return this.raw.readUInt32LE(32 + 8 * i);
  }

  /** The low 32 bits of argument i as a signed int (a descriptor such as AT_FDCWD = -100). */
  argI32(i: number): number {
    return this.raw.readInt32LE(32 + 8 * i);
  }

  /** Argument i as a user-space address (x86_64 user addresses fit in 47 bits). */
  argAddr(i: number): number {
    return Number(this.raw.readBigUInt64LE(32 + 8 * i));
  }
}
