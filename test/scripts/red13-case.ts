// The thirteenth review's cases that need the host's own descriptors, two sandboxes of one
// process, or a measure of the supervising process (test/integration/redteam13.test.ts),
// run as root or as the test user. Prints one JSON line.
// Usage: red13-case.js RT13 host-memfd|fork-limits memfd|fork-limits cap|memfd-pass|exec-env|pipeline-handoff|pidfd-pass|clone-stdout|proxy-squat|fork-limits|virtual-reopen

import { closeSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Pipeline, Sandbox, Stage, type PipeHeldError } from "../../src/index.js";
import { native } from "../../src/confine/native.js";
import { measured, okServer, scriptMain, sharedDir, untilListening } from "../helpers/script-main.js";
import { giverLine } from "../helpers/givers.js";

const [rt13, mode] = process.argv.slice(2) as [string, string];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const VIEWS = ["kernel", "supervised"] as const;
const SYS = ["/bin", "/usr", "/lib", "/lib64", "/etc"];

const listening = (path: string): Promise<void> => untilListening(path);

async function run(base: string): Promise<Record<string, unknown>> {
  const dirOf = (name: string): string => sharedDir(base, name);
  switch (mode) {
    case "host-memfd": {
      // The caller hands a memfd of its own as stdin, read-only (a description opened
      // O_RDONLY). The sandbox reopens /proc/self/fd/0 for writing (the supervisor's
      // privateObject: "memfds ... wherever they came from") and writes, truncates, maps.
      const out: Record<string, unknown> = {};
      for (const view of VIEWS) {
        for (const proc of [false, true]) {
          const pol = { fsReadable: proc ? [rt13, "/proc"] : [rt13], procView: view };
          // Unsealed: refused before anything runs (src/confine/stdio.ts checkPassedMemfd).
          const m = native().memfd(Buffer.from("HOST-SECRET-CONFIG\n"));
          const ro = openSync(`/proc/self/fd/${m}`, "r");
          let refused = "";
          try {
            await Sandbox.run(pol, [rt13, "reopen-fd", "0"], { stdin: ro, timeout: 5000 });
          } catch (e) {
            refused = (e as Error).message;
          }
          const afterRefused = readFileSync(`/proc/self/fd/${m}`, "latin1");
          closeSync(ro);
          closeSync(m);
          // Sealed against writes: runs, and the sandbox's reopen cannot change it.
          const sealed = native().memfdReadonly("rt13", Buffer.from("HOST-SECRET-CONFIG\n"));
          const sro = openSync(`/proc/self/fd/${sealed}`, "r");
          const r = await Sandbox.run(pol, [rt13, "reopen-fd", "0"], { stdin: sro, timeout: 5000 });
          out[`${view}${proc ? "+proc" : ""}`] = { refused, afterRefused, out: r.stdoutText, err: r.stderrText, after: readFileSync(`/proc/self/fd/${sealed}`, "latin1") };
          closeSync(sro);
          closeSync(sealed);
        }
      }
      return out;
    }
    case "memfd-pass": {
      // Sandbox B (maxMemory 64M) listens; three sandboxes A (maxMemory 64M each), one after
      // another, fill a 48 MiB memfd each, hand it to B and exit. B holds 144 MiB. With
      // `own` B first makes an empty memfd of its own (control: then what it holds is
      // charged, and the cap ends it). maxMemory needs the supervised view.
      const out: Record<string, unknown> = {};
      for (const own of [false, true]) {
        const dir = dirOf(own ? "own" : "plain");
        const pol = { fsReadable: [rt13], fsWritable: [dir], procView: "supervised" as const, maxMemory: "64M" };
        const b = new Sandbox(own ? { ...pol, env: { RT13_OWN_MEMFD: "1" } } : pol);
        await b.spawn([rt13, "hold", join(dir, "s"), "3", "1"], { stdout: "pipe", timeout: 15000 });
        await listening(join(dir, "s"));
        const givers: string[] = [];
        for (let i = 0; i < 3; i++) {
          const r = await Sandbox.run(pol, [rt13, "memfd-give", "48", join(dir, "s")], { timeout: 5000 });
          givers.push(giverLine(r));
        }
        const rb = await b.wait();
        out[own ? "own" : "plain"] = { givers, b: rb.stdoutText, status: rb.status, limit: rb.limit?.kind ?? null };
      }
      return out;
    }
    case "exec-env": {
      // policyFn: execve of an allowed program with 131,000 environment strings (about 2
      // MiB), refused by the callback, again and again for 1.5 s. Each exec's strings are
      // copied out one read per string on the event loop (policy-exec.ts readArgv).
      const out: Record<string, unknown> = {};
      for (const nenv of [10, 131_000]) {
        let events = 0;
        const m = await measured(() =>
          Sandbox.run(
            { fsReadable: [rt13, "/bin"], policyFn: (e) => (events++, e.path === "/bin/true" ? "deny" : "allow") },
            [rt13, "execs", "/bin/true", "1500", String(nenv)],
            { timeout: 10000 },
          ),
        );
        out[String(nenv)] = { out: m.value.stdoutText.trim(), status: m.value.status, events, worstGapMs: m.worstGapMs, rawWorstGapMs: m.rawWorstGapMs, supervisorCpuMs: m.cpuMs };
      }
      return out;
    }
    case "pipeline-handoff": {
      // Pipeline rt13 give 1 | wc -c: stage 0 hands its stdout (the pipe into stage 1) to
      // sandbox X outside the pipeline and exits; X writes into it for 1.5 s.
      const out: Record<string, unknown> = {};
      for (const view of VIEWS) {
        const dir = dirOf(view);
        const pol = { fsReadable: [rt13], fsWritable: [dir], procView: view };
        const x = new Sandbox(pol);
        await x.spawn([rt13, "serve", join(dir, "q"), "1", "write"], { stdout: "pipe", timeout: 10000 });
        await listening(join(dir, "q"));
        const t0 = Date.now();
        const m = await measured(async () => {
          const p = Pipeline.of(new Stage(pol, [rt13, "give", "1", join(dir, "q")]), new Stage({ fsReadable: SYS, procView: view }, ["wc", "-c"]));
          const running = await p.spawn({ timeout: 10000 });
          const settled = running.wait().then(
            (r) => ({ r, error: undefined as { code: string; stage: number } | undefined }),
            (e: PipeHeldError) => ({ r: e.result, error: { code: e.code, stage: e.stage } }),
          );
          const [s0, { r, error }] = await Promise.all([running.sandboxes[0]!.wait().then(() => Date.now() - t0), settled]);
          return { stage0Ms: s0, pipelineMs: Date.now() - t0, counted: Number(r?.stdoutText.trim()), stage1: r?.status, error, stage0: r?.stages?.[0]?.stderrText.trim() };
        });
        const rx = await x.wait();
        out[view] = { ...m.value, supervisorCpuMs: m.cpuMs, x: rx.stdoutText };
      }
      return out;
    }
    case "pidfd-pass": {
      // Sandbox A hands a pidfd of its own process to sandbox B, which tries it.
      const out: Record<string, unknown> = {};
      for (const view of VIEWS) {
        const dir = dirOf(view);
        const pol = { fsReadable: [rt13], fsWritable: [dir], procView: view };
        const b = new Sandbox(pol);
        await b.spawn([rt13, "pidfd-use", join(dir, "p")], { stdout: "pipe", timeout: 10000 });
        await listening(join(dir, "p"));
        const ra = await Sandbox.run(pol, [rt13, "pidfd-give", join(dir, "p"), "1"], { timeout: 10000 });
        const rb = await b.wait();
        out[view] = { a: ra.stdoutText + ra.stderrText, aStatus: ra.status, b: rb.stdoutText };
      }
      return out;
    }
    case "clone-stdout": {
      // A fork group's clone hands its stdout's write end to sandbox B and exits; B writes
      // into it for 1.5 s.
      const dir = dirOf("clone");
      const b = new Sandbox({ fsReadable: [rt13], fsWritable: [dir] });
      await b.spawn([rt13, "serve", join(dir, "s"), "1", "write"], { stdout: "pipe", timeout: 10000 });
      await listening(join(dir, "s"));
      const sb = Sandbox.newWithFns({ fsReadable: [...SYS, rt13], fsWritable: [dir], env: { RT13: rt13, SOCK: join(dir, "s") } }, {
        work: () => {
          process.getBuiltinModule("node:child_process").spawnSync(process.env.RT13!, ["give", "1", process.env.SOCK!], { stdio: "inherit" });
        },
      });
      try {
        const t0 = Date.now();
        const m = await measured(async () => {
          const [c] = await sb.fork(1);
          const r = await c!.wait();
          const cloneMs = Date.now() - t0;
          const rb = await b.wait();
          return { cloneMs, status: r.status, bytes: r.stdout?.length ?? -1, err: r.stderrText.trim(), b: rb.stdoutText, bMs: Date.now() - t0 };
        });
        return { ...m.value, supervisorCpuMs: m.cpuMs };
      } finally {
        await sb.kill().catch(() => undefined);
      }
    }
    case "proxy-squat": {
      // Sandbox A has a domain rule (its filtering proxy on 127.0.0.1, one per sandbox);
      // sandbox B may connect anywhere over TCP (tcp://*) and opens 300 connections to A's
      // proxy port (passed here; a scan of the ephemeral ports finds it), holding them.
      // A's next request through its own proxy.
      const server = await okServer();
      const port = server.port;
      try {
        // (Then two more of A's requests, on non-blocking sockets connected twice, one bound
        // to the wildcard address first: the proxy serves only connections its supervisor
        // registered, by the socket's local address, before the connect.)
        const a = new Sandbox({ fsReadable: [rt13, ...SYS], netAllow: [`http://localhost:${port}`], netAllowBind: ["*"] });
        await a.spawn(["/bin/sh", "-c", `echo "$HTTP_PROXY"; ${rt13} http-give ${port} /nonexistent; sleep 1.5; ${rt13} http-give ${port} /nonexistent; ${rt13} http-again ${port} nobind; ${rt13} http-again ${port} bind`], { buffer: false, timeout: 10000 });
        let text = "";
        a.stdout!.on("data", (c: Buffer) => (text += c.toString()));
        for (let i = 0; i < 300 && !text.includes("\n"); i++) await sleep(10);
        const proxyPort = Number(/:(\d+)/.exec(text)?.[1]);
        const b = new Sandbox({ fsReadable: [rt13], netAllow: ["tcp://*"] });
        await b.spawn([rt13, "conns", String(proxyPort), "300", "3"], { buffer: false, timeout: 10000 });
        let btext = "";
        b.stdout!.on("data", (c: Buffer) => (btext += c.toString()));
        const ra = await a.wait();
        await b.kill();
        await b.wait().catch(() => undefined);
        return { proxyPort, a: text, refused: ra.network?.refused ?? [], b: btext, served: server.served() };
      } finally {
        server.close();
      }
    }
    case "fork-limits": {
      // A fork group under maxMemory 160M: (1) clone 0 of a first fork() call collects
      // memfds (rt13 hold), and three later single clones each fill a 100 MiB memfd and
      // hand it over, then exit; (2) a clone that allocates 400 MiB under 256M, and how its
      // result says it was ended.
      const dir = dirOf("fork");
      const sock = join(dir, "m");
      const out: Record<string, unknown> = {};
      const part = process.argv[4];
      if (part === "memfd") {
        const sb = Sandbox.newWithFns({ fsReadable: [...SYS, rt13], fsWritable: [dir], maxMemory: "160M", env: { RT13: rt13, SOCK: sock } }, {
          work: () => {
            const cp = process.getBuiltinModule("node:child_process");
            const collector = !process.getBuiltinModule("node:fs").existsSync(process.env.SOCK!);
            cp.spawnSync(process.env.RT13!, collector ? ["hold", process.env.SOCK!, "3", "1"] : ["memfd-give", "100", process.env.SOCK!], { stdio: "inherit" });
          },
        });
        try {
          const [collector] = await sb.fork(1);
          await listening(sock);
          const givers: string[] = [];
          for (let i = 0; i < 3; i++) {
            const [g] = await sb.fork(1);
            const r = await g!.wait();
            givers.push(giverLine(r));
          }
          const rc = await collector!.wait();
          out.memfd = { givers, collector: rc.stdoutText, status: rc.status, limit: rc.limit?.kind ?? null };
        } finally {
          await sb.kill().catch(() => undefined);
        }
      }
      if (part === "cap") {
        const sb = Sandbox.newWithFns({ fsReadable: SYS, maxMemory: "256M" }, {
          work: (id: number) => {
            const keep: Buffer[] = [];
            for (let i = 0; i < (id === 0 ? 4 : 40); i++) keep.push(Buffer.alloc(10 << 20, 1));
            console.log(`done ${id} ${keep.length}`);
          },
        });
        try {
          const rs = await Promise.all((await sb.fork(2)).map((c) => c.wait()));
          out.cap = rs.map((r) => ({ status: r.status, signal: r.signal, limit: r.limit?.kind ?? null, out: r.stdoutText }));
        } finally {
          await sb.kill().catch(() => undefined);
        }
      }
      return out;
    }
    case "virtual-reopen": {
      // The sealed memfds the supervisor serves for virtual files, reopened for writing.
      const out: Record<string, unknown> = {};
      const pol = { fsReadable: [rt13, "/proc", "/etc"], procView: "supervised" as const, maxMemory: "64M", name: "box" };
      for (const f of ["/proc/meminfo", "/etc/hostname"]) {
        const r = await Sandbox.run(pol, [rt13, "reopen", f], { timeout: 5000 });
        out[f] = r.stdoutText;
      }
      return out;
    }
    default:
      throw new Error(`unknown mode ${mode}`);
  }
}

scriptMain("/tmp/sandlock-red13-", run);
