// Runs the probe's "reach" calls from inside a sandbox at one target after another (the
// caller, its child, the launcher, this supervising process, an outside victim) and reads
// each outside target's state from outside before and after; also runs the same calls
// unsandboxed at a second victim (the positive control) and the process-group moves.
// Prints one JSON line. Usage: reach-case.js PROBE targets|groups

import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { Sandbox } from "../../src/index.js";

const probe = process.argv[2]!;
const part = process.argv[3];
// The supervised view (seccomp-reach.ts): under the kernel view no pid outside can be named.
const policy = { fsReadable: [probe], procView: "supervised" } as const;

/** nice, policy, affinity, I/O priority and RLIMIT_MSGQUEUE of pid, read from outside. */
function state(pid: number): string {
  return execFileSync(probe, ["reach-state", String(pid)]).toString().trim();
}

function calls(lines: string[]): Record<string, string> {
  return Object.fromEntries(lines.filter((l) => !l.startsWith("target ") && l !== "done").map((l) => l.split(" ") as [string, string]));
}

async function victim(): Promise<ChildProcess> {
  const child = spawn("sleep", ["1000"], { stdio: "ignore" });
  await new Promise((r) => child.once("spawn", r));
  return child;
}

/** Runs "reach SPEC wait" in a sandbox; once the probe is done, reads the target's state
 * (the launcher still exists then) and kills the sandbox. */
async function reachFrom(spec: string): Promise<{ pid: number; calls: Record<string, string>; after: string | null }> {
  const sb = new Sandbox(policy);
  await sb.spawn([probe, "reach", spec, "wait"], { stdout: "pipe" });
  let text = "";
  sb.stdout!.on("data", (c: Buffer) => (text += c.toString()));
  for (let i = 0; i < 1000 && !text.includes("done\n"); i++) await new Promise((r) => setTimeout(r, 10));
  const lines = text.trim().split("\n");
  const pid = Number(lines[0]!.split(" ")[1]);
  const outside = spec === "launcher" || /^\d+$/.test(spec);
  const after = outside ? state(pid) : null;
  await sb.kill();
  return { pid, calls: calls(lines), after };
}

function pgidOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]);
}

async function groups(): Promise<void> {
  // Joining the supervisor's group, renicing a group with outside members or a whole user;
  // and the same moves within the sandbox's own group.
  const pgrp = await Sandbox.run(policy, [probe, "pgrp-ops", String(pgidOf(process.pid))]);
  const own = await Sandbox.run(policy, [probe, "own-group"]);
  const out = { supervisorPgid: pgidOf(process.pid), lines: pgrp.stdoutText.split("\n"), own: own.stdoutText.split("\n") };
  process.stdout.write(JSON.stringify(out) + "\n");
}

async function targets(): Promise<void> {
  const v = await victim();
  const control = await victim();
  const baseline = state(process.pid);
  const out: Record<string, unknown> = { supervisor: process.pid, baseline };
  const targets: Record<string, unknown> = {};
  const victimBefore = state(v.pid!);
  for (const [name, spec] of [["zero", "zero"], ["self", "self"], ["child", "child"], ["launcher", "launcher"], ["supervisor", String(process.pid)], ["victim", String(v.pid)]] as const) {
    targets[name] = await reachFrom(spec);
  }
  out.targets = targets;
  out.victimBefore = victimBefore;
  out.supervisorAfter = state(process.pid);
  // Positive control: the same calls from outside any sandbox change a process like the victim.
  const controlBefore = state(control.pid!);
  const unsandboxed = execFileSync(probe, ["reach", String(control.pid)]).toString().trim().split("\n");
  out.control = { calls: calls(unsandboxed), before: controlBefore, after: state(control.pid!) };
  v.kill("SIGKILL");
  control.kill("SIGKILL");
  process.stdout.write(JSON.stringify(out) + "\n");
}

void (part === "groups" ? groups() : targets());
