// The eighteenth review's cases (the syscall surface). Prints one JSON line.
// Usage: red18-case.js RT18 battery                 calls that must not get through, both views
//        red18-case.js RT18 listen                  listen() without bind, supervised and kernel view
//        red18-case.js RT18 whiteout                whiteouts in a writable grant, three policies
//        red18-case.js RT18 outside                 an xattr and inotify outside the grants, both views and bare
//        red18-case.js RT18 watch                   watches inside a grant, through a link out, and a link swapped
//        red18-case.js RT18 cgroup                  /proc/self/cgroup in the kernel view

import { execFile, spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Sandbox } from "../../src/index.js";
import { lines, pullWhileRunning } from "../helpers/fixture-output.js";
import { scriptMain, sharedDir } from "../helpers/script-main.js";

const [rt18, what] = process.argv.slice(2) as [string, string];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const VIEWS = ["supervised", "kernel"] as const;


/** A directory of the host's (outside every grant) that the test user can read. */
function hostDir(base: string, name: string): string {
  const dir = join(base, name);
  mkdirSync(dir);
  chmodSync(dir, 0o755);
  return dir;
}

/** What a host process shows of itself that the calls aimed at it would change. */
function victimState(pid: number): { nice: string; policy: string; nofile: string; cpus: string } {
  const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const limits = readFileSync(`/proc/${pid}/limits`, "latin1");
  const status = readFileSync(`/proc/${pid}/status`, "latin1");
  return {
    nice: f[16]!,
    policy: f[38]!,
    nofile: /^Max open files\s+(\S+\s+\S+)/m.exec(limits)![1]!,
    cpus: /^Cpus_allowed_list:\s+(\S+)/m.exec(status)![1]!,
  };
}

async function battery(base: string): Promise<unknown> {
  const ro = hostDir(base, "ro");
  writeFileSync(join(ro, "file"), "read-only\n", { mode: 0o644 });
  const out: Record<string, unknown> = {};
  for (const view of VIEWS) {
    const w = sharedDir(base, `w-${view}`);
    // A host process of the same user in a session of its own (a group of its own too).
    const victim = spawn("sleep", ["30"], { stdio: "ignore", detached: true });
    await new Promise((r) => victim.once("spawn", r));
    let exited = false;
    victim.once("exit", () => (exited = true));
    const before = victimState(victim.pid!);
    try {
      const r = await Sandbox.run({ fsReadable: [rt18, ro], fsWritable: [w], procView: view }, [rt18, "battery", String(victim.pid), join(ro, "file"), w], { timeout: 10_000 });
      await sleep(50);
      out[view] = { procView: r.procView, got: lines(r.stdoutText), alive: !exited, before, after: exited ? null : victimState(victim.pid!), roFile: readFileSync(join(ro, "file"), "utf8") };
    } finally {
      victim.kill("SIGKILL");
    }
  }
  return out;
}


async function listen(base: string): Promise<unknown> {
  const out: Record<string, unknown> = {};
  // The supervised view with an egress rule to one loopback port (a network rule keeps a
  // policy in the supervised view), and the kernel view with no network at all.
  // And without a supervisor (no network rule), where the filter answers listen.
  const cases = [
    ["supervised", { procView: "supervised", netAllow: ["127.0.0.1:9"], netAllowBind: ["40998"] }],
    ["kernel", { procView: "kernel" }],
    ["unsupervised", { supervisor: false }],
  ] as const;
  for (const [view, net] of cases) {
    const dir = sharedDir(base, `l-${view}`);
    const portFile = join(dir, "port");
    const run = Sandbox.run({ fsReadable: [rt18], fsWritable: [dir], ...net }, [rt18, "listen", portFile], { timeout: 10_000 });
    const { result: r, pulled } = await pullWhileRunning(run, portFile, 2000);
    out[view] = { procView: r.procView, got: lines(r.stdoutText), pulled };
  }
  return out;
}

function hostLstat(path: string): string {
  try {
    const st = lstatSync(path);
    return st.isCharacterDevice() ? `chr ${st.rdev}` : st.isFile() ? "reg" : `mode ${st.mode.toString(8)}`;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? "error";
  }
}

async function whiteout(base: string): Promise<unknown> {
  const out: Record<string, unknown> = {};
  const cases = [
    ["supervised", false],
    ["kernel", false],
    ["kernel", true],
  ] as const;
  for (const [view, protect] of cases) {
    const w = sharedDir(base, `w-${view}-${protect}`);
    const r = await Sandbox.run({ fsReadable: [rt18], fsWritable: [w], procView: view, protectedFiles: protect }, [rt18, "whiteout", w], { timeout: 10_000 });
    out[`${view}${protect ? "+protected" : ""}`] = { procView: r.procView, got: lines(r.stdoutText), host: { a: hostLstat(join(w, "a")), w: hostLstat(join(w, "w")) } };
  }
  return out;
}

async function outside(base: string): Promise<unknown> {
  const secret = hostDir(base, "secret");
  const file = join(secret, "file");
  writeFileSync(file, "secret\n", { mode: 0o644 });
  // user.secret set by the program itself, outside any sandbox.
  spawnSync(rt18, ["setxattr", file]);
  const out: Record<string, unknown> = {};
  const runs: [string, () => Promise<string>][] = [
    ["bare", () => new Promise((resolve) => execFile(rt18, ["outside", secret, file, "300"], (_e, stdout) => resolve(stdout)))],
    ...VIEWS.map((view) => [view, async () => (await Sandbox.run({ fsReadable: [rt18], procView: view }, [rt18, "outside", secret, file, "300"], { timeout: 10_000 })).stdoutText] as [string, () => Promise<string>]),
    ["unsupervised", async () => (await Sandbox.run({ fsReadable: [rt18], supervisor: false }, [rt18, "outside", secret, file, "300"], { timeout: 10_000 })).stdoutText],
  ];
  for (const [name, run] of runs) {
    // The host opens, reads and creates files in the directory while the program watches.
    let n = 0;
    const activity = setInterval(() => {
      readFileSync(file);
      writeFileSync(join(secret, `host-made-${name}-${n++}`), "");
    }, 50);
    try {
      const text = await run();
      out[name] = { got: lines(text), names: text.split("\n").filter((l) => l.startsWith("event ")).map((l) => l.slice(6)) };
    } finally {
      clearInterval(activity);
    }
  }
  return out;
}

/** Watches under the supervised view: inside a grant (the control), through a link to a
 * directory outside every grant, and through that link swapped while watches are added;
 * the host makes files in the outside directory all the while. */
async function watch(base: string): Promise<unknown> {
  const out = hostDir(base, "out");
  const w = sharedDir(base, "w-watch");
  let n = 0;
  const activity = setInterval(() => writeFileSync(join(out, `host-made-${n++}`), ""), 20);
  try {
    const r = await Sandbox.run({ fsReadable: [rt18], fsWritable: [w], procView: "supervised" }, [rt18, "watch", w, out, "1000"], { timeout: 20_000 });
    return { procView: r.procView, got: lines(r.stdoutText), hostMade: n };
  } finally {
    clearInterval(activity);
  }
}

/** /proc/self/cgroup in the kernel view (with /proc granted), and the host's own. */
async function cgroup(): Promise<unknown> {
  const system = ["/usr", "/lib", "/lib64", "/bin"].filter((p) => existsSync(p));
  const r = await Sandbox.run({ fsReadable: [...system, "/proc"], procView: "kernel" }, ["/bin/cat", "/proc/self/cgroup"], { timeout: 10_000 });
  return { procView: r.procView, inside: r.stdoutText, host: readFileSync("/proc/self/cgroup", "utf8") };
}

const modes: Record<string, (base: string) => Promise<unknown>> = { battery, listen, whiteout, outside, watch, cgroup };
const mode = modes[what];
if (mode === undefined) throw new Error(`red18-case: unknown mode ${what}`);
scriptMain("/tmp/sl-red18-", mode);
