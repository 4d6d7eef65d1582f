// Attacks on the kernel-native view (SANDLOCK_KERNEL_VIEW=1, plan/kernel-view.ts), each with
// its positive control run bare or under the same policy. Prints one JSON line.
// Usage: kview-case.js PROBE proc|hidden|mounts|net|escape|pid1|pids|fallback|covers|initfilter

import { execFileSync, spawn } from "node:child_process";
import { chmodSync, chownSync, closeSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { join } from "node:path";
import { Sandbox } from "../../src/index.js";
import { CloneAdopter } from "../../src/fork/adopt.js";
import { SYSTEM_RO } from "../helpers/system.js";

const [probe, mode] = process.argv.slice(2) as [string, string];
process.env.SANDLOCK_KERNEL_VIEW = "1";

const base = mkdtempSync("/tmp/sandlock-kview-");
chmodSync(base, 0o755);
const work = join(base, "work");
const secret = join(base, "secret");
mkdirSync(work, { mode: 0o777 });
mkdirSync(secret, { mode: 0o755 });
chmodSync(work, 0o777);
writeFileSync(join(secret, "file"), "secret\n", { mode: 0o644 });
writeFileSync(join(work, "own"), "own\n", { mode: 0o644 });
const policy = { fsReadable: [probe, "/proc", ...SYSTEM_RO], fsWritable: [work, "/dev/null"] };

async function inside(cmd: string[], p: object = policy): Promise<string> {
  const r = await Sandbox.run(p, cmd);
  return r.stdoutText + r.stderrText;
}

function bare(cmd: string[]): string {
  try {
    return execFileSync(cmd[0]!, cmd.slice(1), { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    return String((e as { stdout?: string }).stdout ?? "");
  }
}

/** The sandbox's own pid as it sees itself: 2 in its own pid namespace (pid 1 is the init). */
const selfPid = async (p: object = policy): Promise<string> => (await inside([probe, "cat", "/proc/self/stat"], p)).split(" ")[0]!;

async function main(): Promise<Record<string, unknown>> {
  switch (mode) {
    case "proc": {
      const victim = spawn("sleep", ["1000"], { stdio: "ignore" });
      await new Promise((r) => victim.once("spawn", r));
      try {
        return {
          selfPid: await selfPid(),
          victim: await inside([probe, "read", `/proc/${victim.pid}/status`]),
          supervisor: await inside([probe, "read", `/proc/${process.pid}/status`]),
          hostInit: await inside([probe, "cat", "/proc/1/cmdline"]),
          own: await inside([probe, "read", "/proc/self/status"]),
          listing: await inside(["/bin/ls", "/proc"]),
          bareVictim: bare([probe, "read", `/proc/${victim.pid}/status`]),
        };
      } finally {
        victim.kill("SIGKILL");
      }
    }
    case "hidden": {
      const files = ["kmsg", "kallsyms", "keys", "key-users", "timer_list", "kpageflags"];
      const seen: Record<string, string> = {};
      for (const f of files) seen[f] = await inside([probe, "cat", `/proc/${f}`]);
      return {
        selfPid: await selfPid(),
        seen,
        writeKallsyms: await inside([probe, "append", "/proc/kallsyms"]),
        umountKallsyms: await inside([probe, "kv-umount", "/proc/kallsyms"]),
        bareKallsyms: bare([probe, "cat", "/proc/kallsyms"]).length,
        // A host-wide sysctl: the sandbox's uid 0 is the host's (1:1 map), and sysctls check
        // the uid, not a capability; only the read-only Landlock rule on /proc refuses it.
        // drop_caches refuses "probe" with EINVAL once a write reaches it: harmless.
        sysctl: await inside([probe, "append", "/proc/sys/vm/drop_caches"]),
        bareSysctl: bare([probe, "append", "/proc/sys/vm/drop_caches"]),
      };
    }
    case "mounts": {
      const points = (text: string): string[] => text.split("\n").filter((l) => l.length > 0).map((l) => l.split(" ")[4]!);
      const fresh = join(work, "m");
      mkdirSync(fresh);
      return {
        selfPid: await selfPid(),
        grants: [probe, "/proc", ...SYSTEM_RO, work, "/dev/null"].map((p) => realpathSync(p)),
        inside: points(await inside([probe, "cat", "/proc/self/mountinfo"])),
        bare: points(bare([probe, "cat", "/proc/self/mountinfo"])),
        mount: await inside([probe, "kv-mount", fresh]),
        umountProc: await inside([probe, "kv-umount", "/proc"]),
        pivot: await inside([probe, "kv-pivot", "/"]),
        unshare: await inside([probe, "kv-unshare"]),
        unshareMount: await inside([probe, "kv-unshare-mount", fresh]),
        setns: await inside([probe, "kv-setns", "/proc/self/ns/mnt"]),
        cloneUserns: await inside([probe, "clone", "0x10000000"]),
        // The new mount API and the rest of the mount family, by number (harmless arguments).
        mountApi: await inside([probe, "sys-each", "fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree", "open_tree_attr", "mount_setattr", "chroot", "sethostname"]),
        capEff: (await inside([probe, "cat", "/proc/self/status"])).split("\n").find((l) => l.startsWith("CapEff:")),
        bareUnshareMount: bare([probe, "kv-unshare-mount", fresh]),
      };
    }
    case "net": {
      const server = createServer();
      await new Promise<void>((r) => server.listen({ host: "127.0.0.1", port: 0 }, () => r()));
      const port = (server.address() as AddressInfo).port;
      const hex = `:${port.toString(16).toUpperCase().padStart(4, "0")} `;
      try {
        const tcp = await inside([probe, "cat", "/proc/net/tcp"]);
        const dev = await inside([probe, "cat", "/proc/net/dev"]);
        return {
          selfPid: await selfPid(),
          listenerInside: tcp.includes(hex),
          tcpLines: tcp.trim().split("\n").length,
          interfaces: dev.split("\n").slice(2).filter((l) => l.includes(":")).map((l) => l.split(":")[0]!.trim()),
          listenerBare: bare([probe, "cat", "/proc/net/tcp"]).includes(hex),
        };
      } finally {
        server.close();
      }
    }
    case "escape": {
      symlinkSync(join(secret, "file"), join(work, "abs"));
      symlinkSync("../secret/file", join(work, "rel"));
      symlinkSync("../../../../../../../..", join(work, "up"));
      const paths = [`${work}/../secret/file`, `${work}/abs`, `${work}/rel`, `${work}/up${secret}/file`, `/../../..${secret}/file`];
      const seen: Record<string, string> = {};
      const bareSeen: Record<string, string> = {};
      for (const p of paths) {
        seen[p] = (await inside([probe, "read", p])).trim();
        bareSeen[p] = bare([probe, "read", p]).trim();
      }
      // A symlink the sandbox makes itself, pointing at the host's root spelled every way.
      const made = await inside(["/bin/sh", "-c", `ln -s / ${work}/root && ${probe} read ${work}/root${secret}/file`]);
      return { selfPid: await selfPid(), seen, bareSeen, made: made.trim(), own: (await inside([probe, "read", `${work}/own`])).trim() };
    }
    case "pid1": {
      // The init as a target: every signal from inside, then what it is afterwards.
      const script = `${probe} kill 1 9; ${probe} kill 1 15; ${probe} kill 1 19; ${probe} kill 1 1; echo alive; grep State /proc/1/status`;
      const fromInside = await inside(["/bin/sh", "-c", script]);
      const bareShell = bare(["/bin/sh", "-c", `${probe} kill $$ 9; echo alive`]);
      // A graceful stop of a command that does not handle SIGTERM (it dies of it: it is
      // pid 2) and of one that does (it runs its handler). forceAfter Infinity: only the
      // signal itself can end these.
      const stop = async (cmd: string[]): Promise<{ exitCode: number | null; signal: string | null }> => {
        const sb = new Sandbox(policy);
        await sb.spawn(cmd, { stdout: "pipe" });
        await new Promise<void>((resolve) => sb.stdout!.once("data", () => resolve()));
        await sb.kill("SIGTERM", { forceAfter: Infinity });
        const r = await sb.wait();
        return { exitCode: r.exitCode, signal: r.signal ?? null };
      };
      return {
        selfPid: await selfPid(),
        fromInside: fromInside.trim().split("\n"),
        bareShell: bareShell.trim(),
        getpid: (await inside(["/bin/sh", "-c", "echo $$ $PPID"])).trim(),
        // The command's own signals: it is not an init, so they end it as they would bare.
        selfTerm: (await Sandbox.run(policy, ["/bin/sh", "-c", "kill -TERM $$; echo survived"])).signal ?? "none",
        selfKill: (await Sandbox.run(policy, ["/bin/sh", "-c", "kill -KILL $$; echo survived"])).signal ?? "none",
        // Reaching into the init: ptrace (the filter's blocklist) and its memory (Landlock's
        // read-only /proc rule); the controls, bare: attaching to a child, opening one's own
        // memory for writing (the write at address 0 then fails: EIO, past the open).
        ptraceInit: (await inside([probe, "kv-ptrace", "1"])).trim(),
        ptraceChildBare: bare([probe, "kv-ptrace", "child"]).trim(),
        initMem: (await inside([probe, "append", "/proc/1/mem"])).trim(),
        ownMemBare: bare([probe, "append", "/proc/self/mem"]).trim(),
        unhandled: await stop(["/bin/sh", "-c", `echo ready; exec ${probe} sleep 1000`]),
        handled: await stop(["/bin/sh", "-c", "trap 'exit 3' TERM; echo ready; while :; do sleep 1; done"]),
      };
    }
    case "pids": {
      // A host process of the same user: inside, its host pid names nothing; reported as a
      // clone's pid by a zygote (here the namespace's init, whose child the command is), it
      // is not taken: the parent opens clones' pidfds itself, only on the zygote's children
      // by their pid in its namespace (fork/adopt.ts).
      const victim = spawn("sleep", ["1000"], { stdio: "ignore" });
      await new Promise((r) => victim.once("spawn", r));
      const sb = new Sandbox(policy);
      await sb.spawn([probe, "sleep", "1000"]);
      const initPid = Number(readFileSync(`/proc/${sb.pid}/stat`, "latin1").split(") ")[1]!.split(" ")[1]);
      const adopter = new CloneAdopter(initPid);
      const [outside, own] = adopter.adopt([victim.pid!, 2]);
      try {
        return {
          selfPid: await selfPid(),
          victimInside: (await inside([probe, "kill", String(victim.pid), "0"])).trim(),
          victimBare: bare([probe, "kill", String(victim.pid), "0"]).trim(),
          outside: outside instanceof Error ? outside.message : outside,
          own: own instanceof Error ? own.message : own!.pid === sb.pid,
          // maxProcesses counts the command's processes, not the init: 1 runs the command
          // and refuses its fork; 2 lets the fork through (the control).
          forkUnderOne: (await inside([probe, "fork"], { ...policy, maxProcesses: 1 })).trim(),
          forkUnderTwo: (await inside([probe, "fork"], { ...policy, maxProcesses: 2 })).trim(),
        };
      } finally {
        for (const a of [outside, own]) if (a !== undefined && !(a instanceof Error)) closeSync(a.pidfd);
        adopter.close();
        victim.kill("SIGKILL");
        await sb.kill();
      }
    }
    case "initfilter": {
      // The init's own allow list (plan/seccomp-init.ts): it is under one filter, as the
      // command is under its own; a stop and continue of every process while the init
      // waits in wait4 (restarted on SIGCONT) leaves it alive, so the command ends as it
      // would bare. A call outside the list would kill the init and the whole namespace.
      const sb = new Sandbox(policy);
      await sb.spawn(["/bin/sh", "-c", "echo up; sleep 1; echo done"], { stdout: "pipe" });
      let text = "";
      // The whole output, read to its end: wait() can resolve before the last chunk is read.
      const ended = new Promise<void>((resolve) => sb.stdout!.once("end", () => resolve()));
      await new Promise<void>((resolve) => sb.stdout!.on("data", (d: Buffer) => ((text += d.toString()), text.includes("up") && resolve())));
      const cmdPid = sb.pid!;
      const field = (pid: number, name: string): string => new RegExp(`^${name}:\\s*(.*)$`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? "";
      const initPid = Number(field(cmdPid, "PPid"));
      const filters = { init: field(initPid, "Seccomp_filters"), command: field(cmdPid, "Seccomp_filters"), initMode: field(initPid, "Seccomp") };
      const initName = field(initPid, "Name");
      await sb.pause();
      const stopped = field(initPid, "State");
      await sb.resume();
      const r = await sb.wait();
      await ended;
      return { selfPid: "2", filters, initName, stopped, exitCode: r.exitCode, signal: r.signal ?? null, out: text };
    }
    case "covers": {
      // fsDenied's covers, made by the launcher in its own mount namespace before the clone
      // (deny.c), reach the constructed root through the recursive binds of the grants;
      // protectedFiles' name operations are the supervisor's, resolved from the sandbox's
      // root: the same refusals as the supervised view.
      const denied = join(work, "denied");
      const git = join(work, ".git");
      mkdirSync(join(work, "sub"), { recursive: true });
      mkdirSync(git, { recursive: true });
      const reset = (): void => {
        writeFileSync(denied, "denied\n");
        writeFileSync(join(git, "config"), "[core]\n");
        writeFileSync(join(work, "sub", "moving"), "m\n");
        rmSync(join(work, "moved"), { force: true });
      };
      const ops = async (p: object): Promise<Record<string, string>> => {
        reset();
        const sb = new Sandbox(p);
        const run = async (...args: string[]): Promise<string> => {
          const r = await Sandbox.run(p, [probe, ...args]);
          return (r.stdoutText + r.stderrText).trim();
        };
        await sb.spawn(["/bin/true"]);
        await sb.wait();
        return {
          view: String(sb.procView),
          read: await run("read", denied),
          rename: await run("rename", denied, join(work, "denied2")),
          protectedWrite: await run("write", join(git, "config")),
          // A rename across directories inside the writable grant (the launcher's signal
          // scope, a layer that must handle refer, is the command's own here: scope.c).
          renameAcross: await run("rename", join(work, "sub", "moving"), join(work, "moved")),
        };
      };
      const covered = await ops({ ...policy, fsDenied: [denied], protectedFiles: true });
      const control = await ops({ ...policy, protectedFiles: false });
      return { selfPid: await selfPid(), covered, control };
    }
    case "fallback": {
      // Network in the policy: the supervised view, never a weaker one.
      const net = { ...policy, netAllow: ["127.0.0.1:1"] };
      return {
        selfPid: await selfPid(),
        netSelfPid: await selfPid(net),
        netVictim: await inside([probe, "read", "/proc/1/status"], net),
        uidOwner: (await inside(["/usr/bin/stat", "-c", "%u", "/etc/passwd"])).trim(),
        // Root's sandbox maps the whole id range (the launcher writes the maps): a file of
        // another owner shows that owner.
        otherOwner: process.getuid!() === 0 ? (chownSync(join(work, "own"), 4242, 4242), (await inside(["/usr/bin/stat", "-c", "%u:%g", join(work, "own")])).trim()) : null,
        uid: String(process.getuid!()),
      };
    }
    default:
      throw new Error(`unknown mode ${mode}`);
  }
}

main()
  .then((out) => process.stdout.write(JSON.stringify(out) + "\n"))
  .catch((e) => process.stdout.write(JSON.stringify({ error: String(e?.stack ?? e) }) + "\n"))
  .finally(() => rmSync(base, { recursive: true, force: true }));
