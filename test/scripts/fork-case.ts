// One COW-fork scenario per run, as whichever user started it (the fork tests run it as
// root and as the unprivileged test user). Prints one JSON line of what it observed.

import { spawn } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Sandbox, type PolicyInput } from "../../src/index.js";
import { processState } from "../../src/supervise/members.js";
import { alive, descendants } from "../helpers/proc.js";
import { SYSTEM_RO } from "../helpers/system.js";

const MODULE = fileURLToPath(new URL("./fork-module.js", import.meta.url));
const base: PolicyInput = { fsReadable: [...SYSTEM_RO] };
const scenario = process.argv[2];

async function out(value: unknown): Promise<void> {
  process.stdout.write(JSON.stringify(value) + "\n");
}

async function errorOf(p: Promise<unknown>): Promise<{ name: string; code?: string; message: string } | null> {
  try {
    await p;
    return null;
  } catch (e) {
    const err = e as { name: string; code?: string; message: string };
    return { name: err.name, code: err.code, message: err.message };
  }
}

const sumStdin = 'let s=0;for (const l of require("fs").readFileSync(0,"utf8").split("\\n")) if (l) s+=Number(l.split(" ")[1] ?? l);console.log(s)';

/** The view a policy gets (reduce runs its command under the reducer's policy). */
async function viewOf(policy: typeof base): Promise<string | undefined> {
  const sb = new Sandbox(policy);
  await sb.spawn(["/bin/true"]);
  await sb.wait();
  return sb.procView;
}

/** An init that hooks the zygote's report of a batch (JSON.stringify) and reaps every clone
 * in it first: the numbers then name nothing the zygote holds (exitAtOnce's control). The
 * addon is the zygote's own (argv[2]). */
const EARLY_REAPER = `
import { createRequire } from "node:module";
const native = createRequire(import.meta.url)(process.argv[2]);
const stringify = JSON.stringify;
export function init() {
  JSON.stringify = function (v, ...rest) {
    if (v && v.op === "forked" && Array.isArray(v.pids)) {
      const want = new Set(v.pids), nap = new Int32Array(new SharedArrayBuffer(4));
      for (let i = 0; i < 500 && want.size > 0; i++) {
        for (const [pid] of native.reapClones()) want.delete(pid);
        if (want.size > 0) Atomics.wait(nap, 0, 0, 10);
      }
    }
    return stringify(v, ...rest);
  };
}
export function work() { process.exit(0); }
`;

/** An init that reports TARGET (another sandbox's process) as the pid of every clone. */
const REPORT_OTHER = `
const stringify = JSON.stringify;
export function init() {
  JSON.stringify = function (v, ...rest) {
    if (v && v.op === "forked" && Array.isArray(v.pids)) v = { ...v, pids: v.pids.map(() => Number(process.env.TARGET)) };
    return stringify(v, ...rest);
  };
}
export function work() {}
`;

const scenarios: Record<string, () => Promise<unknown>> = {
  /** Module form: init state in every clone, CLONE_ID, order, statuses, reduce. */
  async module() {
    await using sb = Sandbox.newWithFns(base, { module: MODULE });
    const clones = await sb.fork(6);
    const results = await Promise.all(clones.map((c) => c.wait()));
    const reduced = await sb.reduce(["/usr/bin/node", "-e", sumStdin], clones);
    return {
      zygote: sb.pid,
      // The zygote's pid as it sees it itself (under the kernel view, its namespace's).
      zygoteInside: Number(/^NSpid:.*?(\d+)\s*$/m.exec(readFileSync(`/proc/${sb.pid}/status`, "latin1"))?.[1]),
      pids: clones.map((c) => c.pid),
      lines: results.map((r) => r.stdout!.toString()),
      statuses: results.map((r) => [r.status, r.exitCode]),
      states: clones.map((c) => c.state),
      isSandbox: clones.every((c) => c instanceof Sandbox),
      reduced: { status: reduced.status, stdout: reduced.stdoutText, stderr: reduced.stderrText },
    };
  },

  /** Function form, a second fork on the same zygote, and the closure explanation. */
  /** The zygote's heap placement (issue 17): the reservation of V8's hint range, its
   * anonymous memory in a few 1 GiB regions, against a plain node's; node's code in
   * anonymous huge pages (not under noHugePages); the preload's variables (LD_BIND_NOW
   * included) gone from what init and work see, a caller's LD_PRELOAD and LD_BIND_NOW kept. */
  async heapLayout() {
    const regions = (pid: number): { regions: number; reserved: boolean } => {
      const maps = readFileSync(`/proc/${pid}/maps`, "latin1").split("\n");
      const anon = maps.filter((l) => /^[0-9a-f]+-[0-9a-f]+ rw-p 00000000 00:00 0\s*$/.test(l));
      return {
        regions: new Set(anon.map((l) => Math.floor(parseInt(l.split("-")[0]!, 16) / 2 ** 30))).size,
        reserved: maps.some((l) => l.startsWith("100000000-400000000000 ---p ")),
      };
    };
    // Node's code: anonymous and huge (AnonHugePages) inside the node executable's range.
    const code = (pid: number): { anonymous: boolean; hugeKb: number } => {
      const blocks = readFileSync(`/proc/${pid}/smaps`, "latin1").split(/\n(?=[0-9a-f]+-[0-9a-f]+ )/);
      const node = blocks.filter((b) => b.split("\n", 1)[0]!.endsWith(process.execPath)).map((b) => parseInt(b.split("-", 1)[0]!, 16));
      const anon = blocks.filter((b) => {
        const m = /^([0-9a-f]+)-[0-9a-f]+ r-xp 00000000 00:00 0\s*$/m.exec(b.split("\n", 1)[0]!);
        return m !== null && node.some((a) => a < parseInt(m[1]!, 16)) && node.some((a) => a > parseInt(m[1]!, 16));
      });
      return { anonymous: anon.length > 0, hugeKb: anon.reduce((n, b) => n + Number(/^AnonHugePages:\s+(\d+)/m.exec(b)?.[1] ?? 0), 0) };
    };
    const work = () => console.log(JSON.stringify([process.env.LD_PRELOAD ?? null, process.env.SANDLOCK_ZYGOTE_PRELOAD ?? null, process.env.LD_BIND_NOW ?? null]));
    await using sb = Sandbox.newWithFns(base, { work });
    const seen = (await (await sb.fork(1))[0]!.wait()).stdoutText.trim();
    const zygote = { ...regions(sb.pid!), code: code(sb.pid!) };
    await using kept = Sandbox.newWithFns({ ...base, env: { LD_PRELOAD: "/nonexistent/sandlock-test.so", LD_BIND_NOW: "1" } }, { work });
    const seenKept = (await (await kept.fork(1))[0]!.wait()).stdoutText.trim();
    // control: under noHugePages node's code stays in the file
    await using small = Sandbox.newWithFns({ ...base, noHugePages: true }, { work });
    await (await small.fork(1))[0]!.wait();
    const smallCode = code(small.pid!);
    // control: the same node, unsandboxed and without the preload
    const plain = spawn(process.execPath, ["-e", "process.stdout.write('up'); setTimeout(() => {}, 5000)"], { stdio: ["ignore", "pipe", "ignore"] });
    await new Promise((r) => plain.stdout!.once("data", r));
    const control = regions(plain.pid!);
    plain.kill("SIGKILL");
    return { zygote, control, seen, seenKept, smallCode };
  },

  async functions() {
    const outer = 7;
    await using sb = Sandbox.newWithFns(base, {
      init: () => {
        (globalThis as { table?: number[] }).table = [10, 20, 30];
      },
      work: (id: number) => {
        console.log(`${id}:${(globalThis as { table?: number[] }).table![id]}:${process.env.CLONE_ID}`);
      },
    });
    const first = await Promise.all((await sb.fork(3)).map((c) => c.wait()));
    const second = await Promise.all((await sb.fork(2)).map((c) => c.wait()));
    await using closure = Sandbox.newWithFns(base, { work: () => console.log(outer) });
    const [bad] = await Promise.all((await closure.fork(1)).map((c) => c.wait()));
    return {
      first: first.map((r) => r.stdoutText),
      second: second.map((r) => r.stdoutText),
      closure: { exitCode: bad!.exitCode, stderr: bad!.stderrText },
    };
  },

  /** init that throws, a missing export, async init. */
  async initErrors() {
    const thrown = await errorOf(Sandbox.newWithFns(base, { module: MODULE, init: "failingInit" }).fork(2));
    const missing = await errorOf(Sandbox.newWithFns(base, { module: MODULE, work: "nope" }).fork(1));
    const notFn = await errorOf(Sandbox.newWithFns(base, { module: MODULE, work: "value" }).fork(1));
    await using sb = Sandbox.newWithFns(base, { module: MODULE, init: "slowInit" });
    const [r] = await Promise.all((await sb.fork(1)).map((c) => c.wait()));
    return { thrown, missing, notFn, asyncInit: r!.stdoutText };
  },

  /** Exit statuses: throw, exitCode, process.exit, a killed clone, pause/resume. */
  async statuses() {
    await using sb = Sandbox.newWithFns(base, {
      work: async (id: number) => {
        if (id === 0) return;
        if (id === 1) throw new Error(`work ${id} failed on purpose`);
        if (id === 2) process.exitCode = 3;
        if (id === 3) process.exit(4);
        if (id === 4) await new Promise((r) => setTimeout(r, 60_000));
        if (id === 5) {
          for (let i = 0; i < 40; i++) {
            console.log(`tick ${i}`);
            await new Promise((r) => setTimeout(r, 25));
          }
        }
      },
    });
    const clones = await sb.fork(6);
    await new Promise((r) => setTimeout(r, 200));
    await clones[5]!.pause();
    const pausedState = clones[5]!.state;
    const before = processState(clones[5]!.pid!) ?? "gone";
    await new Promise((r) => setTimeout(r, 300));
    await clones[5]!.resume();
    await clones[4]!.kill();
    const results = await Promise.all(clones.map((c) => c.wait()));
    const afterKill = await errorOf(clones[4]!.kill());
    return {
      results: results.map((r) => ({ status: r.status, exitCode: r.exitCode, signal: r.signal, stderr: r.stderrText })),
      pausedState,
      procStateWhilePaused: before,
      ticks: results[5]!.stdoutText.split("\n").length,
      afterKill,
    };
  },

  /** A clone that writes past DEFAULT_MAX_BUFFER is killed and its wait() says so; its
   * sibling writing less finishes (the control). */
  async overflow() {
    await using sb = Sandbox.newWithFns(base, {
      work: async (id: number) => {
        const chunk = Buffer.alloc(1 << 20, 0x61);
        const mib = id === 0 ? 8 : 200;
        for (let i = 0; i < mib; i++) {
          if (!process.stdout.write(chunk)) await new Promise((r) => process.stdout.once("drain", r));
        }
      },
    });
    const clones = await sb.fork(2);
    const ok = await clones[0]!.wait();
    let over: { name: string; message: string; stream?: string; result?: { status: string; signal: string | null; stdout: Buffer | null } } = { name: "none", message: "wait() resolved" };
    try {
      await clones[1]!.wait();
    } catch (e) {
      over = e as typeof over;
    }
    return {
      ok: { status: ok.status, exitCode: ok.exitCode, bytes: ok.stdout?.length ?? 0 },
      over: { name: over.name, message: over.message, stream: over.stream, status: over.result?.status, signal: over.result?.signal, kept: over.result?.stdout?.length ?? 0 },
    };
  },

  /** The mapper reads a data file the reducer may not; a clone cannot read outside its grants. */
  async grants() {
    const data = mkdtempSync("/tmp/sandlock-fork-data-");
    const secret = mkdtempSync("/tmp/sandlock-fork-secret-");
    chmodSync(data, 0o755);
    chmodSync(secret, 0o755);
    try {
      const file = join(data, "numbers.txt");
      writeFileSync(file, "1\n2\n3\n4\n", { mode: 0o644 });
      writeFileSync(join(secret, "s.txt"), "secret", { mode: 0o644 });
      await using mapper = Sandbox.newWithFns({ ...base, fsReadable: [...SYSTEM_RO, data], env: { DATA_FILE: file } }, { module: MODULE, work: "mapData" });
      const clones = await mapper.fork(4);
      const reducer = new Sandbox(base);
      const tryRead = `let code="read";try{require("fs").readFileSync(${JSON.stringify(file)})}catch(e){code=e.code};let s=0;for(const l of require("fs").readFileSync(0,"utf8").split("\\n"))if(l)s+=Number(l);console.log(code+" "+s)`;
      const reduced = await reducer.reduce(["/usr/bin/node", "-e", tryRead], clones);
      await using snoop = Sandbox.newWithFns(
        { ...base, env: { SECRET: join(secret, "s.txt") } },
        { module: `data:text/javascript,${encodeURIComponent('import {readFileSync} from "node:fs"; export function work(){ try { readFileSync(process.env.SECRET); console.log("read") } catch (e) { console.log(e.code) } }')}` },
      );
      const [outside] = await Promise.all((await snoop.fork(1)).map((c) => c.wait()));
      return { reduced: { status: reduced.status, stdout: reduced.stdoutText, stderr: reduced.stderrText }, outside: outside!.stdoutText, outsideErr: outside!.stderrText, views: [await viewOf(base), snoop.procView] };
    } finally {
      rmSync(data, { recursive: true, force: true });
      rmSync(secret, { recursive: true, force: true });
    }
  },

  /** maxMemory counts per clone; maxProcesses per fork group. */
  async limits() {
    const mod = (code: string): string => `data:text/javascript,${encodeURIComponent(code)}`;
    await using sb = Sandbox.newWithFns(
      { ...base, maxMemory: "256M" },
      { module: mod("export function work(id){ const mb = id === 2 ? 400 : 100; const b = Buffer.alloc(mb << 20, 1); console.log(mb + ' ' + b[b.length - 1]); }") },
    );
    const results = await Promise.all((await sb.fork(3)).map((c) => c.wait()));
    const tooMany = await errorOf(Sandbox.newWithFns({ ...base, maxProcesses: 10 }, { work: () => undefined }).fork(10));
    await using nine = Sandbox.newWithFns({ ...base, maxProcesses: 10 }, { work: () => undefined });
    const ok = await Promise.all((await nine.fork(9)).map((c) => c.wait()));
    return {
      memory: results.map((r) => ({ status: r.status, signal: r.signal, exitCode: r.exitCode, stdout: r.stdoutText })),
      tooMany,
      nine: ok.map((r) => r.exitCode),
    };
  },

  /** A fork that fails part-way (descriptors run out under maxOpenFiles) kills what it made. */
  async partial() {
    const sb = Sandbox.newWithFns({ ...base, maxOpenFiles: 32 }, { work: async () => new Promise((r) => setTimeout(r, 30_000)) });
    const err = await errorOf(sb.fork(20));
    const stateAfter = sb.state;
    await sb[Symbol.asyncDispose]();
    await new Promise((r) => setTimeout(r, 100));
    return { err, stateAfter, left: descendants(process.pid).filter((p) => alive(p)) };
  },

  /** A zygote that dies during fork: fork rejects and no clone survives. */
  async zygoteDies() {
    const sb = Sandbox.newWithFns({ ...base, maxProcesses: 1200 }, { work: async () => new Promise((r) => setTimeout(r, 30_000)) });
    await (await sb.fork(1))[0]!.kill(); // the zygote is up
    const zygote = sb.pid!;
    const pending = sb.fork(800);
    setTimeout(() => process.kill(zygote, "SIGKILL"), 5);
    const err = await errorOf(pending);
    await sb.wait().catch(() => undefined);
    await new Promise((r) => setTimeout(r, 100));
    return { err, zygoteAlive: alive(zygote), left: descendants(process.pid).filter((p) => alive(p)) };
  },

  /** Killing the parent Node process kills the zygote and every clone. */
  async parentKilled() {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), "parentChild"], { stdio: ["ignore", "pipe", "inherit"] });
    let text = "";
    const pids = await new Promise<{ zygote: number; clones: number[] }>((resolve, reject) => {
      child.stdout.on("data", (c: Buffer) => {
        text += c.toString();
        if (text.includes("\n")) resolve(JSON.parse(text.split("\n")[0]!));
      });
      child.once("exit", () => reject(new Error(`child exited early: ${text}`)));
    });
    const aliveBefore = [pids.zygote, ...pids.clones].filter(alive).length;
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    let left: number[] = [];
    for (let i = 0; i < 100; i++) {
      left = [pids.zygote, ...pids.clones].filter(alive);
      if (left.length === 0) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    return { aliveBefore, total: pids.clones.length + 1, left };
  },

  /** A script that forks and ends without disposing: an idle zygote does not keep it alive. */
  async idleExit() {
    const started = Date.now();
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), "idleChild"], { stdio: ["ignore", "pipe", "pipe"] });
    let text = "";
    let err = "";
    child.stdout.on("data", (c: Buffer) => (text += c.toString()));
    child.stderr.on("data", (c: Buffer) => (err += c.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => child.once("exit", (c, s) => resolve([c, s])));
    clearTimeout(timer);
    const info = JSON.parse(text.split("\n")[0] || "{}") as { zygote?: number; outputs?: string[] };
    await new Promise((r) => setTimeout(r, 100));
    return { code, signal, stderr: err, outputs: info.outputs, zygoteAlive: info.zygote ? alive(info.zygote) : null, seconds: (Date.now() - started) / 1000 };
  },

  async idleChild() {
    const sb = Sandbox.newWithFns(base, { work: (id: number) => console.log(`clone ${id}`) });
    const results = await Promise.all((await sb.fork(2)).map((c) => c.wait()));
    await new Promise((r) => setTimeout(r, 300)); // idle for a while, then the script ends
    process.stdout.write(JSON.stringify({ zygote: sb.pid, outputs: results.map((r) => r.stdoutText) }) + "\n");
    return undefined;
  },

  async parentChild() {
    const sb = Sandbox.newWithFns(base, { work: async () => new Promise((r) => setTimeout(r, 60_000)) });
    const clones = await sb.fork(5);
    process.stdout.write(JSON.stringify({ zygote: sb.pid, clones: clones.map((c) => c.pid) }) + "\n");
    setInterval(() => undefined, 1000);
    return new Promise(() => undefined);
  },

  /**
   * Clones that exit at once (issue 17: the parent opens their pidfds, fork/adopt.ts). For a
   * bounded number of rounds, every handle must name its own clone: its pid is the one the
   * clone printed (the supervised view, where both are the host's), never 0 and never
   * another process's. Control: an init that hooks the zygote's report and reaps each batch
   * before it goes out (what the zygote's hold prevents) leaves every such handle at pid 0.
   */
  async exitAtOnce() {
    const dir = mkdtempSync("/tmp/sandlock-fork-adopt-");
    chmodSync(dir, 0o755);
    try {
      const early = join(dir, "early-reaper.mjs");
      writeFileSync(early, EARLY_REAPER, { mode: 0o644 });
      const policy = { ...base, fsReadable: [...SYSTEM_RO, dir], procView: "supervised" as const, maxProcesses: 100 };
      const work = (): void => {
        process.stdout.write(`${process.pid} ${process.ppid}`);
        process.exit(0);
      };
      let rounds = 0, clones = 0, zero = 0;
      const wrong: unknown[] = [];
      const started = Date.now();
      {
        await using sb = Sandbox.newWithFns(policy, { work });
        // (bounded: 20 rounds of 40, or 20 s on a loaded machine, whichever comes first)
        for (; rounds < 20 && Date.now() - started < 20_000; rounds++) {
          const made = await sb.fork(40);
          const results = await Promise.all(made.map((c) => c.wait()));
          made.forEach((c, i) => {
            clones++;
            if (c.pid === 0) zero++;
            // (process.pid and process.ppid in the clone: its own and the zygote's)
            if (`${c.pid} ${sb.pid}` !== results[i]!.stdoutText || results[i]!.pid !== c.pid) wrong.push({ handle: c.pid, printed: results[i]!.stdoutText, result: results[i]!.pid });
          });
        }
      }
      let controlZero = 0, controlHeld = 0;
      {
        await using sb = Sandbox.newWithFns(policy, { module: early });
        const made = await sb.fork(20);
        for (const c of made) if (c.pid === 0) controlZero++;
        else controlHeld++;
      }
      return { rounds, clones, zero, wrong: wrong.slice(0, 5), wrongCount: wrong.length, controlZero, controlHeld };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },

  /**
   * A zygote that reports, as its clone's pid, a process of another sandbox (alive, and not
   * its child): the handle takes neither the pid nor a pidfd, and its kill leaves that
   * process alone. Control: the other sandbox's own kill ends it (SIGKILL).
   */
  async otherSandbox() {
    const dir = mkdtempSync("/tmp/sandlock-fork-other-");
    chmodSync(dir, 0o755);
    const other = new Sandbox({ ...base });
    try {
      const evil = join(dir, "report-other.mjs");
      writeFileSync(evil, REPORT_OTHER, { mode: 0o644 });
      await other.spawn(["/bin/sleep", "60"]);
      const target = other.pid!;
      const out: Record<string, unknown> = { target };
      {
        await using sb = Sandbox.newWithFns({ ...base, fsReadable: [...SYSTEM_RO, dir], env: { TARGET: String(target) } }, { module: evil });
        const [clone] = await sb.fork(1);
        out.clonePid = clone!.pid;
        await Promise.race([clone!.kill().catch((e: Error) => e.message), new Promise((r) => setTimeout(r, 2000))]);
        out.afterCloneKill = processState(target) ?? "gone";
      }
      await new Promise((r) => setTimeout(r, 200));
      out.afterDispose = processState(target) ?? "gone";
      await other.kill();
      out.control = (await other.wait()).signal;
      return out;
    } finally {
      await other.kill().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    }
  },

  /** clone.stdout and clone.stderr as streams: read from the start, and read only after the
   * clone has exited (every byte still there, then the end), alongside wait()'s capture. */
  async streams() {
    await using sb = Sandbox.newWithFns(base, {
      work: async (id: number) => {
        process.stdout.write(`out ${id} a\n`);
        process.stderr.write(`err ${id}\n`);
        await new Promise((r) => setTimeout(r, 200));
        process.stdout.write(`out ${id} b\n`);
      },
    });
    const [early, late] = await sb.fork(2);
    const read = (s: NodeJS.ReadableStream | null): Promise<string> =>
      new Promise((resolve) => {
        let text = "";
        s!.on("data", (c: Buffer) => (text += c.toString()));
        s!.on("end", () => resolve(text));
      });
    const earlyOut = read(early!.stdout);
    const [r0, r1] = await Promise.all([early!.wait(), late!.wait()]);
    return {
      early: await earlyOut,
      lateOut: await read(late!.stdout),
      lateErr: await read(late!.stderr),
      captured: [r0!.stdout!.toString(), r1!.stdout!.toString(), r1!.stderr!.toString()],
    };
  },

  /** A fork call's output bound: 1 GiB over its clones by default (8 MiB a stream for 64),
   * or fork's maxBuffer; a clone past it is killed and its wait() names the bound. */
  async outputBound() {
    const MiB = 1 << 20;
    const work = (id: number) => {
      const size = id === 0 ? 9 * (1 << 20) : id === 1 ? 7 * (1 << 20) : 10;
      process.stdout.write("x".repeat(size));
    };
    await using sb = Sandbox.newWithFns({ ...base, maxProcesses: 100 }, { work });
    const outcome = async (c: Sandbox) => {
      try {
        const r = await c.wait();
        return { ok: true, status: r.status, bytes: r.stdout!.length };
      } catch (e) {
        const err = e as { code?: string; stream?: string; maxBuffer?: number; message: string; result?: { status: string; stdout: Buffer | null } };
        return { ok: false, code: err.code, stream: err.stream, maxBuffer: err.maxBuffer, message: err.message, status: err.result?.status, bytes: err.result?.stdout?.length };
      }
    };
    const many = await Promise.all((await sb.fork(64)).map(outcome));
    const few = await Promise.all((await sb.fork(3, { maxBuffer: 2000 })).map(outcome));
    const bad = [await errorOf(sb.fork(1, { maxBufer: 1 } as never)), await errorOf(sb.fork(1, { maxBuffer: 0 })), await errorOf(sb.fork(1, 5 as never))];
    return { MiB, first: many.slice(0, 3), restOk: many.slice(2).every((o) => o.ok && o.bytes === 10), few, bad: bad.map((b) => b?.message) };
  },

  /** The size of a clone's stdout and stderr pipes, as a program the clone runs reads it
   * (F_GETPIPE_SZ, 1032); the control: the same program run by Sandbox.run, whose pipes
   * keep the kernel's size. */
  async pipeSizes() {
    const py = ["/usr/bin/python3", "-c", "import fcntl; print(fcntl.fcntl(1, 1032), fcntl.fcntl(2, 1032))"];
    const work = (): void => {
      const [file, ...args] = JSON.parse(process.env.PY!) as string[];
      // (sent as source: no import travels with it)
      const cp = (process as unknown as { getBuiltinModule(id: string): typeof import("node:child_process") }).getBuiltinModule("node:child_process");
      cp.execFileSync(file!, args, { stdio: ["pipe", "inherit", "inherit"] }); // ("ignore" opens /dev/null, not granted)
    };
    await using sb = Sandbox.newWithFns({ ...base, env: { PY: JSON.stringify(py) } }, { work });
    const clones = await Promise.all((await sb.fork(3)).map((c) => c.wait()));
    const control = await Sandbox.run(base, py);
    return { clones: clones.map((r) => `${r.exitCode} ${r.stdoutText.trim()} ${r.stderrText.trim()}`), control: `${control.exitCode} ${control.stdoutText.trim()} ${control.stderrText.trim()}` };
  },

  /** fork(1000): every clone's output, in order. */
  async thousand() {
    await using sb = Sandbox.newWithFns({ ...base, maxProcesses: 1100 }, { module: MODULE });
    const clones = await sb.fork(1000);
    const results = await Promise.all(clones.map((c) => c.wait()));
    const wrong = results.flatMap((r, i) => {
      const want = `${i} ${i * i} ${i} `;
      return r.exitCode === 0 && r.stdout!.toString().startsWith(want) ? [] : [{ i, status: r.status, exitCode: r.exitCode, stdout: r.stdoutText, stderr: r.stderrText.slice(0, 300) }];
    });
    const reduced = await sb.reduce(["/usr/bin/node", "-e", sumStdin], clones);
    return { count: results.length, wrong: wrong.slice(0, 5), wrongCount: wrong.length, reduced: reduced.stdoutText, distinctPids: new Set(clones.map((c) => c.pid)).size };
  },
};

const run = scenarios[scenario ?? ""];
if (!run) {
  process.stderr.write(`unknown scenario ${scenario}; known: ${Object.keys(scenarios).join(", ")}\n`);
  process.exit(2);
}
try {
  await out(await run());
} catch (e) {
  await out({ crashed: String((e as Error).stack ?? e) });
}
