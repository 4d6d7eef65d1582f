// A classic-BPF assembler for seccomp filters: symbolic labels for forward jumps, checked
// offsets, and the 8-byte sock_filter encoding the kernel reads.

export const BPF = {
  LD_W_ABS: 0x20,
  ALU_AND_K: 0x54,
  JMP_JA: 0x05,
  JMP_JEQ_K: 0x15,
  JMP_JGT_K: 0x25,
  JMP_JGE_K: 0x35,
  JMP_JSET_K: 0x45,
  RET_K: 0x06,
} as const;

/** Offsets into struct seccomp_data. Arguments are 64-bit; x86_64 is little-endian. */
export const SeccompData = {
  NR: 0,
  ARCH: 4,
  argLow: (i: number): number => 16 + 8 * i,
  argHigh: (i: number): number => 20 + 8 * i,
} as const;

export const Ret = {
  KILL_PROCESS: 0x80000000,
  TRAP: 0x00030000,
  ERRNO: 0x00050000,
  USER_NOTIF: 0x7fc00000,
  LOG: 0x7ffc0000,
  ALLOW: 0x7fff0000,
  errno: (e: number): number => (0x00050000 | (e & 0xffff)) >>> 0,
} as const;

export interface Insn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

/** A jump target: a label name, or a relative count of instructions to skip. */
export type Target = string | number;

interface PendingInsn {
  code: number;
  jt: Target;
  jf: Target;
  k: number | string; // for JA: a label name or a relative offset
}

export class BpfAssembler {
  private readonly insns: PendingInsn[] = [];
  private readonly labels = new Map<string, number>();

  get length(): number {
    return this.insns.length;
  }

  label(name: string): this {
    if (this.labels.has(name)) throw new Error(`bpf: label ${name} defined twice`);
    this.labels.set(name, this.insns.length);
    return this;
  }

  load(offset: number): this {
    return this.emit(BPF.LD_W_ABS, 0, 0, offset);
  }

  and(mask: number): this {
    return this.emit(BPF.ALU_AND_K, 0, 0, mask);
  }

  jeq(k: number, jt: Target, jf: Target = 0): this {
    return this.emit(BPF.JMP_JEQ_K, jt, jf, k);
  }

  jge(k: number, jt: Target, jf: Target = 0): this {
    return this.emit(BPF.JMP_JGE_K, jt, jf, k);
  }

  jset(k: number, jt: Target, jf: Target = 0): this {
    return this.emit(BPF.JMP_JSET_K, jt, jf, k);
  }

  ja(target: string): this {
    this.insns.push({ code: BPF.JMP_JA, jt: 0, jf: 0, k: target });
    return this;
  }

  /** Appends an instruction whose jumps are already relative offsets. */
  raw(i: Insn): this {
    this.insns.push({ code: i.code, jt: i.jt, jf: i.jf, k: i.k });
    return this;
  }

  ret(k: number): this {
    return this.emit(BPF.RET_K, 0, 0, k);
  }

  private emit(code: number, jt: Target, jf: Target, k: number): this {
    this.insns.push({ code, jt, jf, k: k >>> 0 });
    return this;
  }

  private resolve(from: number, t: Target, wide: boolean): number {
    const off = typeof t === "number" ? t : this.labelIndex(t) - from - 1;
    const max = wide ? 0xffffffff : 0xff;
    if (!Number.isInteger(off) || off < 0 || off > max) {
      throw new Error(`bpf: jump from ${from} to ${String(t)} is out of range (${off})`);
    }
    return off;
  }

  private labelIndex(name: string): number {
    const at = this.labels.get(name);
    if (at === undefined) throw new Error(`bpf: undefined label ${name}`);
    return at;
  }

  assemble(): Insn[] {
    const out = this.insns.map((p, i): Insn => {
      if (p.code === BPF.JMP_JA) return { code: p.code, jt: 0, jf: 0, k: this.resolve(i, p.k, true) };
      return { code: p.code, jt: this.resolve(i, p.jt, false), jf: this.resolve(i, p.jf, false), k: p.k as number };
    });
    const last = out[out.length - 1];
    if (last === undefined || last.code !== BPF.RET_K) throw new Error("bpf: program must end with a return");
    // A jump must land on an instruction: a label after the last one is a bug here, not
    // something to leave for the kernel to refuse at load time.
    out.forEach((ins, i) => {
      const isJump = (ins.code & 0x07) === 0x05;
      const targets = !isJump ? [] : ins.code === BPF.JMP_JA ? [ins.k] : [ins.jt, ins.jf];
      for (const off of targets) {
        if (i + 1 + off >= out.length) throw new Error(`bpf: jump from ${i} lands past the end of the program`);
      }
    });
    if (out.length > 4096) throw new Error(`bpf: program has ${out.length} instructions, above BPF_MAXINSNS`);
    return out;
  }
}

export function encodeProgram(insns: readonly Insn[]): Buffer {
  const buf = Buffer.alloc(insns.length * 8);
  // DataView's setters are V8 built-ins: cheaper than Buffer's checked writers in the
  // cold code of a CLI run, which encodes a few hundred instructions once.
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  for (let i = 0; i < insns.length; i++) {
    const ins = insns[i]!;
    view.setUint16(i * 8, ins.code, true);
    view.setUint8(i * 8 + 2, ins.jt);
    view.setUint8(i * 8 + 3, ins.jf);
    view.setUint32(i * 8 + 4, ins.k >>> 0, true);
  }
  return buf;
}
