// The nineteenth review's cases (the eighteenth review's fixes attacked). Prints one JSON line.
// Usage: red19-case.js RT19 watches    watches on granted directories while the host uses
//                                      what the policy withholds: a denied file, /proc/<pid>
//        red19-case.js RT19 battery    what held: listen on a port a connect chose, watches
//                                      of a directory outside by other names, noHugePages

import { execFile, spawn } from "node:child_process";
import { appendFileSync, chmodSync, existsSync, mkdirSync, opendirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Sandbox } from "../../src/index.js";
import { lines, pullWhileRunning } from "../helpers/fixture-output.js";
import { scriptMain, sharedDir } from "../helpers/script-main.js";

const [rt19, what] = process.argv.slice(2) as [string, string];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const WATCH_MS = "300";


/** The names the events of one watch ("DIR" or "PROC") carried, each once. */
function names(text: string, which: string): string[] {
  const prefix = `event ${which} `;
  return [...new Set(text.split("\n").filter((l) => l.startsWith(prefix)).map((l) => l.slice(prefix.length)))];
}

/** A directory of the host's (outside every grant) that the test user can read. */
function hostDir(base: string, name: string): string {
  const dir = join(base, name);
  mkdirSync(dir);
  chmodSync(dir, 0o755);
  return dir;
}

/**
 * A watch (inotify, and dnotify) on a granted directory holding a denied file, and on /proc,
 * while the host reads and appends to the denied file and opens a host process's /proc
 * directory: bare (the control), then in each view.
 */
async function watches(base: string): Promise<unknown> {
  const dir = hostDir(base, "d");
  const secret = join(dir, "secret");
  writeFileSync(secret, "secret\n", { mode: 0o644 });
  writeFileSync(join(dir, "public"), "public\n", { mode: 0o644 });
  const victim = spawn("sleep", ["30"], { stdio: "ignore" });
  await new Promise((r) => victim.once("spawn", r));
  const out: Record<string, unknown> = { victim: String(victim.pid) };
  const policy = { fsReadable: [rt19, dir, "/proc"], fsDenied: [secret] };
  const runs: [string, () => Promise<{ text: string; procView?: string }>][] = [
    ["bare", () => new Promise((resolve) => execFile(rt19, ["watch", WATCH_MS, dir, "/proc"], (_e, stdout) => resolve({ text: stdout })))],
    ...(["supervised", "kernel"] as const).map((view) => [view, async () => {
      const r = await Sandbox.run({ ...policy, procView: view }, [rt19, "watch", WATCH_MS, dir, "/proc"], { timeout: 10_000 });
      return { text: r.stdoutText, procView: r.procView };
    }] as [string, () => Promise<{ text: string; procView?: string }>]),
  ];
  try {
    for (const [name, run] of runs) {
      // The host's use of what the policy withholds, every 15 ms while the program watches.
      const activity = setInterval(() => {
        readFileSync(secret);
        appendFileSync(secret, "x");
        opendirSync(`/proc/${victim.pid}`).closeSync();
      }, 15);
      try {
        const { text, procView } = await run();
        out[name] = { procView, got: lines(text), dir: names(text, "DIR"), proc: names(text, "PROC"), dnotify: Number(lines(text).dnotify_signals ?? "-1") };
      } finally {
        clearInterval(activity);
      }
    }
  } finally {
    victim.kill("SIGKILL");
  }
  return out;
}


async function battery(base: string): Promise<unknown> {
  const out: Record<string, unknown> = {};
  // listen() on sockets whose port a connect chose, the connect's destination a host
  // listener that never answers (its queue full), no bind allowed but one fixed port.
  const bhFile = join(base, "bh-port");
  const bh = spawn(rt19, ["blackhole", bhFile, "20"], { stdio: "ignore" });
  try {
    for (let i = 0; i < 300 && !existsSync(bhFile); i++) await sleep(10);
    const bhPort = readFileSync(bhFile, "utf8").trim();
    const dir = sharedDir(base, "l");
    const portFile = join(dir, "port");
    const run = Sandbox.run(
      { fsReadable: [rt19], fsWritable: [dir], netAllow: [`127.0.0.1:${bhPort}`], netAllowBind: ["40997"], procView: "supervised" },
      [rt19, "listen", bhPort, portFile, "3000"],
      { timeout: 10_000 },
    );
    const { result: r, pulled } = await pullWhileRunning(run, portFile, 1000);
    out.listen = { procView: r.procView, got: lines(r.stdoutText), pulled };
  } finally {
    bh.kill("SIGKILL");
  }
  // Watches of a directory outside every grant by other names than its own.
  const outside = hostDir(base, "out");
  const w = sharedDir(base, "w");
  for (const view of ["supervised", "kernel"] as const) {
    const r = await Sandbox.run({ fsReadable: [rt19, "/proc"], fsWritable: [w], procView: view }, [rt19, "watchpaths", outside, w], { timeout: 10_000 });
    out[`watchpaths-${view}`] = { procView: r.procView, got: lines(r.stdoutText) };
  }
  // noHugePages: transparent huge pages back on by another way than PR_SET_THP_DISABLE 0.
  const t = await Sandbox.run({ fsReadable: [rt19, "/proc"], noHugePages: true }, [rt19, "thp"], { timeout: 10_000 });
  out.thp = { procView: t.procView, got: lines(t.stdoutText) };
  return out;
}

const modes: Record<string, (base: string) => Promise<unknown>> = { watches, battery };
const mode = modes[what];
if (mode === undefined) throw new Error(`red19-case: unknown mode ${what}`);
scriptMain("/tmp/sl-red19-", mode);
