// File-metadata calls under supervision: mean time per chmod, utimensat and futimens, and the
// wall time of `tar -xf` of a 2,000-file archive into a writable grant, bare, with the
// filesystem protection disabled (nothing trapped) and enabled (each call performed by the
// supervisor). `node dist/bench/meta.js [rounds] [other index.js]`: with a second package's
// dist/src/index.js (e.g. a build of the previous main), its sandbox is measured too.

import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Sandbox } from "../src/index.js";
import { fmt, summarize, type Summary } from "./stats.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const CALLS = 20_000;
const FILES = 2000;

type Run = typeof Sandbox.run;

function build(): string {
  const out = join(ROOT, "build", "bench", "meta-loop");
  mkdirSync(join(ROOT, "build", "bench"), { recursive: true });
  execFileSync("gcc", ["-O2", "-static", "-o", out, join(ROOT, "bench", "fixtures", "meta-loop.c")]);
  return out;
}

const SYSTEM = ["/usr", "/bin", "/lib", "/lib64", "/etc"];

async function main(): Promise<void> {
  const rounds = Number(process.argv[2] ?? 7);
  const other = process.argv[3];
  const runners: [string, Run][] = [["this", Sandbox.run.bind(Sandbox)]];
  if (other !== undefined) {
    const mod = (await import(other)) as { Sandbox: typeof Sandbox };
    runners.push(["other", mod.Sandbox.run.bind(mod.Sandbox)]);
  }
  const loop = build();
  // On tmpfs when there is one: the disk's writeback would drown what is measured.
  const base = mkdtempSync(existsSync("/dev/shm") ? "/dev/shm/sandlock-bench-meta-" : "/tmp/sandlock-bench-meta-");
  const src = join(base, "src");
  mkdirSync(join(src, "tree"), { recursive: true });
  for (let i = 0; i < FILES; i++) {
    if (i % 100 === 0) mkdirSync(join(src, "tree", `d${i / 100}`));
    writeFileSync(join(src, "tree", `d${Math.floor(i / 100)}`, `f${i}`), `file ${i}\n`);
  }
  const archive = join(base, "a.tar");
  execFileSync("tar", ["-cf", archive, "-C", src, "tree"]);
  const write = join(base, "write");
  mkdirSync(write);
  const file = join(write, "f");
  writeFileSync(file, "x\n");

  const samples = new Map<string, number[]>();
  const add = (k: string, v: number): void => void (samples.get(k) ?? samples.set(k, []).get(k)!).push(v);
  const tarInto = async (name: string, run: Run | null, policy: object): Promise<void> => {
    const dest = join(write, "x");
    rmSync(dest, { recursive: true, force: true });
    mkdirSync(dest);
    const t0 = performance.now();
    if (run === null) execFileSync("tar", ["-xf", archive, "-C", dest]);
    else {
      const r = await run(policy, ["tar", "-xf", archive, "-C", dest]);
      if (r.exitCode !== 0) throw new Error(`tar (${name}): ${r.stderrText}`);
    }
    add(`tar ${name}`, performance.now() - t0);
  };
  for (let r = 0; r < rounds; r++) {
    for (const op of ["chmod", "utimensat", "futimens"]) {
      add(`${op} bare`, Number(execFileSync(loop, [op, String(CALLS), file]).toString()));
      for (const [who, run] of runners) {
        for (const [mode, disable] of [["fs off", ["fs"]], ["fs on", []]] as const) {
          const res = await run({ fsReadable: [loop], fsWritable: [write], protection: { disable: [...disable] } }, [loop, op, String(CALLS), file]);
          if (res.exitCode !== 0) throw new Error(`${op}: ${res.stderrText}`);
          add(`${op} ${who} ${mode}`, Number(res.stdoutText));
        }
      }
    }
    await tarInto("bare", null, {});
    for (const [who, run] of runners) {
      await tarInto(`${who} fs off`, run, { fsReadable: [...SYSTEM, archive], fsWritable: [write], protection: { disable: ["fs"] } });
      await tarInto(`${who} fs on`, run, { fsReadable: [...SYSTEM, archive], fsWritable: [write] });
    }
  }
  rmSync(base, { recursive: true, force: true });
  const us = (s: Summary): Summary => ({ min: s.min / 1000, median: s.median / 1000, max: s.max / 1000 });
  const out: Record<string, Summary> = {};
  console.log(`File metadata under supervision, ${rounds} rounds (chmod/utimensat: mean of ${CALLS} calls per round; tar: ${FILES} files)`);
  for (const [k, v] of samples) {
    out[k] = summarize(v);
    console.log(`  ${k.padEnd(28)} ${k.startsWith("tar") ? fmt(out[k], " ms", 1) : fmt(us(out[k]), " us", 2)}`);
  }
  console.log(JSON.stringify(out));
}

void main();
