// The test BPF interpreter itself: seccomp_data layout, every instruction class, and the
// loader checks that make a broken program fail a test instead of passing it.

import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeProgram, runFilter, runFilterTrace, seccompData, validateFilter, type BpfInsn } from "../helpers/bpf-interpreter.js";

const I = (code: number, k = 0, jt = 0, jf = 0): BpfInsn => ({ code, jt, jf, k });
const LD_ABS = 0x20, LD_IMM = 0x00, LDX_IMM = 0x01, LD_MEM = 0x60, LDX_MEM = 0x61, LD_LEN = 0x80, LDX_LEN = 0x81;
const ST = 0x02, STX = 0x03, TAX = 0x07, TXA = 0x87, RET_K = 0x06, RET_A = 0x16, JA = 0x05;

test("seccomp_data: nr, arch, instruction pointer and 64-bit little-endian arguments", () => {
  const d = seccompData({ nr: 59, arch: 0xc000003e, instructionPointer: 0x1122334455667788n, args: [1, -1, 0x123456789abcdefn] });
  assert.equal(d.length, 64);
  assert.equal(d.readUInt32LE(0), 59);
  assert.equal(d.readUInt32LE(4), 0xc000003e);
  assert.equal(d.readUInt32LE(8), 0x55667788);
  assert.equal(d.readUInt32LE(12), 0x11223344);
  assert.deepEqual([d.readUInt32LE(16), d.readUInt32LE(20)], [1, 0]);
  assert.deepEqual([d.readUInt32LE(24), d.readUInt32LE(28)], [0xffffffff, 0xffffffff]);
  assert.deepEqual([d.readUInt32LE(32), d.readUInt32LE(36)], [0x89abcdef, 0x01234567]);
  assert.equal(d.readBigUInt64LE(56), 0n);
  assert.throws(() => seccompData({ nr: 0, args: [2 ** 60] }), /not a safe integer/);
  assert.throws(() => seccompData({ nr: 0, args: [0, 0, 0, 0, 0, 0, 0] }), /six arguments/);
});

test("loads return the words of seccomp_data", () => {
  const input = { nr: 7, args: [0xaabbccddeeff0011n, 5] };
  const load = (off: number): number => runFilter([I(LD_ABS, off), I(RET_A)], input);
  assert.equal(load(0), 7);
  assert.equal(load(4), 0xc000003e);
  assert.equal(load(16), 0xeeff0011);
  assert.equal(load(20), 0xaabbccdd);
  assert.equal(load(24), 5);
  assert.equal(load(60), 0);
  assert.equal(runFilter([I(LD_LEN), I(RET_A)], input), 64);
  assert.equal(runFilter([I(LDX_LEN), I(TXA), I(RET_A)], input), 64);
});

test("ALU operations with K and X wrap at 32 bits", () => {
  const alu = (op: number, a: number, k: number): number => runFilter([I(LD_IMM, a), I(0x04 | op, k), I(RET_A)], { nr: 0 });
  const aluX = (op: number, a: number, x: number): number =>
    runFilter([I(LD_IMM, a), I(LDX_IMM, x), I(0x0c | op), I(RET_A)], { nr: 0 });
  assert.equal(alu(0x00, 0xffffffff, 2), 1); // add
  assert.equal(alu(0x10, 1, 2), 0xffffffff); // sub
  assert.equal(alu(0x20, 0x10000, 0x10000), 0); // mul
  assert.equal(alu(0x30, 7, 2), 3); // div
  assert.equal(alu(0x40, 0xf0, 0x0f), 0xff); // or
  assert.equal(alu(0x50, 0xf0, 0x3c), 0x30); // and
  assert.equal(alu(0x60, 1, 31), 0x80000000); // lsh
  assert.equal(alu(0x70, 0x80000000, 31), 1); // rsh
  assert.equal(alu(0x80, 1, 0), 0xffffffff); // neg
  assert.equal(alu(0x90, 7, 4), 3); // mod
  assert.equal(alu(0xa0, 0xff, 0x0f), 0xf0); // xor
  assert.equal(aluX(0x00, 3, 4), 7);
  assert.equal(aluX(0x50, 0x1234, 0xff), 0x34);
  assert.equal(aluX(0x30, 9, 0), 0, "division by X = 0 ends the filter with 0");
  assert.equal(aluX(0x60, 1, 40), 0);
});

test("jumps with K and X, scratch memory, TAX and TXA", () => {
  const jmp = (op: number, a: number, k: number): number =>
    runFilter([I(LD_IMM, a), I(0x05 | op, k, 0, 1), I(RET_K, 1), I(RET_K, 2)], { nr: 0 });
  assert.deepEqual([jmp(0x10, 5, 5), jmp(0x10, 5, 6)], [1, 2]); // jeq
  assert.deepEqual([jmp(0x20, 6, 5), jmp(0x20, 5, 5)], [1, 2]); // jgt
  assert.deepEqual([jmp(0x30, 5, 5), jmp(0x30, 4, 5)], [1, 2]); // jge
  assert.deepEqual([jmp(0x40, 6, 2), jmp(0x40, 4, 2)], [1, 2]); // jset
  assert.equal(jmp(0x30, 0xffffffff, 0x80000000), 1, "comparisons are unsigned");
  const x = runFilter([I(LD_IMM, 9), I(LDX_IMM, 9), I(0x1d, 0, 0, 1), I(RET_K, 1), I(RET_K, 2)], { nr: 0 });
  assert.equal(x, 1, "jeq X");
  const mem = runFilter([I(LD_IMM, 42), I(ST, 3), I(LD_IMM, 0), I(LDX_MEM, 3), I(TXA), I(STX, 15), I(LD_MEM, 15), I(RET_A)], { nr: 0 });
  assert.equal(mem, 42);
  assert.equal(runFilter([I(LD_IMM, 8), I(TAX), I(LD_IMM, 0), I(TXA), I(RET_A)], { nr: 0 }), 8);
  const t = runFilterTrace([I(LD_IMM, 1), I(JA, 1), I(RET_K, 5), I(RET_K, 6)], { nr: 0 });
  assert.deepEqual(t, { action: 6, steps: 3, path: [0, 1, 3] });
});

test("broken programs throw", () => {
  const bad: [string, BpfInsn[], RegExp][] = [
    ["empty", [], /length 0/],
    ["falls off the end", [I(LD_IMM, 1)], /last instruction is not a return/],
    ["unknown opcode", [I(0xff), I(RET_K)], /unknown opcode/],
    ["RET X", [I(0x0e), I(RET_K)], /unknown opcode/],
    ["byte load", [I(0x30, 0), I(RET_K)], /size other than a word/],
    ["indirect load", [I(0x40, 0), I(RET_K)], /not allowed in seccomp/],
    ["load past seccomp_data", [I(LD_ABS, 64), I(RET_K)], /outside seccomp_data/],
    ["unaligned load", [I(LD_ABS, 2), I(RET_K)], /unaligned/],
    ["scratch slot 16", [I(ST, 16), I(RET_K)], /scratch slot 16/],
    ["jt past the end", [I(0x15, 0, 1, 0), I(RET_K)], /past the end/],
    ["jf past the end", [I(0x15, 0, 0, 5), I(RET_K), I(RET_K)], /past the end/],
    ["ja past the end", [I(JA, 1), I(RET_K)], /past the end/],
    ["division by constant 0", [I(0x34, 0), I(RET_K)], /division by constant zero/],
    ["shift by 32", [I(0x64, 32), I(RET_K)], /shift by 32/],
    ["jt not a byte", [I(0x15, 0, 256, 0), I(RET_K)], /jt 256/],
  ];
  for (const [what, prog, re] of bad) {
    assert.throws(() => runFilter(prog, { nr: 0 }), re, what);
    assert.throws(() => validateFilter(prog), re, what);
  }
  assert.throws(() => runFilter(new Array<BpfInsn>(4097).fill(I(RET_K)), { nr: 0 }), /length 4097/);
  assert.throws(() => runFilter([I(LD_MEM, 2), I(RET_A)], { nr: 0 }), /read before it was written/);
  assert.throws(() => decodeProgram(Buffer.alloc(12)), /whole number/);
});

test("the Buffer form decodes little-endian {u16 code, u8 jt, u8 jf, u32 k}", () => {
  const buf = Buffer.from("2000000004000000" + "150001003e0000c0" + "0600000000000080" + "060000000000ff7f", "hex");
  assert.deepEqual(decodeProgram(buf), [I(0x20, 4), I(0x15, 0xc000003e, 1, 0), I(RET_K, 0x80000000), I(RET_K, 0x7fff0000)]);
  assert.equal(runFilter(buf, { nr: 0 }), 0x7fff0000);
  assert.equal(runFilter(buf, { nr: 0, arch: 0x40000003 }), 0x80000000);
});
