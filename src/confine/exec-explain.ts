// Why an execve was refused (EACCES), found on the host side from the sandbox's grants: the
// program itself, the interpreter its #! line names, or the dynamic loader its ELF header
// names (PT_INTERP) is outside every grant, or the file is not executable. Landlock checks
// the file a path leads to, so every path is compared by its real path.

import { closeSync, constants, fstatSync, openSync, readSync, realpathSync, statSync } from "node:fs";
import { dirname } from "node:path";
import type { PathGrant } from "../plan/landlock.js";
import { within } from "../plan/proc-grants.js";
import { presetCovering } from "../policy/presets.js";
import { printable } from "../printable.js";

const HEAD = 4096;
const PT_INTERP = 3;

function realpath(p: string): string | undefined {
  try {
    return realpathSync.native(p);
  } catch {
    return undefined;
  }
}

/** The first bytes of a regular file. Opened without blocking: the program, or the
 * interpreter its #! line names, may be a FIFO a sandbox left in a writable grant, whose
 * blocking open held the process that started the run until a writer came (tenth review). */
function head(path: string): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK); // libuv adds O_CLOEXEC
  } catch {
    return undefined;
  }
  try {
    if (!fstatSync(fd).isFile()) return undefined;
    const buf = Buffer.alloc(HEAD);
    return buf.subarray(0, readSync(fd, buf, 0, HEAD, 0));
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** The interpreter of a 64-bit little-endian ELF (the loader a dynamic program needs), or
 * undefined for a static one or anything else. Program headers are read from the first
 * page, where linkers put them. */
export function elfInterpreter(b: Buffer): string | undefined {
  if (b.length < 64 || b.readUInt32BE(0) !== 0x7f454c46 || b[4] !== 2 || b[5] !== 1) return undefined;
  const phoff = Number(b.readBigUInt64LE(32));
  const phentsize = b.readUInt16LE(54);
  const phnum = b.readUInt16LE(56);
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    if (at + 56 > b.length) return undefined;
    if (b.readUInt32LE(at) !== PT_INTERP) continue;
    const off = Number(b.readBigUInt64LE(at + 8));
    const size = Number(b.readBigUInt64LE(at + 32));
    if (off + size > b.length || size < 2) return undefined;
    return b.toString("latin1", off, off + size - 1);
  }
  return undefined;
}

/** The program a #! line names, or undefined. */
export function shebangInterpreter(b: Buffer): string | undefined {
  if (b.length < 3 || b[0] !== 0x23 || b[1] !== 0x21) return undefined;
  const end = b.indexOf(0x0a);
  const line = b.toString("latin1", 2, end < 0 ? b.length : end).trim();
  const prog = line.split(/[ \t]/, 1)[0];
  return prog !== undefined && prog.startsWith("/") ? prog : undefined;
}

/** Paths here come from file contents (a #! line, an ELF header) anyone who could write the
 * program chose: printable, so the explanation cannot write to the user's terminal. */
function describeGrant(path: string, real: string | undefined): string {
  return real !== undefined && real !== path ? `${printable(path)} (really ${printable(real)})` : printable(path);
}

/** Why an exec failed: `ungranted` (a file of the chain is outside the grants), `missing` (an
 * interpreter or loader the chain names does not exist on the host either), `mode` (the
 * program is not executable). */
export interface ExecExplanation {
  kind: "ungranted" | "missing" | "mode";
  why: string;
}

/**
 * One sentence saying which file of an exec the grants leave out or the host lacks, or
 * undefined when none is found (then the generic hint stands).
 */
export function explainExec(path: string, grants: readonly PathGrant[]): ExecExplanation | undefined {
  const roots = grants.filter((g) => !g.dirOnly).map((g) => ({ real: realpath(g.path) ?? g.path, isDir: g.isDir }));
  const covered = (real: string): boolean => roots.some((g) => (g.isDir ? within(real, g.real) : real === g.real));
  const chain: { role: string; path: string }[] = [{ role: "the program", path }];
  for (let depth = 0; depth < chain.length && depth < 4; depth++) {
    const { role, path: p } = chain[depth]!;
    const real = realpath(p);
    if (real === undefined) return depth === 0 ? undefined : { kind: "missing", why: `${role} ${printable(p)} does not exist` };
    if (!covered(real)) {
      const which = depth === 0 ? "it is" : `${role} ${describeGrant(p, real)} is`;
      // A preset only where one grants the file: -p minimal never gives /usr/bin.
      const preset = presetCovering(real);
      const or = preset === undefined ? "" : `, or start from a preset (-p ${preset})`;
      return { kind: "ungranted", why: `${which} not under fsReadable/fsWritable: grant ${printable(dirname(real))} (-r ${printable(dirname(real))})${or}` };
    }
    try {
      if (depth === 0 && (statSync(real).mode & 0o111) === 0) return { kind: "mode", why: `${printable(p)} is not executable (mode ${(statSync(real).mode & 0o777).toString(8)})` };
    } catch {
      return undefined;
    }
    const b = head(real);
    if (b === undefined) continue;
    const shebang = shebangInterpreter(b);
    if (shebang !== undefined) chain.push({ role: "its interpreter (#! line)", path: shebang });
    const loader = elfInterpreter(b);
    if (loader !== undefined) chain.push({ role: depth === 0 ? "its dynamic loader" : "the dynamic loader of that interpreter", path: loader });
  }
  return undefined;
}
