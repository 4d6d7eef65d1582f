// The standby launcher (src/confine/standby.ts, native/launcher/standby.c), run as root or
// as the test user. Prints one JSON line.
// Usage: standby-case.js PROBE adopt|identity|exit|killed|nofit|off|concurrent|check

import { execFileSync, spawn } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Sandbox } from "../../src/index.js";
import { LauncherProcess } from "../../src/confine/launcher.js";
import { native } from "../../src/confine/native.js";
import { probeHost } from "../../src/kernel/probe.js";
import { cachedFeatures, planFor } from "../../src/plan/cache.js";
import { Step } from "../../src/plan/protocol.js";
import { Policy } from "../../src/policy/policy.js";
import { SYSTEM_RO } from "../helpers/system.js";
import { childrenOf } from "../helpers/proc.js";

const [probe, mode] = process.argv.slice(2) as [string, string];

const base = mkdtempSync("/tmp/sandlock-standby-");
chmodSync(base, 0o755);
const secret = join(base, "secret");
writeFileSync(secret, "secret\n", { mode: 0o644 });
const policy = { fsReadable: [probe, "/proc", ...SYSTEM_RO], procView: "kernel" as const };

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// Off by default ("off" checks that); every other case turns it on.
if (mode !== "off") Sandbox.setStandby(true);

/** This process's children, with their command names. */
const children = (pid = process.pid): { pid: number; comm: string }[] => childrenOf(pid);

/** Waits (at most 5 s) for a launcher child of this process that no sandbox runs in: the standby. */
async function standbyPid(busy: readonly number[] = []): Promise<number | undefined> {
  for (let i = 0; i < 500; i++) {
    const l = children().find((c) => c.comm === "sandlock-launch" && !busy.includes(c.pid));
    if (l !== undefined) return l.pid;
    await sleep(10);
  }
  return undefined;
}

/** The one child of process `pid` (a standby's, in its namespaces), waited for (at most 5 s:
 * the standby clones it after its start). */
async function childOf(pid: number): Promise<number | undefined> {
  for (let i = 0; i < 500; i++) {
    const c = children(pid)[0];
    if (c !== undefined) return c.pid;
    await sleep(10);
  }
  return undefined;
}

/** Whether process `pid` is gone (or a zombie nobody reaped: reported as "zombie"). */
function state(pid: number): string {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, "latin1");
    return s.slice(s.lastIndexOf(")") + 2).split(" ")[0] === "Z" ? "zombie" : "alive";
  } catch {
    return "gone";
  }
}

async function gone(pid: number, ms = 5000): Promise<string> {
  for (let t = 0; t < ms; t += 10) {
    if (state(pid) === "gone") return "gone";
    await sleep(10);
  }
  return state(pid);
}

/** The launcher of a running kernel-view sandbox: the command's parent is the init, whose
 * parent is the launcher. */
function launcherOf(sb: Sandbox): number {
  const ppid = (p: number): number => Number(/^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${p}/status`, "latin1"))![1]);
  return ppid(ppid(sb.pid!));
}

/** What the confinement looks like from inside, for comparing a standby start with a
 * fresh one: ids, capabilities, filter, namespaces' view, /proc's hidden files covered
 * (empty, not writable), a host file outside the grants, a write outside them, stdin
 * passed through. */
const BATTERY = [
  "/bin/sh",
  "-c",
  `cat /proc/self/uid_map /proc/self/gid_map; grep -E '^(Uid|Gid|Groups|CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp|Seccomp_filters|NStgid)' /proc/self/status; cat ${secret} 2>&1; echo x 2>&1 > /etc/standby-x; ls /; hostname; cat /proc/self/mountinfo | wc -l; for f in kmsg keys kallsyms timer_list kpageflags; do printf '%s:%s ' $f $(wc -c < /proc/$f); done; echo; echo x 2>&1 > /proc/keys; grep -c ' /proc/[a-z_-]* ' /proc/self/mountinfo; set -- /proc/[0-9]*; echo "processes $#"; echo "pid $$"; read line; echo "stdin: $line"`,
];

async function battery(): Promise<{ launcher: number; out: string; code: number | null }> {
  const sb = new Sandbox(policy);
  await sb.spawn(BATTERY, { stdin: "pipe" });
  const launcher = launcherOf(sb);
  sb.stdin!.end("through the standby\n");
  const r = await sb.wait();
  return { launcher, out: r.stdoutText + r.stderrText, code: r.exitCode };
}

async function run(): Promise<Record<string, unknown>> {
  switch (mode) {
    case "adopt": {
      // Cold first (no standby yet), then the standby is taken over; then the same battery
      // with standbys off: the two starts must look the same from inside.
      const first = await battery();
      const waiting = await standbyPid();
      const adopted = await battery();
      // A plan without /proc takes the next standby too, and its root has no /proc, nor the
      // host's tree (/old) or the staging tree's paths (/new) the standby's child pivoted to.
      const waitingNoProc = await standbyPid();
      const sb = new Sandbox({ ...policy, fsReadable: [probe, ...SYSTEM_RO] });
      await sb.spawn(["/bin/sh", "-c", "read line; ls -d /proc /old /new 2>&1; ls /; grep -c . /proc/self/mountinfo 2>&1"], { stdin: "pipe" });
      const noProcLauncher = launcherOf(sb);
      sb.stdin!.end("go\n");
      const noProc = { launcher: noProcLauncher, waiting: waitingNoProc, out: (await sb.wait()).stdoutText };
      const last = await standbyPid();
      Sandbox.setStandby(false);
      const afterOff = await gone(last ?? 0, 2000);
      const cold = await battery();
      return { first, waiting, adopted, noProc, cold, afterOff, standbyLeft: children().filter((c) => c.comm === "sandlock-launch").length };
    }
    case "identity": {
      // The launcher inherits the working directory (and ids, umask...): a change drops it.
      await Sandbox.run(policy, ["/bin/true"]);
      const waiting = await standbyPid();
      const other = join(base, "elsewhere");
      mkdirSync(other);
      process.chdir(other);
      const r = await battery();
      const old = await gone(waiting ?? 0, 3000);
      const next = await standbyPid();
      process.umask(0o077);
      const r2 = await battery();
      return { waiting, launcher: r.launcher, code: r.code, old, next, launcher2: r2.launcher, code2: r2.code };
    }
    case "exit": {
      // A Node process with a standby ends, normally or by SIGKILL: the standby and its
      // child go with it.
      const out: Record<string, unknown> = {};
      for (const how of ["normal", "SIGKILL"]) {
        const child = spawn(process.execPath, [process.argv[1]!, probe, "holder"], { stdio: ["ignore", "pipe", "inherit"] });
        let text = "";
        child.stdout.on("data", (d: Buffer) => (text += d.toString()));
        for (let i = 0; i < 500 && !text.includes("\n"); i++) await sleep(10);
        const held = JSON.parse(text.split("\n")[0]!) as { standby: number; standbyChild: number };
        // SIGTERM: the holder's handler exits normally (process.exit).
        child.kill(how === "SIGKILL" ? "SIGKILL" : "SIGTERM");
        await new Promise((r) => child.on("exit", r));
        out[how] = { ...held, standbyAfter: await gone(held.standby), childAfter: await gone(held.standbyChild) };
      }
      return out;
    }
    case "holder": {
      await Sandbox.run(policy, ["/bin/true"]);
      const standby = await standbyPid();
      const standbyChild = await childOf(standby!);
      process.stdout.write(`${JSON.stringify({ standby, standbyChild })}\n`);
      process.on("SIGTERM", () => process.exit(0));
      await sleep(60_000);
      return {};
    }
    case "killed": {
      // The standby killed from outside: its child dies with it, and the next start starts
      // a launcher of its own.
      await Sandbox.run(policy, ["/bin/true"]);
      const waiting = (await standbyPid())!;
      const standbyChild = (await childOf(waiting))!;
      process.kill(waiting, "SIGKILL");
      const childAfter = await gone(standbyChild);
      const r = await battery();
      return { waiting, childAfter, launcher: r.launcher, code: r.code, out: r.out, standbyAfter: await gone(waiting) };
    }
    case "nofit": {
      // A plan whose launcher must work before its fork (maxCpu's counter, a chroot's
      // namespace...) starts its own launcher and leaves the standby waiting.
      await Sandbox.run(policy, ["/bin/true"]);
      const waiting = await standbyPid();
      const sb = new Sandbox({ ...policy, maxCpu: 50 });
      await sb.spawn(["/bin/sleep", "0.2"]);
      const cpuLauncher = launcherOf(sb);
      const cpuCode = (await sb.wait()).exitCode;
      const still = state(waiting ?? 0);
      const r = await battery();
      return { waiting, cpuLauncher, cpuCode, still, launcher: r.launcher, code: r.code };
    }
    case "off": {
      // The default: no standby, however many kernel-view starts.
      for (let i = 0; i < 3; i++) await Sandbox.run(policy, ["/bin/true"]);
      await sleep(100);
      let bad = "";
      try {
        Sandbox.setStandby("yes" as unknown as boolean);
      } catch (e) {
        bad = `${(e as Error).name}: ${(e as Error).message}`;
      }
      return { launchers: children().filter((c) => c.comm === "sandlock-launch").length, bad };
    }
    case "concurrent": {
      // One standby, twelve starts at once: one takes it, the others start their own; every
      // one runs confined and gets its own stdin.
      await Sandbox.run(policy, ["/bin/true"]);
      const waiting = await standbyPid();
      const runs = await Promise.all(
        Array.from({ length: 12 }, async (_, i) => {
          const sb = new Sandbox(policy);
          await sb.spawn(["/bin/sh", "-c", `read l; echo "$l $$"; cat ${secret} 2>&1; echo end`], { stdin: "pipe" });
          const launcher = launcherOf(sb);
          sb.stdin!.end(`n${i}\n`);
          const r = await sb.wait();
          return { launcher, out: r.stdoutText + r.stderrText, code: r.exitCode };
        }),
      );
      return { waiting, runs };
    }
    case "mounts": {
      // Root: the host's mount table changes after the standby was made (a directory hidden
      // under a tmpfs, a writable grant remounted read-only, a new tmpfs): the next start
      // must see the table as it is, which the standby's copy is not.
      const share = join(base, "share");
      const w = join(base, "w");
      const fresh = join(base, "newmnt");
      for (const d of [join(share, "private"), w, fresh]) mkdirSync(d, { recursive: true, mode: 0o755 });
      writeFileSync(join(share, "private", "secret"), "HIDDEN\n");
      const grants = { fsReadable: [probe, "/proc", ...SYSTEM_RO, share, fresh], fsWritable: [w], procView: "kernel" as const };
      await Sandbox.run(grants, ["/bin/true"]);
      const waiting = await standbyPid();
      const sh = (c: string): void => void execFileSync("/bin/sh", ["-c", c]);
      sh(`mount -t tmpfs none ${join(share, "private")} && mount --bind ${w} ${w} && mount -o remount,bind,ro ${w} && mount -t tmpfs none ${fresh} && echo NEW > ${join(fresh, "f")}`);
      try {
        const sb = new Sandbox(grants);
        await sb.spawn(["/bin/sh", "-c", `cat ${join(share, "private", "secret")} 2>&1; echo x > ${join(w, "x")} 2>&1 && echo wrote; cat ${join(fresh, "f")} 2>&1; true`]);
        const launcher = launcherOf(sb);
        const r = await sb.wait();
        return { waiting, launcher, out: r.stdoutText + r.stderrText };
      } finally {
        sh(`umount ${fresh}; umount ${w}; umount ${join(share, "private")}`);
      }
    }
    case "inherit": {
      // What a process inherits that /proc/self/status does not show: the I/O priority, the
      // scheduling policy, the timer slack (and, as root, the host name), changed on this
      // process after the standby was made: the command must see the new values.
      await Sandbox.run(policy, ["/bin/true"]);
      const waiting = await standbyPid();
      const sh = (c: string): string => execFileSync("/bin/sh", ["-c", c], { encoding: "utf8" });
      sh(`ionice -c3 -p ${process.pid} && chrt -b -p 0 ${process.pid}`);
      writeFileSync("/proc/self/timerslack_ns", "123456");
      const root = process.getuid?.() === 0;
      const oldName = root ? sh("hostname").trim() : "";
      if (root) sh("hostname sl-standby-renamed");
      try {
        const sb = new Sandbox(policy);
        await sb.spawn(["/bin/sh", "-c", "ionice; chrt -p $$ | head -1; cat /proc/self/timerslack_ns; hostname"]);
        const launcher = launcherOf(sb);
        const r = await sb.wait();
        return { waiting, launcher, out: r.stdoutText + r.stderrText, root };
      } finally {
        if (root) sh(`hostname ${oldName}`);
      }
    }
    case "check": {
      // The launcher's own check (sl_standby_fits): a plan that needs work before the fork,
      // here one whose first step is made SL_STEP_CPU_COUNTER's code, given to a standby
      // anyway (TypeScript never does), is refused before anything of it runs.
      await Sandbox.run(policy, ["/bin/true"]);
      const waiting = await standbyPid();
      const features = cachedFeatures(Policy.from(policy), probeHost());
      const { plan, blob } = planFor(features, { path: "/bin/true", argv: ["/bin/true"], env: {}, cwd: "/", ownProcessGroup: false });
      const forged = Buffer.from(blob);
      forged.writeUInt32LE(Step.CPU_COUNTER, 16); // the first step's op, after the 16-byte header
      const devNull = native().memfd(Buffer.alloc(0));
      const attempt = async (blob: Buffer): Promise<{ launcher: number; error: string }> => {
        const l = new LauncherProcess(blob, plan.steps, [devNull, devNull, devNull]);
        let error = "";
        try {
          await l.started;
        } catch (e) {
          error = (e as Error).message;
        }
        await l.exited.catch(() => undefined);
        return { launcher: l.pid, error };
      };
      const forgedOp = await attempt(forged);
      // The standby's child entered the namespaces with the caller's ids and staging
      // directory; a plan naming another staging directory (here its first byte changed)
      // that still reaches it fails its NS_VIEW step instead of using what was built.
      await Sandbox.run(policy, ["/bin/true"]);
      const waiting2 = await standbyPid();
      const other = Buffer.from(blob);
      const view = plan.steps.findIndex((st) => st.op === Step.NS_VIEW);
      let at = 16;
      for (let i = 0; i < view; i++) at += 8 + ((plan.steps[i]!.payload.length + 7) & ~7);
      other[at + 8 + 17] = other[at + 8 + 17]! ^ 0x20; // "/tmp" -> "/Tmp"
      const forgedStaging = await attempt(other);
      return { waiting, launcher: forgedOp.launcher, error: forgedOp.error, waiting2, launcher2: forgedStaging.launcher, error2: forgedStaging.error };
    }
  }
  throw new Error(`unknown mode ${mode}`);
}

try {
  const out = await run();
  if (mode !== "holder") process.stdout.write(`${JSON.stringify(out)}\n`);
} finally {
  rmSync(base, { recursive: true, force: true });
}
