// File-metadata supervision without a kernel: which calls the plan traps (only with the
// filesystem protection), the filter's routing of inode-flag ioctls, and the decoding of
// each call (what it names, what it changes, the kernel's argument errors in order).

import assert from "node:assert/strict";
import { test } from "node:test";
import { SYSCALLS } from "../../src/kernel/syscalls.js";
import { Policy } from "../../src/policy/index.js";
import { computeFeatures } from "../../src/plan/features.js";
import { buildSeccompProgram } from "../../src/plan/seccomp.js";
import { META_SYSCALLS } from "../../src/plan/seccomp-meta.js";
import type { ChildMemory } from "../../src/supervise/child-memory.js";
import { DECODERS, E, type MetaRequest } from "../../src/supervise/handlers/fs-meta-decode.js";
import { Notification } from "../../src/supervise/notification.js";
import { setsIds } from "../../src/supervise/handlers/fs-meta.js";
import type { FileId } from "../../src/supervise/grant-proof.js";
import { runFilter } from "../helpers/bpf-interpreter.js";

const HOST = { landlockAbi: 7, cpuCount: 2 };
const ALLOW = 0x7fff0000;
const NOTIFY = 0x7fc00000;
const EOPNOTSUPP = 0x00050000 | 95;
const sys = (name: string): number => SYSCALLS[name]!;

test("with the fs protection every metadata call is trapped and the writable grants bound it; without it nothing is", () => {
  const on = computeFeatures(new Policy({ fsReadable: ["/usr"], fsWritable: ["/tmp"] }), HOST);
  for (const name of META_SYSCALLS) assert.ok(on.seccomp.notify.includes(name), name);
  assert.deepEqual(on.supervision.meta?.writable.map((g) => g.path), ["/tmp"]);
  const off = computeFeatures(new Policy({ fsReadable: ["/usr"], fsWritable: ["/tmp"], protection: { disable: ["fs"] } }), HOST);
  for (const name of META_SYSCALLS) assert.ok(!off.seccomp.notify.includes(name), name);
  assert.equal(off.supervision.meta, undefined);
  assert.equal(off.seccomp.inodeIoctls, undefined);
});

test("the filter: inode-flag ioctls go to the supervisor, verity and fscrypt policies get EOPNOTSUPP, reads pass", () => {
  const prog = buildSeccompProgram(computeFeatures(new Policy({}), HOST).seccomp);
  const ioctl = (req: number): number => runFilter(prog, { nr: sys("ioctl"), args: [3, req, 0x1000] });
  for (const req of [0x40086602, 0x40046602, 0x401c5820, 0x40087602, 0x40086604, 0x4008941a, 0x6609]) assert.equal(ioctl(req), NOTIFY, `0x${req.toString(16)}`);
  assert.equal(ioctl(0x140086602), NOTIFY, "the kernel reads 32 bits of the request");
  for (const req of [0x40806685, 0x800c6613]) assert.equal(ioctl(req), EOPNOTSUPP, `0x${req.toString(16)}`);
  // FS_IOC_GETFLAGS, FS_IOC_FSGETXATTR, FIONREAD
  for (const req of [0x80086601, 0x801c581f, 0x541b]) assert.equal(ioctl(req), ALLOW, `0x${req.toString(16)}`);
  for (const name of ["chmod", "fchownat", "setxattrat", "utimensat", "fremovexattr"]) assert.equal(runFilter(prog, { nr: sys(name), args: [0, 0, 0] }), NOTIFY, name);
  const off = buildSeccompProgram(computeFeatures(new Policy({ protection: { disable: ["fs"] } }), HOST).seccomp);
  assert.equal(runFilter(off, { nr: sys("ioctl"), args: [3, 0x40086602, 0] }), ALLOW, "fs disabled: SETFLAGS as it is");
  assert.equal(runFilter(off, { nr: sys("chmod"), args: [0, 0, 0] }), ALLOW);
});

/** A caller's memory: strings and structs at fixed addresses. */
class FakeMemory {
  private readonly at = new Map<number, Buffer>();
  put(addr: number, data: Buffer | string): number {
    this.at.set(addr, typeof data === "string" ? Buffer.from(data + "\0") : data);
    return addr;
  }
  private find(addr: number): Buffer | null {
    for (const [a, b] of this.at) if (addr >= a && addr < a + b.length) return b.subarray(addr - a);
    return null;
  }
  read(_n: Notification, addr: number, len: number): Buffer | null {
    const b = this.find(addr);
    return b === null || b.length < len ? null : Buffer.from(b.subarray(0, len));
  }
  readCString(_n: Notification, addr: number, max: number): Buffer | "fault" | "long" {
    const b = this.find(addr);
    if (b === null) return "fault";
    const nul = b.indexOf(0);
    if (nul < 0) return "fault";
    return nul > max ? "long" : Buffer.from(b.subarray(0, nul));
  }
}

function notif(name: string, args: (number | bigint)[]): Notification {
  const raw = Buffer.alloc(80);
  raw.writeUInt32LE(1234, 8);
  raw.writeInt32LE(sys(name), 16);
  args.forEach((a, i) => raw.writeBigUInt64LE(BigInt.asUintN(64, BigInt(a)), 32 + 8 * i));
  return new Notification(raw);
}

function decode(mem: FakeMemory, name: string, ...args: (number | bigint)[]): ReturnType<(typeof DECODERS)[string]> {
  return DECODERS[name]!(notif(name, args), mem as unknown as ChildMemory);
}

const AT_FDCWD = -100;
const NOFOLLOW = 0x100;
const EMPTY = 0x1000;

test("decoding: paths, follow and AT_EMPTY_PATH, descriptors, and the kernel's errors", () => {
  const m = new FakeMemory();
  const p = m.put(0x1000, "dir/file");
  const e = m.put(0x2000, "");
  const r = decode(m, "fchownat", 5, p, 1000, 0xffffffff, NOFOLLOW) as MetaRequest;
  assert.deepEqual(r.target, { kind: "path", arg: { dirfd: 5, path: Buffer.from("dir/file"), follow: false, emptyPath: false } });
  assert.deepEqual(r.change, { op: "chown", uid: 1000, gid: 0xffffffff });
  assert.deepEqual((decode(m, "lchown", p, 1, 2) as MetaRequest).target, { kind: "path", arg: { dirfd: AT_FDCWD, path: Buffer.from("dir/file"), follow: false, emptyPath: false } });
  assert.deepEqual((decode(m, "chmod", p, 0x10000 | 0o4755) as MetaRequest).change, { op: "chmod", mode: 0o4755 }, "umode_t: 16 bits");
  assert.deepEqual((decode(m, "fchmodat2", 3, e, 0o600, EMPTY) as MetaRequest).target, { kind: "path", arg: { dirfd: 3, path: Buffer.alloc(0), follow: true, emptyPath: true } });
  assert.deepEqual((decode(m, "fchmod", 7, 0o600) as MetaRequest).target, { kind: "fd", fd: 7 });
  assert.equal(decode(m, "fchmodat2", 3, p, 0o600, 0x2), E.EINVAL, "unknown flag");
  assert.equal(decode(m, "fchownat", 3, p, 0, 0, 0x200), E.EINVAL, "AT_REMOVEDIR is not a flag of fchownat");
  assert.equal(decode(m, "chmod", 0, 0o600), E.EFAULT, "NULL path");
  const long = m.put(0x10000, "a".repeat(4096));
  assert.equal(decode(m, "chmod", long, 0o600), E.ENAMETOOLONG);
});

test("decoding xattrs: flags, then the name (ERANGE), then the size (E2BIG), then the value; the *at forms", () => {
  const m = new FakeMemory();
  const p = m.put(0x1000, "/f");
  const name = m.put(0x2000, "user.a");
  const value = m.put(0x3000, Buffer.from("abc"));
  const r = decode(m, "setxattr", p, name, value, 3, 1) as MetaRequest;
  assert.deepEqual(r.change, { op: "setxattr", name: Buffer.from("user.a\0"), value: Buffer.from("abc"), flags: 1 });
  assert.equal(decode(m, "setxattr", p, name, value, 3, 4), E.EINVAL);
  assert.equal(decode(m, "setxattr", p, m.put(0x4000, ""), value, 3, 0), E.ERANGE, "empty name");
  assert.equal(decode(m, "setxattr", p, m.put(0x5000, "u".repeat(256)), value, 3, 0), E.ERANGE, "name too long");
  assert.equal(decode(m, "setxattr", p, name, value, 65537, 0), E.E2BIG);
  assert.equal(decode(m, "setxattr", p, name, 0x9000, 3, 0), E.EFAULT, "unreadable value");
  assert.deepEqual((decode(m, "setxattr", p, name, 0, 0, 0) as MetaRequest).change, { op: "setxattr", name: Buffer.from("user.a\0"), value: Buffer.alloc(0), flags: 0 });
  assert.deepEqual((decode(m, "fremovexattr", 4, name) as MetaRequest).target, { kind: "fd", fd: 4 });
  const args = Buffer.alloc(16);
  args.writeBigUInt64LE(BigInt(value), 0);
  args.writeUInt32LE(3, 8);
  const a = m.put(0x6000, Buffer.concat([args, Buffer.alloc(8)]));
  const e = m.put(0x7000, "");
  const at = decode(m, "setxattrat", 9, p, 0, name, a, 16) as MetaRequest;
  assert.deepEqual(at.change, { op: "setxattr", name: Buffer.from("user.a\0"), value: Buffer.from("abc"), flags: 0 });
  assert.equal(decode(m, "setxattrat", 9, p, 0, name, a, 8), E.EINVAL, "struct smaller than version 0");
  assert.deepEqual((decode(m, "setxattrat", 9, p, 0, name, a, 24) as MetaRequest).change, at.change, "zero bytes past the struct");
  const dirty = m.put(0x8000, Buffer.concat([args, Buffer.from([0, 0, 0, 1, 0, 0, 0, 0])]));
  assert.equal(decode(m, "setxattrat", 9, p, 0, name, dirty, 24), E.E2BIG, "non-zero bytes past the struct");
  // An empty path with AT_EMPTY_PATH is the descriptor itself (f*xattr), or the working directory.
  assert.deepEqual((decode(m, "setxattrat", 9, e, EMPTY, name, a, 16) as MetaRequest).target, { kind: "fd", fd: 9 });
  assert.deepEqual((decode(m, "removexattrat", 9, 0, EMPTY, name) as MetaRequest).target, { kind: "fd", fd: 9 });
  assert.deepEqual((decode(m, "removexattrat", AT_FDCWD, e, EMPTY, name) as MetaRequest).target, { kind: "path", arg: { dirfd: AT_FDCWD, path: Buffer.alloc(0), follow: true, emptyPath: true } });
  assert.equal(decode(m, "removexattrat", -5, e, EMPTY, name), E.EBADF);
  assert.equal(decode(m, "removexattrat", 9, 0, 0, name), E.EFAULT, "NULL path without AT_EMPTY_PATH");
});

test("decoding times: NULL is now, both UTIME_OMIT does nothing, timevals are checked and converted, fd forms", () => {
  const m = new FakeMemory();
  const p = m.put(0x1000, "/f");
  const ts = (a: bigint, an: bigint, b: bigint, bn: bigint): Buffer => {
    const t = Buffer.alloc(32);
    [a, an, b, bn].forEach((v, i) => t.writeBigInt64LE(v, 8 * i));
    return t;
  };
  const OMIT = (1n << 30n) - 2n;
  const NOW = (1n << 30n) - 1n;
  const spec = ts(5n, 6n, 7n, 8n);
  assert.deepEqual((decode(m, "utimensat", AT_FDCWD, p, m.put(0x2000, spec), 0) as MetaRequest).change, { op: "times", times: spec });
  assert.equal(decode(m, "utimensat", AT_FDCWD, p, m.put(0x3000, ts(0n, OMIT, 0n, OMIT)), 0xffff), "done", "nothing to do, not even the flags");
  assert.deepEqual((decode(m, "utimensat", AT_FDCWD, p, m.put(0x4000, ts(0n, NOW, 0n, NOW)), 0) as MetaRequest).change, { op: "times", times: null });
  assert.deepEqual((decode(m, "utimensat", 4, 0, 0, 0) as MetaRequest).target, { kind: "fd", fd: 4 }, "futimens");
  assert.equal(decode(m, "utimensat", 4, 0, 0, NOFOLLOW), E.EINVAL, "futimens takes no flags");
  assert.equal(decode(m, "utimensat", AT_FDCWD, p, 0, 0x8), E.EINVAL);
  const tv = m.put(0x5000, ts(10n, 999999n, 20n, 1n));
  assert.deepEqual((decode(m, "utimes", p, tv) as MetaRequest).change, { op: "times", times: ts(10n, 999999000n, 20n, 1000n) });
  assert.equal(decode(m, "utimes", p, m.put(0x6000, ts(1n, 1000000n, 2n, 0n))), E.EINVAL, "microseconds out of range");
  assert.deepEqual((decode(m, "futimesat", 4, 0, tv) as MetaRequest).target, { kind: "fd", fd: 4 }, "futimesat without a path: the descriptor");
  const ub = Buffer.alloc(16);
  ub.writeBigInt64LE(30n, 0);
  ub.writeBigInt64LE(40n, 8);
  assert.deepEqual((decode(m, "utime", p, m.put(0x7000, ub)) as MetaRequest).change, { op: "times", times: ts(30n, 0n, 40n, 0n) });
  assert.deepEqual((decode(m, "utime", p, 0) as MetaRequest).change, { op: "times", times: null });
});

test("decoding ioctls: the argument the kernel reads, copied", () => {
  const m = new FakeMemory();
  const flags = m.put(0x1000, Buffer.from([0x40, 0, 0, 0]));
  assert.deepEqual(decode(m, "ioctl", 3, 0x40086602, flags), { target: { kind: "fd", fd: 3 }, change: { op: "ioctl", request: 0x40086602, arg: Buffer.from([0x40, 0, 0, 0]) } });
  assert.equal(decode(m, "ioctl", 3, 0x401c5820, flags), E.EFAULT, "struct fsxattr is 28 bytes");
});

test("chmod: set-user-ID on anything and set-group-ID on anything but a directory are refused (seventh review)", () => {
  const file: FileId = { dev: 1n, ino: 2n, mode: 0o100644, nlink: 1 };
  const dir: FileId = { dev: 1n, ino: 3n, mode: 0o040755, nlink: 2 };
  for (const m of [0o4755, 0o2755, 0o6755, 0o4000, 0o2000]) assert.equal(setsIds(m, file), true, m.toString(8));
  for (const m of [0o755, 0o1777, 0o644, 0o7777 & ~0o6000]) assert.equal(setsIds(m, file), false, m.toString(8));
  assert.equal(setsIds(0o2755, dir), false, "g+s on a directory only passes the group on");
  assert.equal(setsIds(0o4755, dir), true);
});
