// The fifteenth review's cases (test/integration/redteam15.test.ts): several sandboxes of one
// process, or a host process, run as root or as the test user. Prints one JSON line.
// Usage: red15-case.js RT15 hide HOW...|socks HOW...|pingpong|stream DEPTH[:work]...|host

import { spawn } from "node:child_process";
import { join } from "node:path";
import { Sandbox } from "../../src/index.js";
import { scriptMain, sharedDir, untilListening } from "../helpers/script-main.js";
import { giverLine } from "../helpers/givers.js";

const [rt15, mode, ...rest] = process.argv.slice(2) as [string, string, ...string[]];

/** Sandbox B (maxMemory 64M; "HOW@nocap": none) runs `rt15 hold SOCKET 3 SECS HOW`; three
 * sandboxes A (64M each) each fill a 48 MiB memfd and hand it to B's listener, then end. */
async function hide(base: string, arg: string, secs: number): Promise<Record<string, unknown>> {
  const [how, nocap] = arg.split("@") as [string, string | undefined];
  const dir = sharedDir(base, arg.replace("@", "-"));
  const pol = { fsReadable: [rt15], fsWritable: [dir], procView: "supervised" as const, maxMemory: "64M" };
  const b = new Sandbox(nocap === undefined ? pol : { ...pol, maxMemory: undefined });
  const t0 = Date.now();
  await b.spawn([rt15, "hold", join(dir, "s"), "3", String(secs), how], { stdout: "pipe", timeout: 15_000 });
  await untilListening(join(dir, "s"), b);
  const givers: string[] = [];
  for (let i = 0; i < 3; i++) {
    const r = await Sandbox.run(pol, [rt15, "memfd-give", "48", join(dir, "s")], { timeout: 5000 });
    givers.push(giverLine(r));
  }
  const rb = await b.wait();
  const tookBack = /^took back (\d+) (\d+)$/m.exec(rb.stdoutText);
  return {
    givers,
    b: rb.stdoutText,
    ms: Date.now() - t0,
    status: rb.status,
    limit: rb.limit?.kind ?? null,
    used: rb.limit?.used ?? null,
    reason: rb.limit?.reason ?? null,
    alive: /^alive$/m.test(rb.stdoutText),
    tookBackMib: tookBack === null ? null : Number(tookBack[2]),
  };
}

/** A host process (this script's user, no sandbox) running `rt15 host-keep PATH SECS`. */
function hostKeep(path: string, secs: number): { done: Promise<string> } {
  const p = spawn(rt15, ["host-keep", path, String(secs)], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  p.stdout.on("data", (d: Buffer) => (out += d.toString()));
  return { done: new Promise((r) => p.on("close", () => r(out))) };
}

async function run(base: string): Promise<Record<string, unknown>> {
  switch (mode) {
    case "hide": {
      const out: Record<string, unknown> = {};
      for (const how of rest) out[how] = await hide(base, how, 4);
      return out;
    }
    case "socks": {
      // B (maxMemory 64M): a thread fills 500 stream socketpairs' queues and keeps them 3 s,
      // in a descriptor table of its own ("own") or the process's ("shared").
      const out: Record<string, unknown> = {};
      for (const how of rest) {
        const t0 = Date.now();
        const r = await Sandbox.run({ fsReadable: [rt15], maxMemory: "64M" }, [rt15, "socks", "500", "3", how], { timeout: 15_000 });
        const queued = /^queued (\d+)$/m.exec(r.stdoutText);
        out[how] = { out: r.stdoutText.trim(), ms: Date.now() - t0, status: r.status, limit: r.limit?.kind ?? null, used: r.limit?.used ?? null, queuedMib: queued === null ? null : Number(queued[1]), alive: /^alive$/m.test(r.stdoutText) };
      }
      return out;
    }
    case "pingpong": {
      // A legitimate program under maxMemory 64M: a memfd of 4 MiB, a pipe's end and a socket
      // passed back and forth between two processes for 5 s, received at once.
      const t0 = Date.now();
      const r = await Sandbox.run({ fsReadable: [rt15], maxMemory: "64M" }, [rt15, "pingpong", "5", "4"], { timeout: 15_000 });
      return { out: r.stdoutText.trim(), ms: Date.now() - t0, status: r.status, code: r.exitCode, limit: r.limit?.kind ?? null, reason: r.limit?.reason ?? null };
    }
    case "stream": {
      // A producer keeping DEPTH memfds queued ahead of a consumer that takes them as fast as
      // it can, for 5 s (depth 1: one at a time, acknowledged); "DEPTH:work": the consumer
      // reads each memfd through and waits 2 ms before it acknowledges it.
      const out: Record<string, unknown> = {};
      for (const arg of rest) {
        const [depth, work] = arg.split(":") as [string, string | undefined];
        const t0 = Date.now();
        const r = await Sandbox.run({ fsReadable: [rt15], maxMemory: "64M" }, [rt15, "stream", "5", depth, ...(work === undefined ? [] : [work])], { timeout: 15_000 });
        out[arg] = { out: r.stdoutText.trim(), ms: Date.now() - t0, status: r.status, code: r.exitCode, limit: r.limit?.kind ?? null, reason: r.limit?.reason ?? null };
      }
      return out;
    }
    case "host": {
      // B (maxMemory 64M) hands a 48 MiB memfd of its own to a host process and closes it,
      // then grows its heap by 40 MiB. The host keeps the memfd 4 s ("keep"), or closes it at
      // once ("close").
      const out: Record<string, unknown> = {};
      for (const how of ["close", "keep"]) {
        const dir = sharedDir(base, how);
        const sock = join(dir, "h");
        const host = hostKeep(sock, how === "keep" ? 4 : 0);
        await untilListening(sock);
        const r = await Sandbox.run({ fsReadable: [rt15], fsWritable: [dir], maxMemory: "64M" }, [rt15, "host-give", sock, "48", "40"], { timeout: 15_000 });
        out[how] = { b: r.stdoutText.trim(), err: r.stderrText.trim(), status: r.status, limit: r.limit?.kind ?? null, used: r.limit?.used ?? null, host: (await host.done).trim() };
      }
      return out;
    }
    default:
      throw new Error(`unknown mode ${mode}`);
  }
}

scriptMain("/tmp/sandlock-red15-", run);
