// Network calls under supervision: mean time per connect and per sendmsg, bare and in a
// sandbox, for the policies that trap them (`node dist/bench/net.js [rounds]`).

import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Sandbox, type PolicyInput } from "../src/index.js";
import { fmt, summarize, type Summary } from "./stats.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

function build(): string {
  const out = join(ROOT, "build", "bench", "net-loop");
  mkdirSync(join(ROOT, "build", "bench"), { recursive: true });
  execFileSync("gcc", ["-O2", "-static", "-o", out, join(ROOT, "bench", "fixtures", "net-loop.c")]);
  return out;
}

/** A TCP listener that never accepts (a bare net-loop process): its port and a stop function. */
async function listener(loop: string): Promise<{ port: number; stop: () => void }> {
  const child = spawn(loop, ["listen"], { stdio: ["pipe", "pipe", "inherit"] });
  const port = await new Promise<number>((resolve) => child.stdout.once("data", (d: Buffer) => resolve(Number(d.toString()))));
  return { port, stop: () => child.stdin.end() };
}

interface Case {
  name: string;
  op: string;
  calls: number;
  policy: (port: number, dir: string) => PolicyInput;
  arg?: "port" | "dir";
}

const CASES: Case[] = [
  { name: "TCP connect, IP rule", op: "tcp-connect", calls: 1000, arg: "port", policy: (p) => ({ netAllow: [`127.0.0.1:${p}`] }) },
  { name: "TCP connect, port rule", op: "tcp-connect", calls: 1000, arg: "port", policy: (p) => ({ netAllow: [`tcp://:${p}`] }) },
  { name: "UDP sendmsg, UDP rule", op: "udp-sendmsg", calls: 5000, policy: () => ({ netAllow: ["udp://127.0.0.1"] }) },
  { name: "TCP sendmsg, IP rule", op: "tcp-sendmsg", calls: 5000, arg: "port", policy: (p) => ({ netAllow: [`127.0.0.1:${p}`] }) },
  { name: "unix sendmsg, default policy", op: "unix-sendmsg", calls: 5000, policy: () => ({}) },
  { name: "unix sendmsg, IP rule", op: "unix-sendmsg", calls: 5000, policy: () => ({ netAllow: ["127.0.0.1:1"] }) },
  { name: "unix connect, writable dir", op: "unix-connect", calls: 1000, arg: "dir", policy: (_p, d) => ({ fsWritable: [d] }) },
];

export interface NetResult {
  name: string;
  bareUs: Summary;
  sandboxedUs: Summary;
}

export async function benchNet(rounds: number): Promise<NetResult[]> {
  const loop = build();
  const dir = mkdtempSync("/tmp/sandlock-bench-net-");
  const out: NetResult[] = [];
  try {
    for (const c of CASES) {
      const bare: number[] = [];
      const boxed: number[] = [];
      for (let r = 0; r < rounds; r++) {
        // A fresh listener per run: its backlog holds every connection of one run.
        for (const sandboxed of [false, true]) {
          const l = await listener(loop);
          const args = [c.op, String(c.calls), ...(c.arg === "port" ? [String(l.port)] : c.arg === "dir" ? [dir] : [])];
          let text: string;
          if (sandboxed) {
            const policy = { ...c.policy(l.port, dir), fsReadable: [loop] } as PolicyInput;
            const res = await Sandbox.run(policy, [loop, ...args]);
            if (res.exitCode !== 0) throw new Error(`${c.name}: ${res.stderrText}`);
            text = res.stdoutText;
          } else {
            text = execFileSync(loop, args).toString();
          }
          l.stop();
          (sandboxed ? boxed : bare).push(Number(text) / 1000);
        }
      }
      out.push({ name: c.name, bareUs: summarize(bare), sandboxedUs: summarize(boxed) });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

export function reportNet(results: readonly NetResult[]): string {
  const lines = ["Network calls, mean per call in each round (bare | sandboxed)"];
  for (const r of results) {
    lines.push(`  ${r.name.padEnd(30)} bare ${fmt(r.bareUs, " us", 1)}`);
    lines.push(`  ${"".padEnd(30)} sandboxed ${fmt(r.sandboxedUs, " us", 1)}`);
  }
  return lines.join("\n");
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(reportNet(await benchNet(Number(process.argv[2] ?? 5))));
}
