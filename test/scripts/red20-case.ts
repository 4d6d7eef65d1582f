// The twentieth review's cases: what a sandbox can take from its uid and from the host.
// Prints one JSON line. Usage: red20-case.js RT20 MODE, MODE one of
//   inotify   inotify instances (fs.inotify.max_user_instances)
//   watches   inotify watches (fs.inotify.max_user_watches)
//   pipes     pipe pages past fs.pipe-user-pages-soft
//   splice-pipes  the same pages in threads' splice pipes (sendfile), no pipe made
//   sigq      queued real-time signals (RLIMIT_SIGPENDING, counted per user)
//   inflight  descriptors in flight over unix sockets (counted per user)
//   pty       pseudo-terminals (kernel.pty.max) under a /dev grant: held four ways, then by
//             four sandboxes at once
//   pty-spell /dev/ptmx by other spellings than its path (a symlink, /proc/self/fd...)
//   sysv      SysV objects: refused by default; with sysv_ipc lifted, host-wide shmmni
//   nproc     processes and threads under the default policy
//   epoll     epoll watches (fs.epoll.max_user_watches): the sandbox is supervised by a
//             child Node process, and a bare program of this uid (its descriptors made
//             before) tries a watch and starts Node meanwhile. As root the program stops by
//             itself at 2,000,000 watches, so that were the budget gone root would keep
//             3.5 million (every Node process of root on the machine aborts without any)
//   names     an abstract unix name, a UDP port, a TCP port shared with SO_REUSEPORT
//   abstract-race  listens raced against binds to an abstract name, 1.5 s in each view
//   battery   keys, POSIX queues, SysV, fanotify, user namespaces (the blocklist)
// Each taking run holds what it took until the host has tried the same thing (as the same
// uid: "before", "during", and "after" the run), in both views.

import { execFile, execFileSync, spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Sandbox } from "../../src/index.js";
import { lines } from "../helpers/fixture-output.js";
import { scriptMain, sharedDir } from "../helpers/script-main.js";

const [rt20, what] = process.argv.slice(2) as [string, string];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const isRoot = process.getuid?.() === 0;
const VIEWS = ["supervised", "kernel"] as const;
type View = (typeof VIEWS)[number];
const HOLD_MS = "4000";

/** One try of each host check, bare, as this uid (and as root also without capabilities:
 * the kernel lets CAP_SYS_RESOURCE or CAP_SYS_ADMIN past some per-user limits). */
function host(checks: readonly string[], capless = false): Promise<Record<string, string>> {
  const [file, args] = capless
    ? ["setpriv", ["--bounding-set=-all", "--inh-caps=-all", "--ambient-caps=-all", "--", rt20, "host", ...checks]]
    : [rt20, ["host", ...checks]];
  return new Promise((resolve) => execFile(file, args, { timeout: 5000 }, (_e, stdout) => resolve(lines(stdout))));
}

interface Taken {
  procView?: string | null;
  exitCode?: number | null;
  got: Record<string, string>;
  before: Record<string, string>;
  during: Record<string, string> | null;
  after: Record<string, string>;
  capless?: Record<string, string> | null;
  stderr?: string;
}

/**
 * Runs `rt20 MODE DIR HOLD_MS ...args` in a sandbox of view `view` (policy: the program
 * readable, DIR writable, plus `extra`), and the host checks before it, while it holds what
 * it took (once it wrote DIR/ready), and after it ended.
 */
function take(base: string, mode: string, view: View, args: readonly string[], checks: readonly string[], extra: Record<string, unknown> = {}, capless = false): Promise<Taken> {
  return takeWith(base, mode, view, args, checks, extra, () => undefined, capless);
}

/** `rt20 MODE DIR HOLD_MS` outside any sandbox, started through `wrapper` (a command and its
 * arguments), with the host checks (`capless`: as root without capabilities) while it holds
 * what it took. */
async function bareTake(base: string, mode: string, wrapper: readonly string[], checks: readonly string[], capless = false): Promise<Omit<Taken, "before" | "after">> {
  const dir = sharedDir(base, `${mode}-bare-${Math.random().toString(36).slice(2, 8)}`);
  const child = spawn(wrapper[0]!, [...wrapper.slice(1), rt20, mode, dir, HOLD_MS], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
  const ended = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  let during: Record<string, string> | null = null;
  let exited = false;
  void ended.then(() => (exited = true));
  try {
    while (!exited && !existsSync(join(dir, "ready"))) await sleep(10);
    if (!exited) during = await host(checks, capless);
  } finally {
    writeFileSync(join(dir, "done"), "");
  }
  const exitCode = await ended;
  return { exitCode, got: lines(stdout), during };
}

/** take, calling `meanwhile` too while the sandbox holds what it took. */
async function takeWith(base: string, mode: string, view: View, args: readonly string[], checks: readonly string[], extra: Record<string, unknown>, meanwhile: () => void, capless = false): Promise<Taken> {
  const dir = sharedDir(base, `${mode}-${view}-${Math.random().toString(36).slice(2, 8)}`);
  const before = await host(checks);
  const policy = { fsReadable: [rt20], fsWritable: [dir], procView: view, ...extra } as Record<string, unknown>;
  if (Array.isArray(extra.fsReadable)) policy.fsReadable = [rt20, ...(extra.fsReadable as string[])];
  if (Array.isArray(extra.fsWritable)) policy.fsWritable = [dir, ...(extra.fsWritable as string[])];
  let ended = false;
  const run = Sandbox.run(policy, [rt20, mode, dir, HOLD_MS, ...args], { timeout: 20_000 }).finally(() => (ended = true));
  run.catch(() => undefined); // awaited below; a refusal at start must not go unhandled meanwhile
  let during: Record<string, string> | null = null;
  let caplessGot: Record<string, string> | null = null;
  try {
    while (!ended && !existsSync(join(dir, "ready"))) await sleep(10);
    if (!ended) {
      meanwhile();
      during = await host(checks);
      if (capless && isRoot) caplessGot = await host(checks, true);
    }
  } finally {
    writeFileSync(join(dir, "done"), "");
  }
  const r = await run;
  const after = await host(checks);
  return { procView: r.procView, exitCode: r.exitCode, got: lines(r.stdoutText), before, during, after, ...(capless && isRoot ? { capless: caplessGot } : {}), ...(r.exitCode !== 0 ? { stderr: r.stderrText.slice(-600) } : {}) };
}

async function inBothViews(base: string, mode: string, args: readonly string[], checks: readonly string[], extra: Record<string, unknown> = {}, capless = false, views: readonly View[] = VIEWS): Promise<Record<string, Taken>> {
  const out: Record<string, Taken> = {};
  for (const view of views) out[view] = await take(base, mode, view, args, checks, extra, capless);
  return out;
}

const modes: Record<string, (base: string) => Promise<unknown>> = {
  inotify: (base) => inBothViews(base, "inotify-inst", [], ["inotify"]),
  // Up to 60 instances, each watching the same 4,000 paths under /usr: past the 192,540.
  watches: (base) => inBothViews(base, "inotify-watch", ["/usr", "60"], ["watch"], { fsReadable: ["/usr"] }),
  // 1,100 pipes of 16 pages: past the soft 16,384 pages of fs.pipe-user-pages-soft.
  pipes: (base) => inBothViews(base, "pipes", ["1100"], ["pipe"], {}, true),
  // 1,100 threads, each with its splice pipe (a sendfile between two files): the same pages
  // without a pipe(2) (under the default thread cap of 4,096).
  "splice-pipes": (base) => inBothViews(base, "splice-pipes", ["1100"], ["pipe"], {}, true),
  sigq: (base) => inBothViews(base, "sigq", [], ["sigq", "timer"]),
  async inflight(base) {
    const out: Record<string, unknown> = await inBothViews(base, "inflight", [], ["inflight"], {}, true);
    // Control: the same program bare under RLIMIT_NOFILE 1,600 (as a process of the uid
    // with a raised limit may): the host's try at 1,024 must fail while it holds. Root's
    // capabilities exempt both from the bound, so as root both run without them.
    const capless = isRoot ? ["setpriv", "--bounding-set=-all", "--inh-caps=-all", "--ambient-caps=-all", "--"] : [];
    out.control = await bareTake(base, "inflight", [...capless, "prlimit", "--nofile=1600:1600"], ["inflight"], isRoot);
    // Files of the sandbox's own making held in flight under maxOpenFiles 512 (each sent,
    // then closed): the bound is the sending process's RLIMIT_NOFILE, and the supervisor
    // sends. The host's count of open files (fs/file-nr) while they are held.
    const files: Record<string, unknown> = {};
    const nr = (): number => Number(readFileSync("/proc/sys/fs/file-nr", "utf8").split(/\s+/)[0]);
    for (const view of VIEWS) {
      const before = nr();
      let during = 0;
      const t = await takeWith(base, "inflight-files", view, [], ["inflight"], { maxOpenFiles: 512 }, () => (during = nr()));
      files[view] = { ...t, fileNrGrowth: during - before };
    }
    out.files = files;
    return out;
  },
  // A writable /dev reaches /dev/ptmx; the kernel view refuses such a policy (no devpts of
  // its own yet), so the supervised view only.
  async pty(base) {
    // Each way of holding pairs, one sandbox at a time: opened for reading and writing under
    // a writable /dev; for reading only under a readable /dev (a pair all the same; both
    // views); each pair held by its terminal alone (the multiplexer closed); multiplexers in
    // flight in unix sockets, then held. The host's multiplexer meanwhile, and its pty/nr.
    const out: Record<string, unknown> = {};
    const nr = (): number => Number(readFileSync("/proc/sys/kernel/pty/nr", "latin1").trim());
    const runs: [string, View, string, Record<string, unknown>][] = [
      ["rdwr", "supervised", "rdwr", { fsWritable: ["/dev"] }],
      ["rdonly", "supervised", "rdonly", { fsReadable: ["/dev"] }],
      ["rdonly-kernel", "kernel", "rdonly", { fsReadable: ["/dev"] }],
      ["slaves", "supervised", "slaves", { fsWritable: ["/dev"] }],
      ["flight", "supervised", "flight", { fsWritable: ["/dev"] }],
    ];
    for (const [label, view, how, extra] of runs) {
      let during = 0;
      out[label] = { ...(await takeWith(base, "pty", view, ["5000", how], ["pty"], extra, () => (during = nr()))), nrDuring: during };
    }
    // Four sandboxes at once, each up to its share: together they would take every pair of
    // kernel.pty.max; the host keeps kernel.pty.reserve.
    const dirs = [0, 1, 2, 3].map((i) => sharedDir(base, `pty-four-${i}`));
    const runsAtOnce = dirs.map((dir) => Sandbox.run({ fsReadable: [rt20], fsWritable: [dir, "/dev"], procView: "supervised" }, [rt20, "pty", dir, HOLD_MS, "5000", "rdwr"], { timeout: 20_000 }));
    for (const r of runsAtOnce) r.catch(() => undefined);
    let during: Record<string, string> | null = null;
    let nrDuring = 0;
    try {
      const t0 = Date.now();
      while (Date.now() - t0 < 15_000 && !dirs.every((d) => existsSync(join(d, "ready")))) await sleep(10);
      nrDuring = nr();
      during = await host(["pty"]);
    } finally {
      for (const d of dirs) writeFileSync(join(d, "done"), "");
    }
    const results = await Promise.all(runsAtOnce);
    out.four = { got: results.map((r) => lines(r.stdoutText)), exitCodes: results.map((r) => r.exitCode), during, nrDuring };
    return out;
  },
  async "pty-spell"(base) {
    // /dev/ptmx by every spelling: read-write under a writable /dev (supervised view; the
    // kernel view refuses it), read-only under a readable one (both views), and bare (the
    // control: every spelling reaches it there).
    const out: Record<string, unknown> = {};
    const runs: [string, View, Record<string, unknown>, string][] = [
      ["rdwr", "supervised", { fsWritable: ["/dev"] }, "rdwr"],
      ["rdonly", "supervised", { fsReadable: ["/dev", "/proc"] }, "rdonly"],
      ["rdonly-kernel", "kernel", { fsReadable: ["/dev", "/proc"] }, "rdonly"],
    ];
    for (const [label, view, extra, how] of runs) {
      const dir = sharedDir(base, `pty-spell-${label}`);
      const policy = { fsReadable: [rt20, ...((extra.fsReadable as string[] | undefined) ?? [])], fsWritable: [dir, ...((extra.fsWritable as string[] | undefined) ?? [])], procView: view };
      const r = await Sandbox.run(policy, [rt20, "pty-spell", dir, how], { timeout: 20_000 });
      out[label] = { procView: r.procView, exitCode: r.exitCode, got: lines(r.stdoutText) };
    }
    const dir = sharedDir(base, "pty-spell-bare");
    out.bare = lines(execFileSync(rt20, ["pty-spell", dir, "rdonly"], { encoding: "utf8" }));
    return out;
  },
  async sysv(base) {
    // Keys of this run's own, so the cleanup removes only what the sandbox made; after each
    // run, what it left is counted as it is removed.
    const key = 0x5a200000 + ((process.pid & 0xfff) << 13);
    const n = 5000;
    const clean = (): number => Number(lines(execFileSync(rt20, ["sysv-clean", String(key), String(n)], { encoding: "utf8" })).removed);
    const out: Record<string, unknown> = {};
    // maxMemory needs virtual files the kernel view does not have yet: supervised only.
    const configs: [string, Record<string, unknown>, readonly View[]][] = [
      ["default", {}, VIEWS],
      ["lifted", { extraAllowSyscalls: ["sysv_ipc"] }, VIEWS],
      ["lifted-mem", { extraAllowSyscalls: ["sysv_ipc"], maxMemory: "256M" }, ["supervised"]],
    ];
    try {
      for (const [label, extra, views] of configs) {
        for (const view of views) {
          try {
            out[`${label}-${view}`] = { ...(await take(base, "sysv", view, [String(key), String(n)], ["shm"], extra)), left: 0 };
          } finally {
            const left = clean();
            const o = out[`${label}-${view}`] as { left: number } | undefined;
            if (o !== undefined) o.left = left;
          }
        }
      }
    } finally {
      clean();
    }
    return out;
  },
  nproc: (base) => inBothViews(base, "nproc", [], ["fork"]),
  async names(base) {
    const out: Record<string, unknown> = {};
    // An abstract name a host client would trust (an X display's), made unique per run.
    const name = `/tmp/.X11-unix/X${2000 + (process.pid % 5000)}`;
    const udpPort = 20000 + (process.pid % 5000);
    for (const view of VIEWS) {
      const a = await serveAndReach(base, "abstract", view, [name], {}, () => reachBare(["reach-abstract", name]));
      // UDP: refused without a UDP allowance; with one (to an unrelated address), a bind
      // of a port netAllowBind does not list is EACCES, one it lists receives, and a bind
      // won by racing a descriptor number past the check receives nothing (the socket's
      // filter: handlers/net-udp.ts).
      const u = await serveAndReach(base, "udp", view, [String(udpPort)], {}, () => reachBare(["reach-udp", String(udpPort)]));
      // (A policy with egress runs in the supervised view: the kernel view has no network.)
      const allowed = { netAllow: ["udp://192.0.2.1:9"] };
      const reach = (port: number) => () => reachBare(["reach-udp", String(port)]);
      const ua = view === "kernel" ? null : await serveAndReach(base, "udp", view, [String(udpPort + 1)], allowed, reach(udpPort + 1));
      const listed = view === "kernel" ? null : await serveAndReach(base, "udp", view, [String(udpPort + 2)], { ...allowed, netAllowBind: [udpPort + 2] }, reach(udpPort + 2));
      const race = view === "kernel" ? null : await serveAndReach(base, "udp-race", view, [String(udpPort + 3)], allowed, reach(udpPort + 3));
      out[view] = { abstract: a, udp: u, udpAllowed: ua, udpListed: listed, udpRace: race };
    }
    // A host server (this uid) on a port with SO_REUSEPORT; a sandbox allowed to bind that
    // port joins its group and takes a share of its connections (supervised view).
    const pf = join(base, "tcp-port");
    const h = spawn(rt20, ["tcp-host", pf, "15000"], { stdio: "ignore" });
    try {
      for (let i = 0; i < 300 && !existsSync(pf); i++) await sleep(10);
      const port = Number(readFileSync(pf, "utf8"));
      for (const [label, extra] of [["tcp-nobind", {}], ["tcp-bind", { netAllowBind: [port] }]] as const) {
        out[label] = await serveAndReach(base, "tcp", "supervised", [String(port)], extra, async () => {
          const seen: string[] = [];
          for (let i = 0; i < 20; i++) seen.push(await reachTcp(port));
          return seen;
        });
      }
    } finally {
      h.kill("SIGKILL");
    }
    return out;
  },
  async "abstract-race"(base) {
    void base;
    const out: Record<string, unknown> = {};
    const name = `/tmp/.X11-unix/X${3000 + (process.pid % 5000)}`;
    for (const view of VIEWS) {
      const r = await Sandbox.run({ fsReadable: [rt20], procView: view }, [rt20, "abstract-race", name, "1500"], { timeout: 20_000 });
      const m = /abstract_race tries (\d+) wins (\d+) refused (\d+) bind_refused (\d+)/.exec(r.stdoutText);
      out[view] = { procView: r.procView, tries: Number(m?.[1]), wins: Number(m?.[2]), refused: Number(m?.[3]), bindRefused: Number(m?.[4]) };
    }
    return out;
  },
  async battery(base) {
    void base;
    const out: Record<string, unknown> = {};
    for (const view of VIEWS) {
      const r = await Sandbox.run({ fsReadable: [rt20], procView: view }, [rt20, "battery"], { timeout: 10_000 });
      out[view] = { procView: r.procView, got: lines(r.stdoutText) };
    }
    return out;
  },
};

/** Collects a child's stdout and how it ended, with no descriptor made after its start (a
 * process of this uid cannot add one to its event loop while the sandbox holds the watches). */
function collect(file: string, args: readonly string[]): Promise<{ out: string; code: number | null; signal: string | null }> {
  return new Promise((resolve) => {
    const c = spawn(file, args, { stdio: ["ignore", "pipe", "ignore"] });
    let out = "";
    c.stdout.on("data", (d) => (out += d.toString()));
    c.on("close", (code, signal) => resolve({ out, code, signal }));
  });
}

async function epoll(base: string): Promise<unknown> {
  const out: Record<string, unknown> = {};
  const [n, k] = isRoot ? ["1000", "2000"] : ["1000", "10000"];
  // Both views at once, each a sandbox at its own budget (a quarter of the uid's limit):
  // the host's tries meet half of it taken (the fills took 67 s a user one after the other).
  await Promise.all(VIEWS.map(async (view) => {
    const dir = sharedDir(base, `epoll-${view}`);
    // Both children start (and make their pipes) before the sandbox takes anything.
    const host = collect(rt20, ["epoll-host", dir, process.execPath]);
    const sup = collect(process.execPath, [process.argv[1]!, rt20, "epoll-supervise", dir, view, n, k]);
    const [h, s] = await Promise.all([host, sup]);
    if (!existsSync(join(dir, "done"))) writeFileSync(join(dir, "done"), "");
    let result: unknown = null;
    try {
      result = JSON.parse(s.out.trim().split("\n").pop() ?? "");
    } catch {
      // the supervising process ended without its line
    }
    out[view] = { supervisor: { code: s.code, signal: s.signal }, result, host: lines(h.out) };
  }));
  return out;
}

/** The supervising child of the epoll case: one run, its result as a JSON line. */
async function epollSupervise(): Promise<void> {
  const [dir, view, n, k] = process.argv.slice(4) as [string, View, string, string];
  const r = await Sandbox.run({ fsReadable: [rt20], fsWritable: [dir], procView: view }, [rt20, "epoll", dir, "4000", n, k], { timeout: 30_000 });
  console.log(JSON.stringify({ procView: r.procView, exitCode: r.exitCode, status: r.status, got: lines(r.stdoutText) }));
}

/** A serving mode (abstract, udp, tcp) run in a sandbox; once it is ready, `reach` from the host. */
async function serveAndReach(base: string, mode: string, view: View, args: readonly string[], extra: Record<string, unknown>, reach: () => Promise<unknown>): Promise<unknown> {
  const dir = sharedDir(base, `${mode}-${view}-${Math.random().toString(36).slice(2, 8)}`);
  let ended = false;
  const run = Sandbox.run({ fsReadable: [rt20], fsWritable: [dir], procView: view, ...extra }, [rt20, mode, dir, HOLD_MS, ...args], { timeout: 20_000 }).finally(() => (ended = true));
  run.catch(() => undefined);
  let reached: unknown = null;
  try {
    while (!ended && !existsSync(join(dir, "ready"))) await sleep(10);
    if (!ended) reached = await reach();
  } finally {
    writeFileSync(join(dir, "done"), "");
  }
  const r = await run;
  return { procView: r.procView, got: lines(r.stdoutText), reached };
}

/** What the host's side of a reach (a mode of the program, bare) printed. */
function reachBare(args: readonly string[]): Promise<string> {
  return new Promise((resolve) => execFile(rt20, args, { timeout: 5000 }, (_e, stdout) => resolve(lines(stdout).reached ?? "none")));
}

async function reachTcp(port: number): Promise<string> {
  const { connect } = await import("node:net");
  return new Promise((resolve) => {
    let got = "";
    const s = connect({ host: "127.0.0.1", port });
    s.setTimeout(1000, () => s.destroy());
    s.on("data", (d) => (got += d.toString()));
    s.on("error", (e: NodeJS.ErrnoException) => resolve(`error ${e.code}`));
    s.on("close", () => resolve(got.trim() || "nothing"));
  });
}

modes.epoll = epoll;
if (what === "epoll-supervise") {
  epollSupervise().then(() => process.exit(0), (e: Error) => {
    console.log(JSON.stringify({ error: e.message }));
    process.exit(0);
  });
} else {
  const mode = modes[what];
  if (mode === undefined) throw new Error(`red20-case: unknown mode ${what}`);
  scriptMain("/tmp/sl-red20-", mode);
}
