// The tenth review, part A: fork groups attacked from inside (a hostile zygote, hostile
// clones). Each attack on the parent runs in a child Node process of its own ("sub NAME"),
// with a timeout, so that a parent that crashes or hangs is reported as such instead of
// ending the case. Prints one JSON line of what it observed. Usage: red10a-case.js CASE

import { execFile } from "node:child_process";
import { chmodSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Sandbox } from "../../src/index.js";
import { alive, descendants } from "../helpers/proc.js";
import { SYSTEM_RO } from "../helpers/system.js";

const SELF = fileURLToPath(import.meta.url);
const [which, sub] = process.argv.slice(2) as [string, string | undefined];

/** A directory the runner owns that the sandbox may read (and, when granted, write). */
function dir(prefix: string): string {
  const d = mkdtempSync(`/tmp/sandlock-red10a-${prefix}-`);
  chmodSync(d, 0o777);
  return d;
}

const fdCount = (): number => readdirSync("/proc/self/fd").length;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** A deadline for a race that does not keep the process alive once the race is won. */
const deadline = (ms: number): Promise<null> => new Promise((r) => setTimeout(() => r(null), ms).unref());

async function errorOf(p: Promise<unknown>): Promise<string | null> {
  try {
    await p;
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

/** The zygote's own control socket, found by kind (the only socket it holds). */
const FIND_CTL = `
import { createRequire } from "node:module";
import { fstatSync } from "node:fs";
const native = createRequire(import.meta.url)(process.argv[2]);
const stringify = JSON.stringify;
function ctl() { for (let fd = 3; fd < 256; fd++) { try { if (fstatSync(fd).isSocket()) return fd; } catch {} } return -1; }
const send = (m, fds = []) => native.sendFds(ctl(), Buffer.from(stringify(m)), fds);
`;

/** Zygote modules, one per attack (MODE picks the variant). */
const MODULES: Record<string, string> = {
  // Messages the parent did not expect: fields of the wrong type (a throw in the parent's
  // poll callback ended the parent process), and descriptors sent with a message that
  // carries none (kept by the parent for good).
  "messages.mjs": `${FIND_CTL}
export function init() {
  const mode = process.env.MODE;
  if (mode === "rows") send({ op: "exits", rows: 5 });
  if (mode === "pids") send({ op: "forked", pids: "1 2 3" });
  if (mode === "fds") {
    const [r] = native.pipe();
    const many = Array(250).fill(r);
    for (let i = 0; i < 40; i++) send({ op: "exits", rows: [] }, many);
  }
}
export function work() {}
`,
  // A character device in place of a clone's stdout and stderr (the parent's poll of it
  // failed with EPERM, thrown in its callback).
  "device.mjs": `${FIND_CTL}
import { openSync } from "node:fs";
export function init() {
  JSON.stringify = function (v, ...rest) {
    if (v && v.op === "forked" && Array.isArray(v.pids)) {
      const z = openSync("/dev/zero", "r");
      send({ op: "forked", pids: v.pids }, v.pids.flatMap(() => [z, z]));
    }
    return stringify(v, ...rest);
  };
}
export function work() { return new Promise((r) => setTimeout(r, 3000)); }
`,
  // The honest fork path, and a process of the zygote's that keeps a copy of the clone's
  // stdout read end and, once the parent polls it, makes that file description blocking
  // (libuv makes a child's stdio blocking: a node that spawns a child with it as stdin). The
  // clone writes again after that: the parent reads it, then reads the empty pipe again.
  // (The clone's write waits for the holder's report that the description is blocking.)
  "blocking.mjs": `
import { existsSync, fstatSync, writeFileSync } from "node:fs";
import { spawn } from "node:child_process";
const known = new Set();
const stringify = JSON.stringify;
const HOLDER = "setTimeout(() => { require('child_process').spawnSync('/bin/true', { stdio: [0, 'pipe', 2] }); process.stdout.write('cleared'); setTimeout(() => {}, 20000); }, 600)";
export function init() {
  for (let fd = 0; fd < 256; fd++) { try { fstatSync(fd); known.add(fd); } catch {} }
  JSON.stringify = function (v, ...rest) {
    if (v && v.op === "forked" && Array.isArray(v.pids)) {
      // the batch's read ends: the pipes opened since init (stdout's first)
      const fresh = [];
      for (let fd = 3; fd < 256; fd++) { try { if (!known.has(fd) && fstatSync(fd).isFIFO()) fresh.push(fd); } catch {} }
      if (fresh.length === 2) {
        const holder = spawn(process.execPath, ["-e", HOLDER, "red10a-holder"], { stdio: [fresh[0], "pipe", fresh[1]] });
        holder.stdout.on("data", (d) => writeFileSync(process.env.REPORT, String(d) + " " + holder.pid));
        globalThis.holder = holder;
      }
    }
    return stringify(v, ...rest);
  };
}
export async function work() {
  process.stdout.write("a");
  // (once the holder has made the description blocking: its report is written)
  for (let i = 0; i < 100 && !existsSync(process.env.REPORT); i++) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 100));
  process.stdout.write("b");
  await new Promise((r) => setTimeout(r, 10000));
}
`,
  // A report that a clone has exited while it runs on (the zygote's word): the clone's
  // handle then said "not running" to kill() while the process lived.
  "false-exit.mjs": `${FIND_CTL}
export function init() {
  JSON.stringify = function (v, ...rest) {
    if (v && v.op === "forked" && Array.isArray(v.pids)) {
      const pids = v.pids;
      setTimeout(() => send({ op: "exits", rows: pids.map((p) => [p, 0, 0]) }), 700);
    }
    return stringify(v, ...rest);
  };
}
export function work() { process.stdout.write(String(process.pid)); return new Promise((r) => setTimeout(r, 20000)); }
`,
  // No exit report ever: kill() of a clone waited for one until the whole group ended.
  "withhold.mjs": `
const stringify = JSON.stringify;
export function init() {
  JSON.stringify = function (v, ...rest) {
    if (v && v.op === "exits") return stringify({ op: "ready" });
    return stringify(v, ...rest);
  };
}
export function work(id) { return id === 0 ? new Promise((r) => setTimeout(r, 20000)) : undefined; }
`,
};

/** One attack on the parent, in this (child) process: what the parent saw. */
const subs: Record<string, (d: string) => Promise<unknown>> = {
  async messages(d) {
    const out: Record<string, unknown> = {};
    for (const mode of ["rows", "pids", "fds"]) {
      const before = fdCount();
      const sb = Sandbox.newWithFns({ fsReadable: [...SYSTEM_RO, d], env: { MODE: mode } }, { module: join(d, "messages.mjs") });
      const err = await errorOf(sb.fork(1).then((cs) => Promise.all(cs.map((c) => c.wait()))));
      // (the group ended itself: no process of it is left)
      await sb.wait().catch(() => undefined);
      await sleep(100);
      const left = descendants(process.pid).filter((p) => alive(p)).length;
      await sb.kill().catch(() => undefined);
      out[mode] = { err, fdsGrew: fdCount() - before, state: sb.state, left };
    }
    // Control: the parent's descriptor count sees what it holds (two pipes and a pidfd per live clone).
    const before = fdCount();
    await using live = Sandbox.newWithFns({ fsReadable: [...SYSTEM_RO] }, { work: () => new Promise((r) => setTimeout(r, 5000)) });
    const clones = await live.fork(3);
    out.liveGrew = fdCount() - before;
    await Promise.all(clones.map((c) => c.kill()));
    return out;
  },

  async device(d) {
    const sb = Sandbox.newWithFns({ fsReadable: [...SYSTEM_RO, d, "/dev/zero"] }, { module: join(d, "device.mjs") });
    const err = await errorOf(sb.fork(1));
    await sb.kill().catch(() => undefined);
    return { err };
  },

  async blocking(d) {
    const report = join(d, "report");
    // The longest the parent's event loop went without running its 50 ms timer.
    let last = Date.now();
    let maxGap = 0;
    const timer = setInterval(() => {
      maxGap = Math.max(maxGap, Date.now() - last);
      last = Date.now();
    }, 50);
    const sb = Sandbox.newWithFns({ fsReadable: [...SYSTEM_RO, d], fsWritable: [d], env: { REPORT: report } }, { module: join(d, "blocking.mjs") });
    const [clone] = await sb.fork(1);
    last = Date.now();
    maxGap = 0;
    // Once "b" is read (the clone then sleeps 10 s holding the pipe), 1.5 s more.
    let stdout = "";
    await Promise.race([
      new Promise<void>((resolve) => clone!.stdout!.on("data", (c: Buffer) => (stdout += c.toString()) === "ab" && setTimeout(resolve, 1500))),
      sleep(8000),
    ]);
    const gap = maxGap;
    let holderFlags: string | null = null;
    try {
      // The holder's copy of the clone's stdout: its file description's flags (octal).
      const found = descendants(process.pid).find((p) => {
        try {
          return readFileSync(`/proc/${p}/cmdline`, "latin1").includes("red10a-holder");
        } catch {
          return false;
        }
      });
      if (found !== undefined) holderFlags = /^flags:\s*(\d+)/m.exec(readFileSync(`/proc/${found}/fdinfo/0`, "latin1"))?.[1] ?? null;
    } catch {
      // no holder
    }
    clearInterval(timer);
    await sb.kill().catch(() => undefined);
    let said: string | null = null;
    try {
      said = readFileSync(report, "utf8").split(" ")[0]!;
    } catch {
      // no report: the holder never ran
    }
    return { maxGap: gap, stdout, report: said, holderFlags };
  },

  async withhold(d) {
    await using sb = Sandbox.newWithFns({ fsReadable: [...SYSTEM_RO, d] }, { module: join(d, "withhold.mjs") });
    const [sleeper, quick] = await sb.fork(2);
    await sleep(500);
    const started = Date.now();
    const killed = await Promise.race([sleeper!.kill().then(() => "settled"), sleep(8000).then(() => "pending")]);
    const killMs = Date.now() - started;
    const r = killed === "settled" ? await sleeper!.wait() : null;
    // Control: the clone that exited by itself has no report either: its wait() is pending.
    const quickWait = await Promise.race([quick!.wait().then(() => "settled"), sleep(300).then(() => "pending")]);
    return { killed, killMs, status: r?.status ?? null, signal: r?.signal ?? null, aliveAfter: alive(sleeper!.pid!), quickWait };
  },

  async falseExit(d) {
    await using sb = Sandbox.newWithFns({ fsReadable: [...SYSTEM_RO, d] }, { module: join(d, "false-exit.mjs") });
    const [clone] = await sb.fork(1);
    const pid = clone!.pid!;
    await sleep(300);
    const aliveBefore = alive(pid);
    const result = await Promise.race([clone!.wait(), sleep(3000).then(() => null)]);
    await sleep(200);
    return { aliveBefore, settled: result !== null, status: result?.status ?? null, signal: result?.signal ?? null, aliveAfter: alive(pid), killErr: await errorOf(clone!.kill()) };
  },
};

/** Runs one attack in a child process with a timeout: its JSON, or how it ended. */
function runSub(name: string, d: string, timeoutMs = 20_000): Promise<unknown> {
  return new Promise((resolve) => {
    execFile(process.execPath, [SELF, "sub", name, d], { timeout: timeoutMs, killSignal: "SIGKILL", maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const line = stdout.trim().split("\n").pop() ?? "";
      try {
        resolve(JSON.parse(line));
      } catch {
        const e = err as (Error & { killed?: boolean; code?: number | string; signal?: string }) | null;
        resolve({ ended: e?.killed ? "hung (killed at the timeout)" : `exit ${String(e?.code ?? 0)} ${e?.signal ?? ""}`, stderr: stderr.slice(-1500) });
      }
    });
  });
}

const cases: Record<string, () => Promise<unknown>> = {
  /** A hostile zygote against the parent: malformed messages, descriptors it should not
   * send, a device for a pipe, a pipe made blocking under the parent, a false exit. */
  async "hostile-zygote"() {
    const d = dir("zygote");
    try {
      for (const [name, text] of Object.entries(MODULES)) writeFileSync(join(d, name), text, { mode: 0o644 });
      const [messages, device, blocking, falseExit, withhold] = await Promise.all([runSub("messages", d), runSub("device", d), runSub("blocking", d), runSub("falseExit", d), runSub("withhold", d)]);
      return { messages, device, blocking, falseExit, withhold };
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  },

  /**
   * Clones that leave processes behind: one in a session of its own that holds the clone's
   * stdout (its wait() and a reduce over it waited for that process, and the clone's kill()
   * said "not running"); one that double-forks, ignores SIGTERM and stops itself. Disposing
   * the group leaves nothing behind.
   */
  async leftovers() {
    const policy = { fsReadable: [...SYSTEM_RO, "/dev/null"], maxProcesses: 32 };
    const out: Record<string, unknown> = {};
    const started = Date.now();
    {
      await using sb = Sandbox.newWithFns(policy, {
        work: (id: number) => {
          const cp = process.getBuiltinModule("node:child_process");
          const script =
            id === 0
              ? "setsid sleep 60 0<&2 & echo started"
              : "trap '' TERM; (setsid sh -c 'trap \"\" TERM; kill -STOP $$; sleep 60' 0<&2 &); (sh -c 'sleep 60' 0<&2 &); echo started";
          cp.spawnSync("/bin/sh", ["-c", script], { stdio: ["pipe", "inherit", "inherit"] });
          console.log(`work ${id} done`);
        },
      });
      const clones = await sb.fork(2);
      const results = await Promise.race([Promise.all(clones.map((c) => c.wait())), deadline(5000)]);
      out.settledMs = results === null ? null : Date.now() - started;
      out.stdout = results?.map((r) => r.stdoutText) ?? null;
      // Control: what the clones left is alive, and held their stdout when wait() settled.
      // (the processes the clones left may still be starting: looked for up to 2 s)
      const look = (what: (stat: string, comm: string) => boolean): number[] =>
        descendants(process.pid).filter((p) => {
          try {
            return what(readFileSync(`/proc/${p}/stat`, "latin1"), readFileSync(`/proc/${p}/comm`, "latin1").trim());
          } catch {
            return false;
          }
        });
      let left: number[] = [];
      let stopped: number[] = [];
      for (let i = 0; i < 40 && (left.length < 2 || stopped.length < 1); i++) {
        if (i > 0) await sleep(50);
        left = look((_, comm) => comm === "sleep");
        stopped = look((stat) => /\) T /.test(stat));
      }
      out.sleepersAlive = left.length;
      out.stopped = stopped.length;
      const holdsPipe = (p: number): boolean => {
        try {
          return readlinkSync(`/proc/${p}/fd/1`).startsWith("pipe:");
        } catch {
          return false;
        }
      };
      out.sleepersHoldingStdout = left.filter(holdsPipe).length;
      const reduced = await Promise.race([sb.reduce(["/bin/cat"], clones), deadline(5000)]);
      out.reduced = reduced?.stdoutText ?? null;
      out.killErr = await errorOf(clones[0]!.kill());
      out.sleepers = left;
    }
    await sleep(300);
    out.leftAfterDispose = descendants(process.pid).filter((p) => alive(p)).length;
    return out;
  },
};

if (which === "sub") {
  const run = subs[sub ?? ""];
  try {
    process.stdout.write(JSON.stringify(run ? await run(process.argv[4]!) : { error: `unknown sub ${sub}` }) + "\n");
  } catch (e) {
    process.stdout.write(JSON.stringify({ error: String((e as Error).stack ?? e) }) + "\n");
  }
  process.exit(0);
}
const run = cases[which ?? ""];
try {
  process.stdout.write(JSON.stringify(run ? await run() : { error: `unknown case ${which}` }) + "\n");
} catch (e) {
  process.stdout.write(JSON.stringify({ error: String((e as Error).stack ?? e) }) + "\n");
}
