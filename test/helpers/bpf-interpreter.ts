// A classic-BPF interpreter for seccomp filters, written from the kernel's rules and not
// from src/: it checks a program the way the kernel's loader does, then runs it on one
// struct seccomp_data. Anything the kernel would refuse, or could not run, throws.

/** One sock_filter, as the assembler returns it (structurally typed: no import from src/). */
export interface BpfInsn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

/** The seccomp_data a filter sees. Arguments are 64-bit; a number must be a safe integer. */
export interface SeccompInput {
  nr: number;
  /** AUDIT_ARCH_X86_64 when left out. */
  arch?: number;
  instructionPointer?: number | bigint;
  /** Up to six arguments; missing ones are 0. Negative values are taken as two's complement. */
  args?: readonly (number | bigint)[];
}

export interface FilterTrace {
  /** The 32-bit return value of the filter (the seccomp action and its data). */
  action: number;
  /** Instructions executed, the final return included. */
  steps: number;
  /** Indices of the executed instructions, in order. */
  path: number[];
}

export const AUDIT_ARCH_X86_64_DEFAULT = 0xc000003e;
/** sizeof(struct seccomp_data): nr, arch, instruction_pointer, args[6]. */
export const SECCOMP_DATA_BYTES = 64;
const BPF_MAXINSNS = 4096;
const BPF_MEMWORDS = 16;

// Opcode fields (linux/bpf_common.h).
const CLASS = { LD: 0x00, LDX: 0x01, ST: 0x02, STX: 0x03, ALU: 0x04, JMP: 0x05, RET: 0x06, MISC: 0x07 } as const;
const SIZE_W = 0x00;
const MODE = { IMM: 0x00, ABS: 0x20, IND: 0x40, MEM: 0x60, LEN: 0x80, MSH: 0xa0 } as const;
const ALU = { ADD: 0x00, SUB: 0x10, MUL: 0x20, DIV: 0x30, OR: 0x40, AND: 0x50, LSH: 0x60, RSH: 0x70, NEG: 0x80, MOD: 0x90, XOR: 0xa0 } as const;
const JMP = { JA: 0x00, JEQ: 0x10, JGT: 0x20, JGE: 0x30, JSET: 0x40 } as const;
const SRC_X = 0x08;
const RVAL = { K: 0x00, A: 0x10 } as const;
const MISC_TXA = 0x80;

const cls = (code: number): number => code & 0x07;
const size = (code: number): number => code & 0x18;
const mode = (code: number): number => code & 0xe0;
const op = (code: number): number => code & 0xf0;
const hex = (n: number): string => `0x${(n >>> 0).toString(16)}`;

/** Decodes the 8-byte little-endian sock_filter layout {u16 code, u8 jt, u8 jf, u32 k}. */
export function decodeProgram(buf: Buffer): BpfInsn[] {
  if (buf.length % 8 !== 0) throw new Error(`bpf: program of ${buf.length} bytes is not a whole number of instructions`);
  const out: BpfInsn[] = [];
  for (let off = 0; off < buf.length; off += 8) {
    out.push({ code: buf.readUInt16LE(off), jt: buf.readUInt8(off + 2), jf: buf.readUInt8(off + 3), k: buf.readUInt32LE(off + 4) });
  }
  return out;
}

function toProgram(insns: readonly BpfInsn[] | Buffer): readonly BpfInsn[] {
  return Buffer.isBuffer(insns) ? decodeProgram(insns) : insns;
}

function checkField(pc: number, name: string, v: number, max: number): void {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new Error(`bpf: insn ${pc}: ${name} ${String(v)} is not in 0..${max}`);
}

/**
 * The loader's checks (kernel bpf_check_classic + seccomp_check_filter): length 1..4096,
 * only the opcodes seccomp accepts, word loads of seccomp_data at aligned offsets inside
 * it, scratch slots 0..15, no constant division by zero or shift by 32 or more, every
 * jump landing inside the program, and a return as the last instruction.
 */
export function validateFilter(insns: readonly BpfInsn[] | Buffer): readonly BpfInsn[] {
  const prog = toProgram(insns);
  const n = prog.length;
  if (n === 0 || n > BPF_MAXINSNS) throw new Error(`bpf: program length ${n} is not in 1..${BPF_MAXINSNS}`);
  prog.forEach((ins, pc) => {
    checkField(pc, "code", ins.code, 0xffff);
    checkField(pc, "jt", ins.jt, 0xff);
    checkField(pc, "jf", ins.jf, 0xff);
    if (!Number.isInteger(ins.k) || ins.k < -0x80000000 || ins.k > 0xffffffff) throw new Error(`bpf: insn ${pc}: k ${ins.k} is not 32-bit`);
    const k = ins.k >>> 0;
    const c = ins.code;
    switch (cls(c)) {
      case CLASS.LD:
      case CLASS.LDX: {
        if (size(c) !== SIZE_W) throw new Error(`bpf: insn ${pc}: load of size other than a word (${hex(c)})`);
        const m = mode(c);
        if (cls(c) === CLASS.LD && m === MODE.ABS) {
          if (k >= SECCOMP_DATA_BYTES || k % 4 !== 0) throw new Error(`bpf: insn ${pc}: load at offset ${k} is outside seccomp_data or unaligned`);
        } else if (m === MODE.MEM) {
          if (k >= BPF_MEMWORDS) throw new Error(`bpf: insn ${pc}: scratch slot ${k} out of range`);
        } else if (m !== MODE.IMM && m !== MODE.LEN) {
          throw new Error(`bpf: insn ${pc}: load mode ${hex(m)} is not allowed in seccomp (${hex(c)})`);
        }
        if (c & ~0xff) throw new Error(`bpf: insn ${pc}: unknown opcode ${hex(c)}`);
        break;
      }
      case CLASS.ST:
      case CLASS.STX:
        if (c !== CLASS.ST && c !== CLASS.STX) throw new Error(`bpf: insn ${pc}: unknown opcode ${hex(c)}`);
        if (k >= BPF_MEMWORDS) throw new Error(`bpf: insn ${pc}: scratch slot ${k} out of range`);
        break;
      case CLASS.ALU: {
        const o = op(c);
        if (!(Object.values(ALU) as number[]).includes(o) || (c & ~0xff) !== 0 || (c & 0x07) !== CLASS.ALU) {
          throw new Error(`bpf: insn ${pc}: unknown opcode ${hex(c)}`);
        }
        if (o === ALU.NEG && (c & SRC_X)) throw new Error(`bpf: insn ${pc}: unknown opcode ${hex(c)}`);
        if (!(c & SRC_X) && (o === ALU.DIV || o === ALU.MOD) && k === 0) throw new Error(`bpf: insn ${pc}: division by constant zero`);
        if (!(c & SRC_X) && (o === ALU.LSH || o === ALU.RSH) && k >= 32) throw new Error(`bpf: insn ${pc}: shift by ${k}`);
        break;
      }
      case CLASS.JMP: {
        const o = op(c);
        if (!(Object.values(JMP) as number[]).includes(o) || (c & ~0xff) !== 0) throw new Error(`bpf: insn ${pc}: unknown opcode ${hex(c)}`);
        if (o === JMP.JA) {
          if (c !== (CLASS.JMP | JMP.JA)) throw new Error(`bpf: insn ${pc}: unknown opcode ${hex(c)}`);
          if (k >= n - pc - 1) throw new Error(`bpf: insn ${pc}: ja +${k} jumps past the end (length ${n})`);
        } else if (pc + ins.jt + 1 >= n || pc + ins.jf + 1 >= n) {
          throw new Error(`bpf: insn ${pc}: jump (jt ${ins.jt}, jf ${ins.jf}) goes past the end (length ${n})`);
        }
        break;
      }
      case CLASS.RET:
        // The kernel accepts RET K and RET A only (no RET X).
        if (c !== (CLASS.RET | RVAL.K) && c !== (CLASS.RET | RVAL.A)) {
          throw new Error(`bpf: insn ${pc}: unknown opcode ${hex(c)}`);
        }
        break;
      case CLASS.MISC:
        if (c !== (CLASS.MISC | 0x00) && c !== (CLASS.MISC | MISC_TXA)) throw new Error(`bpf: insn ${pc}: unknown opcode ${hex(c)}`);
        break;
    }
  });
  if (cls(prog[n - 1]!.code) !== CLASS.RET) throw new Error("bpf: the last instruction is not a return");
  return prog;
}

function toU64(v: number | bigint): bigint {
  if (typeof v === "number" && !Number.isSafeInteger(v)) throw new Error(`bpf: argument ${v} is not a safe integer`);
  return BigInt.asUintN(64, BigInt(v));
}

/** The 64 bytes of struct seccomp_data on a little-endian machine. */
export function seccompData(input: SeccompInput): Buffer {
  const args = input.args ?? [];
  if (args.length > 6) throw new Error("bpf: seccomp_data has six arguments");
  const b = Buffer.alloc(SECCOMP_DATA_BYTES);
  b.writeUInt32LE(input.nr >>> 0, 0);
  b.writeUInt32LE((input.arch ?? AUDIT_ARCH_X86_64_DEFAULT) >>> 0, 4);
  b.writeBigUInt64LE(toU64(input.instructionPointer ?? 0), 8);
  args.forEach((a, i) => b.writeBigUInt64LE(toU64(a), 16 + 8 * i));
  return b;
}

/**
 * Programs already checked, so that sweeping thousands of inputs over one program checks it
 * once. Keyed by the array or Buffer object; the cached copy is compared with the current
 * content on every run, so a program changed after its check is checked again.
 */
const checked = new WeakMap<object, readonly BpfInsn[]>();

function sameProgram(a: readonly BpfInsn[], b: readonly BpfInsn[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!, y = b[i]!;
    if (x.code !== y.code || x.jt !== y.jt || x.jf !== y.jf || x.k !== y.k) return false;
  }
  return true;
}

function checkedProgram(insns: readonly BpfInsn[] | Buffer): readonly BpfInsn[] {
  const hit = checked.get(insns);
  if (hit !== undefined) {
    if (Buffer.isBuffer(insns) ? sameProgram(hit, decodeProgram(insns)) : sameProgram(hit, insns)) return hit;
  }
  const prog = validateFilter(insns).map((i) => ({ ...i }));
  checked.set(insns, prog);
  return prog;
}

/** Runs the filter and reports the action, the instruction count and the path taken. */
export function runFilterTrace(insns: readonly BpfInsn[] | Buffer, input: SeccompInput): FilterTrace {
  const prog = checkedProgram(insns);
  const data = seccompData(input);
  const mem: (number | undefined)[] = new Array<number | undefined>(BPF_MEMWORDS).fill(undefined);
  let A = 0;
  let X = 0;
  const path: number[] = [];
  let pc = 0;
  for (;;) {
    const ins = prog[pc];
    if (ins === undefined) throw new Error(`bpf: execution fell off the end at ${pc}`);
    path.push(pc);
    if (path.length > BPF_MAXINSNS) throw new Error("bpf: more steps than a forward-only program can take");
    const c = ins.code;
    const k = ins.k >>> 0;
    const readMem = (slot: number): number => {
      const v = mem[slot];
      if (v === undefined) throw new Error(`bpf: insn ${pc}: scratch slot ${slot} read before it was written`);
      return v;
    };
    let next = pc + 1;
    switch (cls(c)) {
      case CLASS.LD:
      case CLASS.LDX: {
        let v: number;
        switch (mode(c)) {
          case MODE.IMM: v = k; break;
          case MODE.LEN: v = SECCOMP_DATA_BYTES; break;
          case MODE.MEM: v = readMem(k); break;
          case MODE.ABS:
            if (k + 4 > SECCOMP_DATA_BYTES) throw new Error(`bpf: insn ${pc}: load at ${k} is out of range`);
            v = data.readUInt32LE(k);
            break;
          default: throw new Error(`bpf: insn ${pc}: unknown opcode ${hex(c)}`);
        }
        if (cls(c) === CLASS.LD) A = v;
        else X = v;
        break;
      }
      case CLASS.ST: mem[k] = A; break;
      case CLASS.STX: mem[k] = X; break;
      case CLASS.ALU: {
        const src = c & SRC_X ? X : k;
        switch (op(c)) {
          case ALU.ADD: A = (A + src) >>> 0; break;
          case ALU.SUB: A = (A - src) >>> 0; break;
          case ALU.MUL: A = Math.imul(A, src) >>> 0; break;
          // The kernel ends the filter with 0 on a runtime division by zero.
          case ALU.DIV: if (src === 0) return { action: 0, steps: path.length, path }; A = Math.floor(A / src) >>> 0; break;
          case ALU.MOD: if (src === 0) return { action: 0, steps: path.length, path }; A = (A % src) >>> 0; break;
          case ALU.OR: A = (A | src) >>> 0; break;
          case ALU.AND: A = (A & src) >>> 0; break;
          case ALU.XOR: A = (A ^ src) >>> 0; break;
          case ALU.LSH: A = src >= 32 ? 0 : (A << src) >>> 0; break;
          case ALU.RSH: A = src >= 32 ? 0 : A >>> src; break;
          case ALU.NEG: A = -A >>> 0; break;
          default: throw new Error(`bpf: insn ${pc}: unknown opcode ${hex(c)}`);
        }
        break;
      }
      case CLASS.JMP: {
        const src = c & SRC_X ? X : k;
        let taken: boolean;
        switch (op(c)) {
          case JMP.JA: next = pc + 1 + k; taken = true; break;
          case JMP.JEQ: taken = A === src; break;
          case JMP.JGT: taken = A > src; break;
          case JMP.JGE: taken = A >= src; break;
          case JMP.JSET: taken = (A & src) !== 0; break;
          default: throw new Error(`bpf: insn ${pc}: unknown opcode ${hex(c)}`);
        }
        if (op(c) !== JMP.JA) next = pc + 1 + (taken ? ins.jt : ins.jf);
        if (next >= prog.length) throw new Error(`bpf: insn ${pc}: jump to ${next} is past the end`);
        break;
      }
      case CLASS.RET: {
        const action = (c & 0x18) === RVAL.A ? A : k;
        return { action: action >>> 0, steps: path.length, path };
      }
      case CLASS.MISC:
        if (c & MISC_TXA) A = X;
        else X = A;
        break;
      default:
        throw new Error(`bpf: insn ${pc}: unknown opcode ${hex(c)}`);
    }
    pc = next;
  }
}

/** The 32-bit action the filter returns for this seccomp_data. */
export function runFilter(insns: readonly BpfInsn[] | Buffer, input: SeccompInput): number {
  return runFilterTrace(insns, input).action;
}
