// chroot's cost (docs/chroot.md): the start and exit of a static program with and without a
// chroot (the launcher's namespace, binds and pivot_root; the command's setns), and an open
// inside against the same open without one and bare (the kernel resolves; nothing is trapped).
// Usage: node dist/bench/chroot.js [rounds]. Interleaved in one run; min/median/max.

import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Sandbox } from "../src/index.js";
import { fmt, summarize } from "./stats.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const rounds = Number(process.argv[2] ?? 30);

const loop = join(ROOT, "build", "bench", "call-loop");
mkdirSync(dirname(loop), { recursive: true });
execFileSync("gcc", ["-O2", "-static", "-o", loop, join(ROOT, "bench", "fixtures", "call-loop.c")]);

const root = mkdtempSync(join(tmpdir(), "sandlock-chroot-bench-"));
for (const d of ["bin", "etc", "proc"]) mkdirSync(join(root, d));
copyFileSync(loop, join(root, "bin", "call-loop"));
execFileSync("chmod", ["755", join(root, "bin", "call-loop")]);
writeFileSync(join(root, "etc", "file"), "x\n");

const inRoot = { chroot: root, fsReadable: ["/"] };
const plain = { fsReadable: [root] };
const hostLoop = join(root, "bin", "call-loop");

async function out(policy: object, cmd: string[]): Promise<string> {
  const r = await Sandbox.run(policy, cmd);
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")}: ${r.exitCode} ${r.stderrText}`);
  return r.stdoutText.trim();
}

const start = { chroot: [] as number[], plain: [] as number[], bare: [] as number[] };
const open = { chroot: [] as number[], plain: [] as number[], bare: [] as number[] };
// Warm the plan cache and the page cache of both.
await out(inRoot, ["/bin/call-loop", "uname", "1"]);
await out(plain, [hostLoop, "uname", "1"]);
for (let i = 0; i < rounds; i++) {
  let t = performance.now();
  await out(inRoot, ["/bin/call-loop", "uname", "1"]);
  start.chroot.push(performance.now() - t);
  t = performance.now();
  await out(plain, [hostLoop, "uname", "1"]);
  start.plain.push(performance.now() - t);
  t = performance.now();
  execFileSync(hostLoop, ["uname", "1"]);
  start.bare.push(performance.now() - t);
  if (i % 3 === 0) {
    open.chroot.push(Number(await out(inRoot, ["/bin/call-loop", "open", "20000", "/etc/file"])) / 1000);
    open.plain.push(Number(await out(plain, [hostLoop, "open", "20000", join(root, "etc", "file")])) / 1000);
    open.bare.push(Number(execFileSync(hostLoop, ["open", "20000", join(root, "etc", "file")]).toString()) / 1000);
  }
}
rmSync(root, { recursive: true, force: true });

for (const side of ["chroot", "plain", "bare"] as const) {
  console.log(`start+exit of a static program, ${side}: ${fmt(summarize(start[side]), " ms", 2)}`);
}
for (const side of ["chroot", "plain", "bare"] as const) {
  console.log(`open+close of a file, ${side} (us per call): ${fmt(summarize(open[side]), " us", 2)}`);
}
const ratio = open.chroot.map((c, i) => c / open.bare[i]!);
console.log(`open+close, chroot / bare: ${fmt(summarize(ratio), "x", 2)}`);
