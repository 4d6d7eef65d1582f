// The seventh security review's cases (test/integration/redteam7.test.ts): the kernel view
// (SANDLOCK_KERNEL_VIEW=1) attacked from inside, each with its positive control. Prints one
// JSON line. Usage: red7-case.js PROBE PART
// Parts: init-fds, setuid, blocklist, fork-teardown

import { spawn, type ChildProcess } from "node:child_process";
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { Sandbox } from "../../src/index.js";
import { CLI, SYSTEM_RO } from "../helpers/system.js";

const probe = process.argv[2]!;
const part = process.argv[3]!;
const base = mkdtempSync("/tmp/sandlock-red7-");
chmodSync(base, 0o755);
process.env.SANDLOCK_KERNEL_VIEW = "1";
const policy = { fsReadable: [probe, "/proc", ...SYSTEM_RO], fsWritable: ["/dev/null"] };

async function inside(script: string, p: object = policy): Promise<{ view: string; out: string }> {
  const r = await Sandbox.run(p, ["/bin/sh", "-c", script]);
  return { view: String(r.procView), out: (r.stdoutText + r.stderrText).trim() };
}

async function started(cmd: string[]): Promise<ChildProcess> {
  const c = spawn(cmd[0]!, cmd.slice(1), { stdio: "ignore" });
  await new Promise((r) => c.once("spawn", r));
  return c;
}

/**
 * The init (pid 1) kept every descriptor the command's process held when it forked, all
 * close-on-exec (gone from the command at its exec; the init never execs), among them the
 * launcher's own /proc (the host's procfs, for its process tree). Through /proc/1/fd/N the
 * sandbox reached it: Landlock refuses opens there (no rule on that procfs) but not stat or
 * readlink, so a host process's pid was seen to exist with its owner, and the host's
 * `self` link gave the sandbox its host pid. The script tries every fd number of pid 1 (0 to
 * 63): "host-pid" when the victim's entry is found behind one, "self:N" for a `self` link.
 * The controls:
 * the same script run bare against a host process that holds /proc open (found), and inside,
 * through a process of the sandbox that holds its own /proc open (the spelling works there).
 */
const scan = (pid: string, victim: number): string =>
  `for n in $(seq 0 63); do ` +
  `[ -e /proc/${pid}/fd/$n/${victim} ] && echo host-pid; ` +
  `l=$(readlink /proc/${pid}/fd/$n/self 2>/dev/null) && echo self:$l; ` +
  `done; true`;

async function initFds(): Promise<object> {
  const victim = await started(["sleep", "1000"]);
  const holder = await started(["/bin/sh", "-c", "exec 6</proc; exec sleep 1000"]);
  try {
    const attack = await inside(scan("1", victim.pid!));
    // bare: a host process holding /proc open shows the victim through its fd
    const bare = spawn("/bin/sh", ["-c", scan(String(holder.pid), victim.pid!)], { stdio: ["ignore", "pipe", "ignore"] });
    let bareOut = "";
    bare.stdout!.on("data", (d) => (bareOut += d));
    await new Promise((r) => bare.once("close", r));
    // inside: a sandbox process holding the sandbox's /proc open: the same spelling reaches
    // an entry of that procfs (pid 1, the init, the only pid always there)
    const own = await inside(`exec 7</proc; [ -e /proc/$$/fd/7/1 ] && echo own-proc; [ -e /proc/$$/fd/7/${victim.pid} ] || echo victim-absent`);
    return { attack, bare: bareOut.trim(), own };
  } finally {
    victim.kill("SIGKILL");
    holder.kill("SIGKILL");
  }
}

/**
 * A set-user-ID or set-group-ID file made in a writable grant: the kernel lets the owner
 * set the bits without a capability, so a sandbox run by root made a root shell for any
 * host user who could reach the grant. Each way is tried in both views: chmod (and
 * fchmod through the shell's redirection is the same call) of a copy of `id`, and a create
 * with the bits in its mode followed by a write (the kernel clears them at the write).
 * What is left on the host is read from outside. Controls: chmod 0755 of the same file
 * and g+s on a directory succeed inside; bare, the same uid's chmod 4755 sets the bit.
 */
async function setuid(): Promise<object> {
  const out: Record<string, unknown> = {};
  for (const view of ["1", "0"]) {
    const w = join(base, `w${view}`);
    mkdirSync(w, { mode: 0o777 });
    chmodSync(w, 0o777);
    process.env.SANDLOCK_KERNEL_VIEW = view;
    const script =
      `cp /usr/bin/id ${w}/suid && chmod 4755 ${w}/suid; echo suid:$?; ` +
      `cp /usr/bin/id ${w}/sgid && chmod 2755 ${w}/sgid; echo sgid:$?; ` +
      `cp /usr/bin/id ${w}/plain && chmod 0700 ${w}/plain; echo plain:$?; ` +
      `mkdir ${w}/dir && chmod 2755 ${w}/dir; echo dir:$?; ` +
      `python3 -c 'import os,sys; fd=os.open(sys.argv[1], os.O_CREAT|os.O_WRONLY, 0o6755); os.write(fd, open("/usr/bin/id","rb").read())' ${w}/created; echo created:$?; echo end`;
    const r = await inside(script, { fsReadable: [...SYSTEM_RO], fsWritable: [w, "/dev/null"] });
    // "absent": a create with the bits in its mode is refused since the eighth review.
    const mode = (f: string): string => (existsSync(join(w, f)) ? (statSync(join(w, f)).mode & 0o7777).toString(8) : "absent");
    out[view === "1" ? "kernel" : "supervised"] = { view: r.view, out: r.out, modes: { suid: mode("suid"), sgid: mode("sgid"), plain: mode("plain"), dir: mode("dir"), created: mode("created") } };
  }
  process.env.SANDLOCK_KERNEL_VIEW = "1";
  const bare = join(base, "bare");
  execFileSync("/bin/cp", ["/usr/bin/id", bare]);
  execFileSync("/bin/chmod", ["4755", bare]);
  out.bare = (statSync(bare).mode & 0o7777).toString(8);
  return out;
}

/** Every syscall of the blocklist (plan/blocklist.ts), by number with bad arguments, from
 * the kernel view's user namespace (where uid 0 of the namespace might hold what it holds
 * nowhere else): each EPERM. Control: bare, a few of them answer the bad arguments
 * themselves (the probe reaches the kernel). */
const BLOCKED = ["mount_setattr", "statmount", "listmount", "lsm_set_self_attr", "file_setattr", "sethostname", "setdomainname", "unshare", "setns", "perf_event_open", "bpf", "userfaultfd", "keyctl", "add_key", "request_key", "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "process_madvise", "kcmp", "open_by_handle_at", "name_to_handle_at", "ioperm", "iopl", "quotactl", "quotactl_fd", "acct", "syslog", "vhangup", "fanotify_init", "io_uring_setup", "io_uring_enter", "io_uring_register", "personality", "init_module", "finit_module", "delete_module"];
const HARMLESS = ["perf_event_open", "bpf", "keyctl", "kcmp", "name_to_handle_at", "io_uring_setup"];

async function blocklist(): Promise<object> {
  const lines = (text: string): Record<string, string> => Object.fromEntries(text.split("\n").filter((l) => l.includes(" ")).map((l) => l.trim().split(" ") as [string, string]));
  const r = await Sandbox.run(policy, [probe, "sys-each", ...BLOCKED]);
  let bare = "";
  const b = spawn(probe, ["sys-each", ...HARMLESS], { stdio: ["ignore", "pipe", "ignore"] });
  b.stdout!.on("data", (d) => (bare += d));
  await new Promise((res) => b.once("close", res));
  return { view: r.procView, inside: lines(r.stdoutText), bare: lines(bare) };
}

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Host pids whose command line is exactly `argv` (NUL-separated as in /proc). */
function pidsRunning(argv: string[]): number[] {
  const want = argv.join("\0") + "\0";
  const out: number[] = [];
  for (const n of readdirSync("/proc")) {
    if (!/^\d+$/.test(n)) continue;
    try {
      if (readFileSync(`/proc/${n}/cmdline`, "latin1") === want) out.push(Number(n));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/**
 * The CLI runs a sandbox forking in a loop (the first 20 rounds each leave an orphan
 * `sleep` that the init reaps later), under the kernel view; once it has at least 5 running, one of three is
 * SIGKILLed: the CLI, its whole process group, or the launcher alone. Then the host is
 * watched (for at most 10 s, the bound teardown.test uses) until no such `sleep` is left.
 * The count before is the control (the sandbox was forking when the kill came).
 */
async function forkTeardown(): Promise<object> {
  const out: Record<string, { before: number; left: number }> = {};
  for (const way of ["cli", "group", "launcher"] as const) {
    const argv = ["sleep", String(100_000 + Math.floor(Math.random() * 800_000))];
    // At most 20 sleeps, then subshells that end at once: forking on, under maxProcesses
    // (64 sleeps would make the shell's next fork fail, and dash then exits, the sandbox
    // with it, before the kill: "no launcher among the CLI's children" in one CI run).
    const loop = `n=0; while :; do if [ $n -lt 20 ]; then (${argv.join(" ")} &); n=$((n+1)); else (:); fi; done`;
    const cli = spawn(process.execPath, [CLI, "run", ...SYSTEM_RO.flatMap((p) => ["-r", p]), "-w", "/dev/null", "--", "/bin/sh", "-c", loop], {
      stdio: "ignore",
      detached: true,
      env: { ...process.env, SANDLOCK_KERNEL_VIEW: "1" },
    });
    let before = 0;
    for (let i = 0; i < 400 && before < 5; i++) {
      await pause(50);
      before = pidsRunning(argv).length;
    }
    // The launcher: the CLI's child (of any of its threads) running sandlock-launcher.
    const children = readdirSync(`/proc/${cli.pid}/task`).flatMap((t) => readFileSync(`/proc/${cli.pid}/task/${t}/children`, "latin1").trim().split(" ").filter((c) => c !== "").map(Number));
    const launcher = children.find((c) => {
      try {
        return readFileSync(`/proc/${c}/cmdline`, "latin1").includes("sandlock-launcher");
      } catch {
        return false;
      }
    });
    if (launcher === undefined) throw new Error(`no launcher among the CLI's children ${children.join(" ")}`);
    if (way === "cli") process.kill(cli.pid!, "SIGKILL");
    else if (way === "group") process.kill(-cli.pid!, "SIGKILL");
    else process.kill(launcher, "SIGKILL");
    let left = pidsRunning(argv).length;
    for (let i = 0; i < 200 && left > 0; i++) {
      await pause(50);
      left = pidsRunning(argv).length;
    }
    // The CLI may have exited on its own once its launcher was gone.
    if (way === "launcher" && cli.exitCode === null && cli.signalCode === null) {
      try {
        process.kill(cli.pid!, "SIGKILL");
      } catch {
        // gone meanwhile
      }
    }
    out[way] = { before, left };
  }
  return out;
}

async function main(): Promise<object> {
  switch (part) {
    case "fork-teardown":
      return forkTeardown();
    case "blocklist":
      return blocklist();
    case "init-fds":
      return initFds();
    case "setuid":
      return setuid();
    default:
      throw new Error(`unknown part ${part}`);
  }
}

main()
  .then((o) => process.stdout.write(JSON.stringify(o) + "\n"))
  .catch((e) => process.stdout.write(JSON.stringify({ error: String(e?.stack ?? e) }) + "\n"))
  .finally(() => rmSync(base, { recursive: true, force: true }));
