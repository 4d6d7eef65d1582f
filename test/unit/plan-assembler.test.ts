// The BPF assembler: labels become relative offsets, and every way of producing a program
// the kernel would refuse (far jumps, missing or duplicate labels, no final return, too
// many instructions) throws at assembly time.

import { test } from "node:test";
import assert from "node:assert/strict";
import { BPF, BpfAssembler, Ret, SeccompData, encodeProgram } from "../../src/plan/bpf/assembler.js";
import { runFilter, runFilterTrace, validateFilter } from "../helpers/bpf-interpreter.js";

test("opcodes and seccomp_data offsets have the kernel's values", () => {
  assert.deepEqual({ ...BPF }, {
    LD_W_ABS: 0x20, ALU_AND_K: 0x54, JMP_JA: 0x05, JMP_JEQ_K: 0x15, JMP_JGT_K: 0x25, JMP_JGE_K: 0x35, JMP_JSET_K: 0x45, RET_K: 0x06,
  });
  assert.equal(SeccompData.NR, 0);
  assert.equal(SeccompData.ARCH, 4);
  assert.deepEqual([0, 1, 5].map(SeccompData.argLow), [16, 24, 56]);
  assert.deepEqual([0, 1, 5].map(SeccompData.argHigh), [20, 28, 60]);
  assert.equal(Ret.errno(1), 0x00050001);
  assert.equal(Ret.errno(0x12345), 0x00052345, "errno data is 16 bits");
  assert.equal(Ret.USER_NOTIF, 0x7fc00000);
  assert.equal(Ret.TRAP, 0x00030000);
  assert.equal(Ret.LOG, 0x7ffc0000);
});

test("forward labels resolve to relative offsets", () => {
  const a = new BpfAssembler();
  a.load(SeccompData.NR) // 0
    .jeq(1, "one", 0) // 1: jt -> 5 (offset 3)
    .jeq(2, "two", "other") // 2: jt -> 7 (4), jf -> 8 (5)
    .ja("other") // 3: k -> 8 (4)
    .ret(0) // 4 (dead)
    .label("one")
    .ret(0x10) // 5
    .ret(0x11) // 6 (dead)
    .label("two")
    .ret(0x20) // 7
    .label("other")
    .ret(0x30); // 8
  assert.equal(a.length, 9);
  const p = a.assemble();
  assert.deepEqual(p[1], { code: 0x15, jt: 3, jf: 0, k: 1 });
  assert.deepEqual(p[2], { code: 0x15, jt: 4, jf: 5, k: 2 });
  assert.deepEqual(p[3], { code: 0x05, jt: 0, jf: 0, k: 4 });
  validateFilter(p);
  assert.equal(runFilter(p, { nr: 1 }), 0x10);
  assert.equal(runFilter(p, { nr: 2 }), 0x20);
  assert.equal(runFilter(p, { nr: 3 }), 0x30);
});

test("a label on the very next instruction is offset 0, numbers pass through unchanged", () => {
  const p = new BpfAssembler().load(0).jge(5, "next", 1).label("next").ret(1).ret(2).assemble();
  assert.deepEqual(p[1], { code: 0x35, jt: 0, jf: 1, k: 5 });
  assert.equal(runFilter(p, { nr: 7 }), 1);
  assert.equal(runFilter(p, { nr: 4 }), 2);
});

test("jset, and and raw instructions assemble as written", () => {
  const p = new BpfAssembler()
    .load(SeccompData.argLow(0))
    .and(0xff)
    .jset(0x80, "hi")
    .raw({ code: 0x06, jt: 0, jf: 0, k: 0x7fff0000 })
    .label("hi")
    .ret(0x00050001)
    .assemble();
  assert.deepEqual(p, [
    { code: 0x20, jt: 0, jf: 0, k: 16 },
    { code: 0x54, jt: 0, jf: 0, k: 0xff },
    { code: 0x45, jt: 1, jf: 0, k: 0x80 },
    { code: 0x06, jt: 0, jf: 0, k: 0x7fff0000 },
    { code: 0x06, jt: 0, jf: 0, k: 0x00050001 },
  ]);
  assert.equal(runFilter(p, { nr: 0, args: [0x180] }), 0x00050001);
  assert.equal(runFilter(p, { nr: 0, args: [0x100] }), 0x7fff0000);
});

test("k is stored as an unsigned 32-bit value", () => {
  const p = new BpfAssembler().load(0).jeq(-1, 0, 1).ret(-0x80000000).ret(0x80000000).assemble();
  assert.equal(p[1]!.k, 0xffffffff);
  assert.equal(p[2]!.k, 0x80000000);
  assert.equal(runFilter(p, { nr: 0xffffffff }), 0x80000000);
});

test("a conditional jump of exactly 255 is accepted, 256 throws", () => {
  const build = (gap: number): BpfAssembler => {
    const a = new BpfAssembler().load(0).jeq(1, "far", 0);
    for (let i = 0; i < gap; i++) a.ret(i);
    return a.label("far").ret(0xffff);
  };
  const ok = build(255).assemble();
  assert.equal(ok[1]!.jt, 255);
  assert.equal(runFilter(ok, { nr: 1 }), 0xffff);
  assert.equal(runFilter(ok, { nr: 2 }), 0);
  assert.throws(() => build(256).assemble(), /bpf: jump from 1 to far is out of range \(256\)/);
  // The false branch is checked as well.
  const jf = new BpfAssembler().load(0).jeq(1, 0, "far");
  for (let i = 0; i < 300; i++) jf.ret(i);
  assert.throws(() => jf.label("far").ret(0).assemble(), /out of range \(300\)/);
});

test("an unconditional jump may go farther than 255", () => {
  const a = new BpfAssembler().load(0).ja("far");
  for (let i = 0; i < 1000; i++) a.ret(i);
  const p = a.label("far").ret(0xabc).assemble();
  assert.equal(p[1]!.k, 1000);
  assert.equal(runFilter(p, { nr: 0 }), 0xabc);
  assert.equal(runFilterTrace(p, { nr: 0 }).steps, 3);
});

test("a backward jump throws", () => {
  const a = new BpfAssembler().load(0).label("back").jeq(1, "back", 0).ret(0);
  assert.throws(() => a.assemble(), /out of range \(-1\)/);
  const b = new BpfAssembler().label("top").load(0).ja("top").ret(0);
  assert.throws(() => b.assemble(), /out of range/);
  assert.throws(() => new BpfAssembler().load(0).jeq(1, -1, 0).ret(0).assemble(), /out of range/);
  assert.throws(() => new BpfAssembler().load(0).jeq(1, 0.5, 0).ret(0).ret(1).assemble(), /out of range/);
});

test("an undefined label throws", () => {
  assert.throws(() => new BpfAssembler().load(0).jeq(1, "nowhere", 0).ret(0).assemble(), /bpf: undefined label nowhere/);
  assert.throws(() => new BpfAssembler().load(0).jeq(1, 0, "gone").ret(0).assemble(), /undefined label gone/);
  assert.throws(() => new BpfAssembler().ja("lost").ret(0).assemble(), /undefined label lost/);
});

test("a label defined twice throws", () => {
  const a = new BpfAssembler().label("x").ret(0);
  assert.throws(() => a.label("x"), /bpf: label x defined twice/);
});

test("a program that does not end in a return throws", () => {
  assert.throws(() => new BpfAssembler().assemble(), /must end with a return/);
  assert.throws(() => new BpfAssembler().ret(0).load(0).assemble(), /must end with a return/);
  assert.throws(() => new BpfAssembler().ret(0).jeq(1, 0, 0).assemble(), /must end with a return/);
});

test("4096 instructions are accepted, 4097 throw", () => {
  const build = (n: number): BpfAssembler => {
    const a = new BpfAssembler();
    for (let i = 0; i < n; i++) a.ret(i);
    return a;
  };
  assert.equal(build(4096).assemble().length, 4096);
  assert.throws(() => build(4097).assemble(), /4097 instructions, above BPF_MAXINSNS/);
});

test("assembled programs pass the kernel's loader checks", () => {
  const p = new BpfAssembler().load(SeccompData.ARCH).jeq(0xc000003e, 1, 0).ret(Ret.KILL_PROCESS).ret(Ret.ALLOW).assemble();
  assert.equal(validateFilter(p).length, 4);
  assert.equal(validateFilter(encodeProgram(p)).length, 4);
  assert.equal(runFilter(encodeProgram(p), { nr: 0 }), Ret.ALLOW);
  assert.equal(runFilter(encodeProgram(p), { nr: 0, arch: 3 }), Ret.KILL_PROCESS);
});

test("a label after the last instruction throws instead of jumping past the end", () => {
  // The kernel refuses a jump whose target is not an instruction of the program (EINVAL
  // from bpf_check_classic at seccomp() time); the assembler should catch it first.
  const a = new BpfAssembler().load(0).jeq(1, "end", 0).ret(0).label("end");
  assert.throws(() => validateFilter(jumpPastEnd()), /past the end/);
  assert.throws(() => a.assemble(), /bpf: jump .* out of range|past the end|undefined|no instruction/);
  const b = new BpfAssembler().load(0).ja("end").ret(0).label("end");
  assert.throws(() => b.assemble(), /bpf: jump .* out of range|past the end|undefined|no instruction/);
});

function jumpPastEnd(): { code: number; jt: number; jf: number; k: number }[] {
  return [
    { code: 0x20, jt: 0, jf: 0, k: 0 },
    { code: 0x15, jt: 1, jf: 0, k: 1 },
    { code: 0x06, jt: 0, jf: 0, k: 0 },
  ];
}
