// Where a fork clone's own memory comes from (issue 17): smaps of clones against their
// zygote, per mapping kind, at four points (right after fork, work entered, one line written, about to exit),
// plus page tables (VmPTE). `node dist/bench/fork-smaps.js [bare|sandboxed] [clones]`; ZYGOTE=<bareOptions> changes the bare zygote.

import { closeSync, openSync, readFileSync, readSync } from "node:fs";
import { Sandbox } from "../src/index.js";
import type { ForkFunctions } from "../src/fork/fns.js";
import { bareGroup, bareOptions } from "./fork.js";

const STATE = 50 * 1024 * 1024;
const SYSTEM = ["/usr", "/lib", "/lib64", "/etc"];

/** The clone stops itself (SIGSTOP) at the point measured, so nothing it does later counts. */
const POINTS: Record<string, string> = {
  // (the clone stops in C right after fork and uv_loop_fork: SANDLOCK_FORK_STOP, below)
  "right after fork": ``,
  "work entered": `process.kill(0, "SIGSTOP");`,
  "one line written": `process.stdout.write(Date.now() + " " + globalThis.state[id] + "\\n", () => process.kill(0, "SIGSTOP"));`,
  "about to exit": `process.stdout.write(Date.now() + " " + globalThis.state[id] + "\\n"); return new Promise((r) => process.stdout.write("", r)).then(() => process.kill(0, "SIGSTOP"));`,
};

function fns(body: string): ForkFunctions {
  return {
    init: new Function(`globalThis.state = Buffer.alloc(${STATE}, 7);`) as () => void,
    work: new Function("id", body) as (id: number) => void,
  };
}

interface Mapping {
  start: number;
  end: number;
  perms: string;
  name: string;
  kb: Record<string, number>;
  flags: string;
}

export function smaps(pid: number): Mapping[] {
  const text = readFileSync(`/proc/${pid}/smaps`, "latin1");
  const out: Mapping[] = [];
  for (const block of text.split(/\n(?=[0-9a-f]+-[0-9a-f]+ )/)) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \S+[ \t]*(.*)$/m.exec(block);
    if (!head) continue;
    const kb: Record<string, number> = {};
    for (const m of block.matchAll(/^(\w+):\s+(\d+) kB/gm)) kb[m[1]!] = Number(m[2]);
    out.push({ start: parseInt(head[1]!, 16), end: parseInt(head[2]!, 16), perms: head[3]!, name: head[4]!, kb, flags: /^VmFlags:(.*)$/m.exec(block)?.[1]?.trim() ?? "" });
  }
  return out;
}

/** A mapping's kind, for the table. */
export function kind(m: Mapping): string {
  const size = m.end - m.start;
  if (m.name === "[heap]") return "malloc heap [heap]";
  if (m.name === "[stack]") return "main stack";
  if (m.name.startsWith("[")) return m.name;
  if (m.name.includes("/node") && !m.name.endsWith(".node")) return "node executable";
  if (m.name.endsWith(".node")) return "sandlock addon";
  if (m.name.includes("libc.so")) return "libc";
  if (m.name !== "") return "other files (libs)";
  if (m.perms === "---p") return size >= 40 << 20 ? "reservations (PROT_NONE)" : "guard pages";
  if (size >= 40 << 20) return "large anon (the 50 MiB state)";
  if (/\bnh\b/.test(m.flags) && size === 8 << 20) return "thread stacks (the zygote's threads)";
  if (/\bnr\b/.test(m.flags)) return "V8 heap (MAP_NORESERVE anon)";
  return "other anon";
}

function status(pid: number, key: string): number {
  return Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "latin1"))?.[1] ?? 0);
}

async function stopped(pid: number): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (/^State:\s+T/m.test(readFileSync(`/proc/${pid}/status`, "latin1"))) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`clone ${pid} did not stop`);
}

type Row = { privDirty: number; pss: number; mappings: number; ptePages: number };

/** Page-table pages a process holds, attributed to the kind of mapping that made each one
 * needed: a 2 MiB region with at least one page mapped by a PTE (from /proc/<pid>/pagemap;
 * a region mapped whole by one huge page needs none). */
export function ptePages(pid: number, maps: Mapping[]): Map<string, number> {
  const fd = openSync(`/proc/${pid}/pagemap`, "r");
  const flags = openSync("/proc/kpageflags", "r"); // (root only) to tell huge pages apart
  const flag = Buffer.alloc(8);
  const regions = new Map<number, string>();
  const pmd = new Set<number>(); // 1 GiB regions: a PMD page each
  const pud = new Set<number>(); // 512 GiB regions: a PUD page each
  try {
    for (const m of maps) {
      if ((m.kb.Rss ?? 0) <= 0 || m.name === "[vsyscall]") continue;
      const pages = (m.end - m.start) / 4096;
      const buf = Buffer.alloc(pages * 8);
      readSync(fd, buf, 0, buf.length, (m.start / 4096) * 8);
      for (let i = 0; i < pages; i++) {
        // bit 63: present; bit 62: swapped
        if ((buf.readUInt32LE(i * 8 + 4) & 0xc0000000) === 0) continue;
        pmd.add(Math.floor((m.start + i * 4096) / 2 ** 30));
        pud.add(Math.floor((m.start + i * 4096) / 2 ** 39));
        if ((m.kb.AnonHugePages ?? 0) > 0) {
          const pfn = Number(buf.readBigUInt64LE(i * 8) & 0x7fffffffffffffn);
          readSync(flags, flag, 0, 8, pfn * 8);
          if (flag.readUInt32LE(0) & (1 << 22)) continue; // KPF_THP: mapped by a PMD, no PTE page
        }
        const region = Math.floor((m.start + i * 4096) / (2 << 20));
        if (!regions.has(region)) regions.set(region, kind(m));
      }
    }
  } finally {
    closeSync(fd);
    closeSync(flags);
  }
  const out = new Map<string, number>();
  for (const k of regions.values()) out.set(k, (out.get(k) ?? 0) + 1);
  out.set("(PMD pages: one per 1 GiB region used)", pmd.size);
  out.set("(PUD pages: one per 512 GiB region used)", pud.size);
  return out;
}

export async function measure(mode: "bare" | "sandboxed", clones: number): Promise<string> {
  const lines: string[] = [`${mode}: ${clones} clones of a zygote holding 50 MiB; per clone (mean), KiB`];
  for (const [point, body] of Object.entries(POINTS)) {
    let zpid: number;
    let fork: (n: number) => Promise<{ pid?: number; kill(): Promise<void> }[]>;
    let dispose: () => Promise<void>;
    const first = point === "right after fork";
    if (mode === "bare") {
      if (first) process.env.SANDLOCK_FORK_STOP = "1";
      const b = await bareGroup(fns(body), bareOptions(process.env.ZYGOTE));
      delete process.env.SANDLOCK_FORK_STOP;
      zpid = b.pid;
      fork = (n) => b.group.fork(n);
      dispose = async () => b.kill();
    } else {
      const sb = Sandbox.newWithFns({ fsReadable: SYSTEM, maxProcesses: clones + 50, ...(first ? { env: { SANDLOCK_FORK_STOP: "1" } } : {}) }, fns(body));
      fork = (n) => sb.fork(n);
      dispose = () => sb[Symbol.asyncDispose]();
      const warm = await fork(1); // zygote up, init run
      zpid = sb.pid!;
      await stopped(warm[0]!.pid!);
      await warm[0]!.kill();
    }
    if (mode === "bare") {
      const warm = await fork(1);
      await stopped(warm[0]!.pid!);
      await warm[0]!.kill();
    }
    const made = await fork(clones);
    for (const c of made) await stopped(c.pid!);
    const rows = new Map<string, Row>();
    let pte = 0;
    let pssTotal = 0;
    let anonHuge = 0;
    const zyg = new Map(smaps(zpid).map((m) => [m.start, m]));
    for (const c of made) {
      pte += status(c.pid!, "VmPTE");
      const maps = smaps(c.pid!);
      for (const [k, n] of ptePages(c.pid!, maps)) {
        const r = rows.get(k) ?? { privDirty: 0, pss: 0, mappings: 0, ptePages: 0 };
        r.ptePages += n;
        rows.set(k, r);
      }
      for (const m of maps) {
        const k = kind(m);
        const r = rows.get(k) ?? { privDirty: 0, pss: 0, mappings: 0, ptePages: 0 };
        r.privDirty += m.kb.Private_Dirty ?? 0;
        r.pss += m.kb.Pss ?? 0;
        r.mappings += 1;
        pssTotal += m.kb.Pss ?? 0;
        anonHuge += m.kb.AnonHugePages ?? 0;
        rows.set(k, r);
      }
    }
    lines.push(`  at "${point}" (zygote VmPTE ${status(zpid, "VmPTE")} KiB, ${zyg.size} mappings)`);
    lines.push(`    ${"mapping kind".padEnd(42)} ${"Private_Dirty".padStart(13)} ${"Pss".padStart(8)} ${"mappings".padStart(9)} ${"PTE pages".padStart(9)}`);
    const sorted = [...rows.entries()].sort((a, b) => b[1].privDirty - a[1].privDirty);
    let priv = 0;
    for (const [k, r] of sorted) {
      priv += r.privDirty;
      if (r.privDirty === 0 && r.pss / clones < 1 && r.ptePages === 0) continue;
      lines.push(`    ${k.padEnd(42)} ${(r.privDirty / clones).toFixed(0).padStart(13)} ${(r.pss / clones).toFixed(0).padStart(8)} ${(r.mappings / clones).toFixed(0).padStart(9)} ${(r.ptePages / clones).toFixed(1).padStart(9)}`);
    }
    lines.push(`    ${"total".padEnd(42)} ${(priv / clones).toFixed(0).padStart(13)} ${(pssTotal / clones).toFixed(0).padStart(8)}`);
    lines.push(`    page tables (VmPTE) ${(pte / clones).toFixed(0)} KiB per clone; AnonHugePages ${(anonHuge / clones).toFixed(0)} KiB`);
    for (const c of made) await c.kill();
    await dispose();
  }
  return lines.join("\n");
}

if (process.argv[1]?.endsWith("fork-smaps.js")) {
  const mode = (process.argv[2] ?? "bare") as "bare" | "sandboxed";
  if (mode !== "bare" && mode !== "sandboxed") throw new Error(`mode: expected bare or sandboxed, got ${JSON.stringify(process.argv[2])}`);
  console.log(await measure(mode, Number(process.argv[3] ?? 20)));
  process.exit(0);
}
