// What supervision costs one call, in the same invocation as the bare call and the C floor:
// - a trapped round trip: 100,000 brk(0) under maxMemory (which routes brk to the
//   supervisor, where the receiving thread continues it in C: a query decided on
//   registers, native/memcredit.c), against a minimal C supervisor answering the same
//   calls (the floor). The round trip through TypeScript is a named sandbox's uname in
//   the supervised view (answered with the sandbox's name, written into the caller's
//   buffer); in the kernel view, the default, the name is its own UTS namespace's;
// - the calls a workspace-style policy traps or could trap: open + close of an unrelated
//   file and a directory listing with /etc and /proc granted (the /proc view routes opens
//   and getdents), and uname with and without a sandbox name (only a named sandbox's is
//   virtual, and trapped only in the supervised view), and a descriptor passed with
//   SCM_RIGHTS (every send goes to the supervisor, this one to its sender) — each against the same loop bare,
//   and under a compiled launcher that only confines it (confine-floor: Landlock read
//   rules on the same directories and a seccomp filter, the mechanisms any such sandbox
//   uses, the Rust reference among them): what the kernel charges every call of a
//   confined process, whoever confines it.

import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Sandbox } from "../src/index.js";
import { fmt, summarize, verdict, type Summary } from "./stats.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const CALLS = 100_000;
const SYSTEM = ["/usr", "/lib", "/lib64", "/bin", "/etc", "/proc"].filter((p) => existsSync(p));

export function buildFixture(name: string, isStatic: boolean): string {
  const out = join(ROOT, "build", "bench", name);
  mkdirSync(join(ROOT, "build", "bench"), { recursive: true });
  execFileSync("gcc", ["-O2", ...(isStatic ? ["-static"] : []), "-o", out, join(ROOT, "bench", "fixtures", `${name}.c`)]);
  return out;
}

interface Row {
  name: string;
  bareNs: Summary;
  sandboxedNs: Summary;
  ratio: Summary;
  /** The same loop under confine-floor (Landlock and a seccomp filter, nothing else). */
  floorNs: Summary;
  ratioToFloor: Summary;
  /** Median ratio at most this: PASS. */
  target?: number;
  targetText?: string;
}

export interface TrapResult {
  roundTrip: { bareNs: Summary; floorNs: Summary; sandboxedNs: Summary; ratioToFloor: Summary };
  calls: Row[];
}

async function sandboxed(policy: object, cmd: string[]): Promise<number> {
  const res = await Sandbox.run(policy, cmd);
  if (res.exitCode !== 0) throw new Error(`${cmd.join(" ")} failed in the sandbox: ${res.stderrText}`);
  return Number(res.stdoutText);
}

export async function benchTrap(rounds: number): Promise<TrapResult> {
  const loop = buildFixture("trap-loop", true);
  const floor = buildFixture("notify-floor", false);
  const calls = buildFixture("call-loop", true);
  const confine = buildFixture("confine-floor", false);
  // Landlock's read rules on the system directories and the loop's own (a rule's READ_DIR
  // right needs a directory); /proc makes no difference to these calls outside the view.
  const floorDirs = [dirname(calls), ...SYSTEM];
  const bare: number[] = [];
  const c: number[] = [];
  const trapped: number[] = [];
  for (let r = 0; r < rounds; r++) {
    bare.push(Number(execFileSync(loop, [String(CALLS)]).toString()));
    c.push(Number(execFileSync(floor, [String(CALLS)]).toString()));
    trapped.push(await sandboxed({ fsReadable: [loop], maxMemory: "1G" }, [loop, String(CALLS)]));
  }
  const cases: { name: string; policy: object; args: string[]; target?: number; targetText?: string }[] = [
    { name: "open+close /etc/passwd, /proc granted", policy: { fsReadable: [calls, ...SYSTEM] }, args: ["open", "20000", "/etc/passwd"], target: 2, targetText: "a supervised open of an unrelated file at most 2x bare (issue 16)" },
    { name: "open+close /etc/passwd, no /proc", policy: { fsReadable: [calls, ...SYSTEM.filter((p) => p !== "/proc")] }, args: ["open", "20000", "/etc/passwd"] },
    { name: "list /usr/include, /proc granted", policy: { fsReadable: [calls, ...SYSTEM] }, args: ["getdents", "500", "/usr/include"] },
    { name: "uname, unnamed sandbox", policy: { fsReadable: [calls] }, args: ["uname", "100000"], target: 1.2, targetText: "uname at bare cost unless the hostname is virtual (issue 16)" },
    { name: "SCM_RIGHTS: one descriptor sent over a socket pair, received, closed (the send made by the sender, native/sender.c)", policy: { fsReadable: [calls] }, args: ["rights", "20000"] },
    { name: "uname, named sandbox (virtual: its own UTS namespace in the kernel view, a round trip through TypeScript in the supervised one)", policy: { fsReadable: [calls], name: "bench" }, args: ["uname", "100000"] },
  ];
  const rows: Row[] = [];
  for (const k of cases) {
    const b: number[] = [];
    const s: number[] = [];
    const f: number[] = [];
    for (let r = 0; r < rounds; r++) {
      b.push(Number(execFileSync(calls, k.args).toString()));
      f.push(Number(execFileSync(confine, [...floorDirs, "--", calls, ...k.args]).toString()));
      s.push(await sandboxed(k.policy, [calls, ...k.args]));
    }
    rows.push({
      name: k.name,
      bareNs: summarize(b),
      sandboxedNs: summarize(s),
      ratio: summarize(s.map((x, i) => x / b[i]!)),
      floorNs: summarize(f),
      ratioToFloor: summarize(s.map((x, i) => x / f[i]!)),
      target: k.target,
      targetText: k.targetText,
    });
  }
  return {
    roundTrip: { bareNs: summarize(bare), floorNs: summarize(c), sandboxedNs: summarize(trapped), ratioToFloor: summarize(trapped.map((s, i) => s / c[i]!)) },
    calls: rows,
  };
}

export function reportTrap(t: TrapResult): string {
  const us = (s: Summary): Summary => ({ min: s.min / 1000, median: s.median / 1000, max: s.max / 1000 });
  const rt = t.roundTrip;
  const lines = [
    `Trapped syscall round trip (${CALLS} x brk(0) under maxMemory), mean per call in each round`,
    `  ${"bare (not trapped)".padEnd(36)} ${fmt(us(rt.bareNs), " us")}`,
    `  ${"C supervisor (floor)".padEnd(36)} ${fmt(us(rt.floorNs), " us")}`,
    `  ${"sandlock supervisor (answered in C)".padEnd(36)} ${fmt(us(rt.sandboxedNs), " us")}`,
    `  ${"ratio to the C floor".padEnd(36)} ${fmt(rt.ratioToFloor, "x", 2)}`,
    `  ${verdict("a round trip within 2x the C floor (DESIGN 5)", rt.ratioToFloor.median <= 2)}`,
    `Calls a workspace-style policy traps, sandboxed / bare (mean per call in each round); the floor: the same loop confined by Landlock and a seccomp filter alone (confine-floor)`,
  ];
  for (const r of t.calls) {
    lines.push(`  ${r.name}`);
    lines.push(`    ${"bare".padEnd(10)} ${fmt(us(r.bareNs), " us")}`);
    lines.push(`    ${"sandboxed".padEnd(10)} ${fmt(us(r.sandboxedNs), " us")}`);
    lines.push(`    ${"ratio".padEnd(10)} ${fmt(r.ratio, "x", 2)}`);
    lines.push(`    ${"floor".padEnd(10)} ${fmt(us(r.floorNs), " us")} (median ${(r.floorNs.median / r.bareNs.median).toFixed(2)}x bare)`);
    lines.push(`    ${"to floor".padEnd(10)} ${fmt(r.ratioToFloor, "x", 2)}`);
    if (r.target !== undefined) lines.push(`    ${verdict(`${r.targetText}: median <= ${r.target}x`, r.ratio.median <= r.target)}`);
  }
  return lines.join("\n");
}
