// The tenth review, part B: policyFn's events and narrowing, timeStart's absolute sleeps, a
// failed exec's explanation, and what a sandbox reaches outside every path rule. Runs
// sandboxes through the library (and the CLI where a terminal or its exit matters), as
// whoever runs this, and prints one JSON line of what came out.
// Usage: red10b-case.js PROBE CASE [STAGE]

import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { Sandbox } from "../../src/index.js";
import type { PolicyEvent } from "../../src/policy/policy-fn.js";
import { ptyRunner } from "../helpers/pty-runner.js";

const [probe, which, stage] = process.argv.slice(2) as [string, string, string | undefined];
const SYSTEM = ["/usr", "/lib", "/lib64", "/bin", "/etc"];

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;
/** The heap after two collections, in MiB. */
function heapMiB(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 1048576;
}

const lines = (s: string): string[] => s.trim().split("\n").filter((l) => l !== "");
const refusals = (r: { refused: readonly { syscall: string; errno: string; target: string; why: string }[] }): string[] => r.refused.map((x) => `${x.syscall} ${x.errno} ${x.target} ${x.why}`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** The probe outside any sandbox (for the host's side of a case and for controls). */
const bare = (...args: string[]): string[] => lines(execFileSync(probe, args, { encoding: "utf8" }));

const cases: Record<string, () => Promise<unknown>> = {
  // Execs approved by policyFn that then fail in the kernel (one string past its 128 KiB
  // MAX_ARG_STRLEN: E2BIG) left their approval, the whole argv, in the supervisor, one per
  // pid: 100 children of one process with one 1 MB buffer held 96 MiB. And execs waiting for
  // an async verdict each held their arguments: 64 threads at once, 91.6 MiB. Controls: every
  // exec reached the callback with its whole argument; a few threads at once are all asked.
  "exec-args": async () => {
    const N = 100;
    const LEN = 1_000_000;
    const policy = { fsReadable: [...SYSTEM, probe], procView: "supervised" as const };
    let longest = 0;
    let asked = 0;
    const before = heapMiB();
    const kept = await Sandbox.run({
      ...policy,
      policyFn: (e: PolicyEvent) => {
        asked++;
        longest = Math.max(longest, ...(e.argv ?? []).map((a) => a.length));
        return "allow";
      },
    }, [probe, "red10-exec-e2big", String(N), String(LEN)]);
    const after = heapMiB();
    // Async callback, threads at once: what the supervisor holds for callbacks not yet
    // answered, counted where it is handed over.
    const threads = async (t: number, len: number) => {
      let inFlight = 0;
      let peak = 0;
      let calls = 0;
      const r = await Sandbox.run({
        ...policy,
        policyFn: async (e: PolicyEvent) => {
          const bytes = (e.argv ?? []).reduce((s, a) => s + a.length, 0);
          calls++;
          inFlight += bytes;
          peak = Math.max(peak, inFlight);
          // The probe's own exec is decided at once; the flood's wait together.
          if (bytes > 100_000) await sleep(1000);
          inFlight -= bytes;
          return "allow" as const;
        },
      }, [probe, "red10-exec-threads", String(t), String(len)]);
      return { stdout: r.stdoutText.trim(), refused: refusals(r), peakMiB: peak / 1048576, calls };
    };
    const flood = await threads(64, 1_500_000);
    const few = await threads(8, 1_500_000);
    return {
      kept: { stdout: kept.stdoutText.trim(), asked, longest, growthMiB: after - before },
      flood,
      few,
    };
  },

  // POSIX message queues are named in the host's IPC namespace and mq_open and mq_unlink
  // never meet a path rule: a sandbox removed a queue of another program of its user and
  // made one that outlived it (the kernel counts it against the host's 256 queues). The
  // host makes the victim; the same probe bare removes it and makes its own (control).
  mqueue: async () => {
    const tag = `/sl-red10b-${process.pid}`;
    const out: Record<string, unknown> = {};
    for (const view of ["supervised", "kernel"] as const) {
      bare("red10-mq", `${tag}-none`, `${tag}-${view}-victim`, "1");
      const r = await Sandbox.run({ fsReadable: [probe], procView: view }, [probe, "red10-mq", `${tag}-${view}-victim0`, `${tag}-${view}-mine`, "1"]);
      // Each bare call removes what it names and says whether it was there.
      const victimLeft = bare("red10-mq", `${tag}-${view}-victim0`, `${tag}-x`, "0")[0] === "unlink ok";
      const mineLeft = bare("red10-mq", `${tag}-${view}-mine0`, `${tag}-x`, "0")[0] === "unlink ok";
      out[view] = { inside: lines(r.stdoutText), victimLeft, mineLeft, procView: r.procView };
    }
    bare("red10-mq", `${tag}-none`, `${tag}-c-victim`, "1");
    const control = bare("red10-mq", `${tag}-c-victim0`, `${tag}-c-mine`, "1");
    const controlVictimLeft = bare("red10-mq", `${tag}-c-victim0`, `${tag}-x`, "0")[0] === "unlink ok";
    const controlMineLeft = bare("red10-mq", `${tag}-c-mine0`, `${tag}-x`, "0")[0] === "unlink ok";
    return { ...out, control, controlVictimLeft, controlMineLeft };
  },
};

// ctx.denyPath's rules are on real paths, and a rename of the directory above a denied
// file moved it to a path no rule named: `mv proj proj2 && cat proj2/secret` read it. And a
// unix socket in a denied directory (a host agent's, served here) was still connected to:
// the supervisor performs that connect, and asked only the grants. The callback denies
// proj/sub/secret and the agent's directory at the first event. Control: without the
// denials the same commands read the file at both names and the agent answers.
const AGENT = "import socket, sys\ns = socket.socket(socket.AF_UNIX)\ntry:\n    s.connect(sys.argv[1]); print(s.recv(64).decode())\nexcept OSError as e:\n    print('agent', e.strerror)";
cases["deny-rename"] = async () => {
  const out: Record<string, unknown> = {};
  for (const deny of [true, false]) {
    const w = mkdtempSync("/tmp/sandlock-red10b-deny-");
    chmodSync(w, 0o755);
    execFileSync("/bin/sh", ["-c", "mkdir -p proj/sub agent && echo TOPSECRET > proj/sub/secret && mkdir other && chmod 777 agent"], { cwd: w });
    const server = createServer((c) => c.end("AGENT-SECRET"));
    await new Promise<void>((resolve) => server.listen(join(w, "agent", "sock"), resolve));
    chmodSync(join(w, "agent", "sock"), 0o777);
    try {
      let armed = false;
      const r = await Sandbox.run({
        fsReadable: SYSTEM, fsWritable: [w], cwd: w, policyFnFiles: true, procView: "supervised",
        policyFn: (_e: PolicyEvent, ctx) => {
          if (!armed && deny) {
            ctx.denyPath(`${w}/proj/sub/secret`);
            ctx.denyPath(`${w}/agent`);
          }
          armed = true;
          return "allow";
        },
      }, ["/bin/sh", "-c", [
        "cat proj/sub/secret || echo direct-refused",
        "mv proj proj2 && cat proj2/sub/secret; mv proj2 proj",
        "mv proj/sub other/sub && cat other/sub/secret; mv other/sub proj/sub",
        `python3 -c "$0" agent/sock`,
      ].join("; "), AGENT]);
      out[deny ? "denied" : "control"] = { stdout: lines(r.stdoutText), refused: refusals(r) };
    } finally {
      await new Promise((resolve) => server.close(resolve));
      rmSync(w, { recursive: true, force: true });
    }
  }
  return out;
};

// timeStart: an absolute sleep on the wall clock is held by the supervisor on a Node timer,
// and a deadline more than 2^31 - 1 ms away (24.8 days) made Node set the timer to 1 ms with
// a TimeoutOverflowWarning: 100 threads sleeping until 2100 re-armed timers every
// millisecond and filled the supervising process's stderr. Control: a deadline one day
// ahead of the sandbox's clock; in both, no sleeper wakes early.
cases["abs-sleep"] = async () => {
  const start = Date.parse("2000-01-01T00:00:00Z");
  let warnings = 0;
  const emit = process.emitWarning.bind(process);
  process.emitWarning = ((w: string | Error, ...rest: unknown[]) => {
    if ((typeof w === "string" ? (rest[0] as string | undefined) : w.name) === "TimeoutOverflowWarning") warnings++;
    else (emit as (...a: unknown[]) => void)(w, ...rest);
  }) as typeof process.emitWarning;
  const one = async (until: number) => {
    warnings = 0;
    const cpu = process.cpuUsage();
    const r = await Sandbox.run({ fsReadable: [probe], timeStart: new Date(start) }, [probe, "red10-abs-sleep", String(Math.floor(until / 1000)), "100", "2"]);
    const used = process.cpuUsage(cpu);
    return { stdout: r.stdoutText.trim(), warnings, cpuMs: Math.round((used.user + used.system) / 1000) };
  };
  const far = await one(Date.parse("2100-01-01T00:00:00Z"));
  const near = await one(start + 86_400_000);
  process.emitWarning = emit;
  return { far, near };
};

// ctx.restrictNetwork(["::1"]) kept "::1" while the connects it narrows were compared as
// "0:0:0:0:0:0:0:1": an IPv6 address given to it (or to grantNetwork, restrictPidNetwork)
// allowed nothing. Fail-closed, found while checking that every spelling of a destination
// reaches the callback as one. Control: narrowed to 127.0.0.1, the IPv6 connect is refused.
cases["ipv6-narrow"] = async () => {
  const server = createServer((c) => c.end("HIT"));
  await new Promise<void>((resolve) => server.listen(0, "::1", resolve));
  const port = (server.address() as { port: number }).port;
  const py = `import socket\nfor host in ('::1', '::', '::0:1'):\n    s = socket.socket(socket.AF_INET6)\n    try:\n        s.connect((host, ${port})); print(host, s.recv(8).decode())\n    except OSError as e:\n        print(host, e.strerror)`;
  const out: Record<string, unknown> = {};
  try {
    for (const keep of [["::1"], ["::ffff:127.0.0.1", "0:0::1"], ["127.0.0.1"]]) {
      const hosts: string[] = [];
      const r = await Sandbox.run({
        fsReadable: SYSTEM, netAllow: [`*:${port}`], procView: "supervised",
        policyFn: (e: PolicyEvent, ctx) => {
          if (e.category === "network") {
            if (hosts.length === 0) ctx.restrictNetwork(keep);
            hosts.push(e.host ?? "");
          }
          return "allow";
        },
      }, ["/usr/bin/python3", "-c", py]);
      out[keep.join(",")] = { stdout: lines(r.stdoutText), hosts, refused: refusals(r) };
    }
  } finally {
    server.close();
  }
  return out;
};

// policyFn: the supervisor read the first line of every allowed exec's file (a #! script
// names its interpreter) with a blocking open, so a FIFO the sandbox made executable and ran
// stopped the whole supervising process in that open: the run's timeout never fired. Each
// run is made by a child Node process here, given 30 s. Control: without policyFn the same
// exec fails at once (EACCES: the kernel runs only regular files).
cases["exec-fifo"] = async () => {
  const w = mkdtempSync("/tmp/sandlock-red10b-fifo-");
  chmodSync(w, 0o755);
  const lib = new URL("../../src/index.js", import.meta.url).href;
  const child = (withFn: boolean): { out: string; hung: boolean; ms: number } => {
    const js = `import { Sandbox } from ${JSON.stringify(lib)};
const r = await Sandbox.run({ fsReadable: ${JSON.stringify(SYSTEM)}, fsWritable: [${JSON.stringify(w)}], cwd: ${JSON.stringify(w)}${withFn ? ", policyFn: () => \"allow\"" : ""} },
  ["/bin/sh", "-c", "rm -f f; mkfifo f && chmod +x f; ./f; echo exec-returned $?"], { timeout: 10000 });
console.log(r.stdoutText.trim() + " " + r.status);`;
    const t0 = Date.now();
    try {
      const out = execFileSync(process.execPath, ["--input-type=module", "-e", js], { encoding: "utf8", timeout: 30_000, stdio: ["ignore", "pipe", "ignore"] });
      return { out: out.trim(), hung: false, ms: Date.now() - t0 };
    } catch {
      return { out: "", hung: true, ms: Date.now() - t0 };
    }
  };
  try {
    return { policyFn: child(true), control: child(false) };
  } finally {
    rmSync(w, { recursive: true, force: true });
  }
};

// When a command's exec fails, sandlock reads the program (and the interpreter its #! line
// names) to explain why, and opened them blocking: a FIFO a sandbox left in a writable grant
// in place of a project's script, or named as a script's interpreter, held the CLI in that
// open for good (SIGTERM included: its handler never ran). Control: bare, the shell's exec
// of the same FIFO fails at once.
cases["explain-fifo"] = async () => {
  if (stage === undefined) throw new Error("explain-fifo needs STAGE");
  const dir = mkdtempSync("/tmp/sandlock-red10b-explain-");
  chmodSync(dir, 0o755);
  const cli = join(stage, "bin", "sandlock.cjs");
  const run = (file: string, args: string[]): { code: number | null; hung: boolean; stderr: string } => {
    try {
      execFileSync(file, args, { encoding: "utf8", timeout: 20_000, killSignal: "SIGKILL", stdio: ["ignore", "ignore", "pipe"] });
      return { code: 0, hung: false, stderr: "" };
    } catch (e) {
      const err = e as { status: number | null; signal: string | null; stderr?: string };
      return { code: err.status, hung: err.signal === "SIGKILL", stderr: String(err.stderr ?? "").trim() };
    }
  };
  try {
    execFileSync("/bin/sh", ["-c", "mkfifo ff && chmod 755 ff && printf '#!%s/ff\\n' \"$PWD\" > sc.sh && chmod 755 sc.sh"], { cwd: dir });
    return {
      program: run(process.execPath, [cli, "run", "-r", dir, "--", join(dir, "ff")]),
      interpreter: run(process.execPath, [cli, "run", "-r", dir, "--", join(dir, "sc.sh")]),
      bare: run("/bin/sh", ["-c", join(dir, "ff")]),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};

// policyFn: a send to an allowed address waited for the callback holding its data (up to 1
// MiB copied) and its socket's duplicate: 200 threads each sending 1 MB under a callback that
// took 2 s grew the supervising process by 196 MiB. Counted where the callback is asked:
// how many wait at once. Control: 8 threads at once are all asked (each thread sends once
// all are made, as the open flood's threads open).
cases["send-flood"] = async () => {
  const flood = async (threads: number) => {
    let inFlight = 0;
    let peak = 0;
    let asked = 0;
    const py = `import socket, threading, errno\nout = {}\ngo = threading.Event()\ndef f():\n    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n    go.wait()\n    try:\n        s.sendto(b"x" * 1000000, ("127.0.0.1", 9)); r = "sent"\n    except OSError as e:\n        r = errno.errorcode[e.errno]\n    out[r] = out.get(r, 0) + 1\nts = [threading.Thread(target=f) for _ in range(${threads})]\n[t.start() for t in ts]; go.set(); [t.join() for t in ts]\nprint(" ".join("%s %d" % kv for kv in sorted(out.items())))`;
    const r = await Sandbox.run({
      fsReadable: SYSTEM, netAllow: ["udp://127.0.0.1:9"], procView: "supervised",
      policyFn: async (e: PolicyEvent) => {
        if (e.category === "network") {
          asked++;
          inFlight++;
          peak = Math.max(peak, inFlight);
          await sleep(1000);
          inFlight--;
        }
        return "allow" as const;
      },
    }, ["/usr/bin/python3", "-c", py]);
    return { stdout: r.stdoutText.trim(), peak, asked, refused: refusals(r) };
  };
  return { flood: await flood(200), few: await flood(8) };
};

// policyFnFiles: each open waiting for the verdict keeps the supervisor's pins of its file
// (descriptors of the supervising process) while the callback runs: 300 threads opening at
// once under a callback that took 1 s all waited together. Counted where the callback is
// asked, with the supervisor's descriptors at the peak. Control: 8 threads all asked.
cases["open-flood"] = async () => {
  const w = mkdtempSync("/tmp/sandlock-red10b-open-");
  chmodSync(w, 0o755);
  writeFileSync(join(w, "f"), "x", { mode: 0o644 });
  const flood = async (threads: number) => {
    let inFlight = 0;
    let peak = 0;
    let fdsAtPeak = 0;
    const fds = (): number => readdirSync("/proc/self/fd").length;
    const base = fds();
    // Every thread started, then all open at once (a barrier): started one by one on a
    // loaded machine, the first opens were decided before the last were made (CI saw "ok
    // 300", no open ever waiting beside 256 others).
    const py = `import threading, errno\nout = {}\nall_in = threading.Barrier(${threads})\ndef f():\n    all_in.wait()\n    try:\n        open(${JSON.stringify(join(w, "f"))}).close(); r = "ok"\n    except OSError as e:\n        r = errno.errorcode[e.errno]\n    out[r] = out.get(r, 0) + 1\nts = [threading.Thread(target=f) for _ in range(${threads})]\n[t.start() for t in ts]; [t.join() for t in ts]\nprint(" ".join("%s %d" % kv for kv in sorted(out.items())))`;
    const r = await Sandbox.run({
      fsReadable: [...SYSTEM, w], policyFnFiles: true, procView: "supervised",
      policyFn: async (e: PolicyEvent) => {
        if (e.category === "file" && e.path === join(w, "f")) {
          inFlight++;
          if (inFlight > peak) {
            peak = inFlight;
            fdsAtPeak = fds() - base;
          }
          await sleep(1000);
          inFlight--;
        }
        return "allow" as const;
      },
    }, ["/usr/bin/python3", "-c", py]);
    return { stdout: r.stdoutText.trim(), peak, fdsAtPeak, refused: refusals(r).filter((x) => x.includes("ENFILE")) };
  };
  try {
    return { flood: await flood(300), few: await flood(8) };
  } finally {
    rmSync(w, { recursive: true, force: true });
  }
};

/**
 * A pty made by a helper, the command run on it as its controlling terminal (as from a
 * shell); once the command has ended, the helper (which still holds the terminal, as the
 * user's shell does) reads its exclusive flag (TIOCGEXCL) and opens it again by name.
 */
const PTY = ptyRunner(`excl = struct.unpack("i", fcntl.ioctl(s, 0x80045440, b"\\0" * 4))[0]
try:
    os.close(os.open(os.ttyname(s), os.O_RDWR | os.O_NOCTTY)); reopen = "ok"
except OSError as e:
    reopen = errno.errorcode[e.errno]
print("excl %d reopen %s" % (excl, reopen))`);

cases.tty = async () => {
  if (stage === undefined) throw new Error("tty needs STAGE");
  const dir = mkdtempSync("/tmp/sandlock-red10b-tty-");
  chmodSync(dir, 0o755);
  const pty = join(dir, "pty.py");
  writeFileSync(pty, PTY, { mode: 0o644 });
  const cli = join(stage, "bin", "sandlock.cjs");
  const onPty = (...cmd: string[]): string[] => lines(execFileSync("/usr/bin/python3", [pty, ...cmd], { encoding: "utf8", timeout: 60_000 }));
  const out: Record<string, unknown> = {};
  try {
    for (const view of ["supervised", "kernel"]) {
      // TIOCEXCL, then TIOCNXCL to show ioctls on the terminal reach the kernel (which
      // would clear it again: so the control runs alone, below).
      out[view] = onPty(process.execPath, cli, "run", "--proc-view", view, "-r", probe, "--", probe, "ioctl", "0x540c");
      out[`${view}Nxcl`] = onPty(process.execPath, cli, "run", "--proc-view", view, "-r", probe, "--", probe, "ioctl", "0x540d");
    }
    out.bare = onPty(probe, "ioctl", "0x540c");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
};

const run = cases[which];
if (run === undefined) throw new Error(`unknown case ${which}`);
let out: unknown;
try {
  out = await run();
} catch (e) {
  out = { error: e instanceof Error ? `${e.name}: ${e.message}\n${e.stack}` : String(e) };
}
console.log(JSON.stringify(out));
