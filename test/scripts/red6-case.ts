// The sixth security review's cases (test/integration/redteam6.test.ts): what the host does
// for a sandbox before and after it runs, set up by files the sandbox can write. Prints one
// JSON line. Usage: red6-case.js PROBE PART
// Parts: git-include

import { execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, symlinkSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { Sandbox } from "../../src/index.js";

const probe = process.argv[2]!;
const part = process.argv[3]!;
const base = mkdtempSync("/tmp/sandlock-red6-");
chmodSync(base, 0o755);
const system = ["/usr", "/bin", "/lib", "/lib64", "/etc"];

/** A config that runs a command on every `git status` (core.fsmonitor is run as a hook). */
const evilConfig = (marker: string): string => `[core]\n\tfsmonitor = "touch ${marker}; false"\n`;

/** `git status` as the user would type it next, outside any sandbox, with HOME=`home`:
 * whether it ran the planted command (its marker appeared). */
function gitRunsPlanted(repo: string, marker: string, home: string): boolean {
  try {
    execFileSync("git", ["-C", repo, "status", "--short"], { env: { PATH: "/usr/bin:/bin", HOME: home, GIT_CONFIG_NOSYSTEM: "1" }, stdio: "ignore" });
  } catch {
    // a broken repository is no win; the marker decides
  }
  return existsSync(marker);
}

/**
 * A protected config that includes a file in the writable grant: the repository's own
 * `.git/config` (`[include] path = ../local.cfg`, relative to .git), and the user's
 * `~/.gitconfig` (`[includeIf "gitdir:..."] path = <repo>/team.cfg`). The sandbox writes the
 * included file; the user's next `git status` runs what it planted. Each with protectedFiles
 * on (refused at the start now) and off (the control: the plant runs), and a target outside
 * the grant (the control that the check refuses only what the grant reaches).
 */
async function gitInclude(): Promise<object> {
  const out: Record<string, unknown> = {};
  const home = join(base, "home");
  mkdirSync(home);
  const savedHome = process.env.HOME;
  process.env.HOME = home; // the user whose ~/.gitconfig is read (protect-includes.ts)
  try {
    const ways: Record<string, (repo: string) => string> = {
      repo: (repo) => {
        writeFileSync(join(repo, ".git", "config"), `[core]\n\trepositoryformatversion = 0\n[include]\n\tpath = ../local.cfg\n`, { flag: "a" });
        return "local.cfg";
      },
      global: (repo) => {
        writeFileSync(join(home, ".gitconfig"), `[includeIf "gitdir:${repo}/"]\n\tpath = ${repo}/team.cfg\n`);
        return "team.cfg";
      },
      // husky: the repository's config takes hooks from .husky in the work tree.
      hooks: (repo) => {
        writeFileSync(join(repo, ".git", "config"), `[core]\n\thooksPath = .husky\n`, { flag: "a" });
        return ".husky/pre-commit";
      },
      outside: () => {
        writeFileSync(join(home, ".gitconfig"), `[include]\n\tpath = ~/own.cfg\n`);
        return "";
      },
    };
    for (const [way, setup] of Object.entries(ways)) {
      for (const on of [true, false]) {
        const key = `${way}-${on ? "protected" : "allowed"}`;
        const repo = join(base, key);
        execFileSync("git", ["init", "-q", repo], { env: { PATH: "/usr/bin:/bin", HOME: home } });
        rmSync(join(home, ".gitconfig"), { force: true });
        const file = setup(repo);
        const marker = join(base, `${key}.pwned`);
        const sh = file === "" ? "echo made > made.txt" : file.startsWith(".husky/") ? `mkdir -p .husky && printf '#!/bin/sh\\ntouch ${marker}\\n' > ${file} && chmod +x ${file}` : `printf '${evilConfig(marker)}' > ${file}`;
        let started: string;
        try {
          const r = await Sandbox.run({ fsReadable: system, fsWritable: [repo], cwd: repo, protectedFiles: on }, ["/bin/sh", "-c", sh], { timeout: 60_000 });
          started = `exit ${r.exitCode}`;
        } catch (e) {
          started = `${(e as Error).name}: ${(e as Error).message.replaceAll(base, "BASE")}`;
        }
        // A hook runs at the user's next commit.
        if (file.startsWith(".husky/")) {
          try {
            execFileSync("git", ["-C", repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "next"], { env: { PATH: "/usr/bin:/bin", HOME: home, GIT_CONFIG_NOSYSTEM: "1" }, stdio: "ignore" });
          } catch {
            // the marker decides
          }
        }
        out[key] = { started, ran: file === "" ? existsSync(join(repo, "made.txt")) : file.startsWith(".husky/") ? existsSync(marker) : gitRunsPlanted(repo, marker, home) };
      }
    }
  } finally {
    process.env.HOME = savedHome;
  }
  return out;
}

/**
 * A writable grant that is the user's home directory: `~/.gitconfig` and
 * `~/.config/git/config` are read by every git command the user types anywhere. The
 * sandbox writes a core.fsmonitor into each; the user's next `git status` in a repository
 * elsewhere runs it. protectedFiles on (refused: EACCES) and off (the control: it runs).
 */
async function gitHome(): Promise<object> {
  const out: Record<string, unknown> = {};
  for (const on of [true, false]) {
    for (const file of [".gitconfig", ".config/git/config"]) {
      const key = `${file}-${on ? "protected" : "allowed"}`;
      const home = join(base, `home-${on}-${file.replace(/\W/g, "")}`), repo = join(base, `elsewhere-${key.replace(/\W/g, "")}`);
      mkdirSync(home);
      execFileSync("git", ["init", "-q", repo], { env: { PATH: "/usr/bin:/bin", HOME: home } });
      const marker = join(base, `${key.replace(/\W/g, "")}.pwned`);
      const sh = `mkdir -p .config/git; printf '${evilConfig(marker)}' > ${file} && echo written`;
      const r = await Sandbox.run({ fsReadable: system, fsWritable: [home], cwd: home, env: { HOME: home }, protectedFiles: on }, ["/bin/sh", "-c", sh], { timeout: 60_000 });
      out[key] = { exit: r.exitCode, stderr: r.stderrText.trim().replaceAll(base, "BASE"), ran: gitRunsPlanted(repo, marker, home) };
    }
  }
  return out;
}

/** Descriptors this process (the supervisor) has open. */
const openFds = (): number => readdirSync("/proc/self/fd").length;

/**
 * N threads of a sandbox open a FIFO for writing while no reader is there: the supervisor
 * holds each such open (protectedFiles performs write opens) and polls for a reader. The
 * most descriptors this process held meanwhile, beyond its own, sampled every 50 ms; then
 * a reader comes and the probe counts what opened. FLOOD threads against the budget, and
 * FEW (under it: every one is held, the control that the sampling sees held calls).
 */
async function fifoFlood(): Promise<object> {
  const out: Record<string, unknown> = {};
  for (const n of [10, 1000]) {
    const dir = join(base, `fifo-${n}`);
    mkdirSync(dir);
    execFileSync("mkfifo", [join(dir, "ff")]);
    const before = openFds();
    const sb = new Sandbox({ fsReadable: [...system, probe], fsWritable: [dir], cwd: dir, protectedFiles: true });
    await sb.spawn([probe, "red6-fifo-flood", "ff", String(n), "3000"]);
    let most = 0;
    const sampler = setInterval(() => (most = Math.max(most, openFds() - before)), 50);
    const r = await sb.wait();
    clearInterval(sampler);
    const m = /opened (\d+) enfile (\d+) other (\d+)/.exec(r.stdoutText);
    out[n] = { exit: r.exitCode, most, opened: Number(m?.[1] ?? -1), enfile: Number(m?.[2] ?? -1), other: Number(m?.[3] ?? -1) };
  }
  return out;
}

/**
 * Races on the base of a relative create: a sibling thread swaps descriptor 57 (or the
 * shared working directory) between `sub` (whose hooks/ is writable) and `.git`, while the
 * probe creates hooks/red6-I relative to it. What reached .git/hooks is counted here.
 */
async function baseRace(): Promise<object> {
  const out: Record<string, unknown> = {};
  for (const how of ["dirfd", "cwd"]) {
    const repo = join(base, `race-${how}`);
    execFileSync("git", ["init", "-q", repo]);
    mkdirSync(join(repo, ".git", "hooks"), { recursive: true });
    mkdirSync(join(repo, "sub", "hooks"), { recursive: true });
    const r = await Sandbox.run({ fsReadable: [...system, probe], fsWritable: [repo], cwd: repo, protectedFiles: true }, [probe, "red6-base-race", how, "sub", ".git", "1500"], { timeout: 120_000 });
    out[how] = {
      says: r.stdoutText.trim(),
      wins: readdirSync(join(repo, ".git", "hooks")).filter((f) => f.startsWith("red6-")).length,
      made: readdirSync(join(repo, "sub", "hooks")).length,
    };
  }
  return out;
}

/** An O_TMPFILE file given a protected name by linkat (AT_EMPTY_PATH, /proc/self/fd/N),
 * and an unprotected one (the control). */
async function tmpfileLink(): Promise<object> {
  const repo = join(base, "tmpfile");
  execFileSync("git", ["init", "-q", repo]);
  mkdirSync(join(repo, "sub"));
  const out: Record<string, unknown> = {};
  for (const [key, dir, name] of [["hook", "sub", ".git/hooks/pre-commit"], ["envrc", "sub", ".envrc"], ["in-hooks", ".git/hooks", "x"], ["control", "sub", "sub/plain"]] as const) {
    // /proc granted: the second link goes through /proc/self/fd/N, which must exist in
    // the kernel view's root too (without a /proc grant it has none: ENOENT there).
    const r = await Sandbox.run({ fsReadable: [...system, probe, "/proc"], fsWritable: [repo], cwd: repo, protectedFiles: true }, [probe, "red6-tmpfile-link", dir, name], { timeout: 60_000 });
    out[key] = { says: r.stdoutText.trim(), exists: existsSync(join(repo, name)) };
  }
  return out;
}

/**
 * policyFn's ctx.denyPath(P) denies P to later opens; an exec of P read it all the same (the
 * kernel maps an ELF whole, and a preloaded library can copy it out). The callback denies a
 * copy of the probe at the first file event and answers "allow" to everything; the shell
 * then runs the copy by its path and by a symlink to it. Control: the same without the
 * denyPath runs it.
 */
async function execDenied(): Promise<object> {
  const dir = join(base, "exec");
  mkdirSync(dir);
  const secret = join(dir, "secret");
  copyFileSync(probe, secret);
  chmodSync(secret, 0o755);
  symlinkSync(secret, join(dir, "alias"));
  const out: Record<string, unknown> = {};
  for (const deny of [true, false]) {
    let done = false;
    const r = await Sandbox.run({
      fsReadable: [...system, dir], fsWritable: [join(base, "exec")], policyFnFiles: true,
      policyFn: (_e, ctx) => {
        if (deny && !done) {
          done = true;
          ctx.denyPath(secret);
        }
        return "allow";
      },
    }, ["/bin/sh", "-c", `${secret} sleep 0 && echo ran-direct; ${dir}/alias sleep 0 && echo ran-alias; true`], { timeout: 60_000 });
    out[deny ? "denied" : "control"] = { stdout: r.stdoutText.trim().split("\n"), refused: r.refused.map((x) => `${x.syscall} ${x.errno} ${x.target.replaceAll(base, "BASE")}`) };
  }
  return out;
}

/** Run inside a sandbox granted the checkpoint's directory: adds OUTSIDE to the saved
 * policy's writable grants and makes the manifest's sizes and checksums match again. */
const TAMPER = `
const { readFileSync, writeFileSync } = require("node:fs");
const { createHash } = require("node:crypto");
const [dir, outside] = process.argv.slice(1);
const meta = JSON.parse(readFileSync(dir + "/checkpoint.json", "utf8"));
meta.policy.fsWritable = [...(meta.policy.fsWritable ?? []), outside];
const data = Buffer.from(JSON.stringify(meta, null, 1) + "\\n");
writeFileSync(dir + "/checkpoint.json", data);
const man = JSON.parse(readFileSync(dir + "/manifest.json", "utf8"));
for (const f of man.files) if (f.name === "checkpoint.json") { f.bytes = data.length; f.sha256 = createHash("sha256").update(data).digest("hex"); }
writeFileSync(dir + "/manifest.json", JSON.stringify(man, null, 1) + "\\n");
console.log("tampered");
`;

/**
 * A checkpoint saved into a directory the sandbox can write was the sandbox's to rewrite
 * after the save: its saved policy gained a writable grant on OUTSIDE, and `sandlock
 * restore DIR` (Sandbox.restore without a policy) ran the image under it (the restored
 * loop created a file in OUTSIDE). Now such a save is refused before anything is written
 * (`refused`, also through a link in the grant that leads back into it), so the checkpoint
 * can only live where the sandbox cannot write: saved there (`safe`), the same rewrite
 * fails (`tamper`) and a restore without a policy stays inside (`saved`). Control: the
 * original policy given stays inside too.
 */
async function restoreTamper(): Promise<object> {
  const { Checkpoint } = await import("../../src/index.js");
  const grant = join(base, "g"), outside = join(base, "outside"), safe = join(base, "safe");
  mkdirSync(grant);
  mkdirSync(outside);
  mkdirSync(safe);
  chmodSync(outside, 0o777);
  symlinkSync(join(grant, "sub"), join(grant, "alias"));
  mkdirSync(join(grant, "sub"));
  const policy = { fsReadable: [...system, probe], fsWritable: [grant] };
  const sb = new Sandbox(policy);
  await sb.spawn([probe, "red6-escape-loop", join(outside, "x"), "60000"]);
  await new Promise((r) => setTimeout(r, 300));
  const cp = await sb.checkpoint();
  const refused: string[] = [];
  for (const dir of [join(grant, "cp"), join(grant, "alias", "cp")]) {
    try {
      await cp.save(dir);
      refused.push("saved");
    } catch (e) {
      refused.push(`${(e as Error).name}: ${(e as Error).message.replaceAll(base, "BASE")}`);
    }
  }
  await cp.save(join(safe, "cp"));
  await sb.kill("SIGKILL");
  const original = (await sb.wait()).stdoutText.trim();
  // The sandbox (here: another process under the same policy) tries to rewrite what was saved.
  const node = process.execPath;
  const t = await Sandbox.run({ fsReadable: [...system, dirname(node), safe], fsWritable: [grant] }, [node, "-e", TAMPER, join(safe, "cp"), outside], { timeout: 60_000 });
  const out: Record<string, unknown> = { original, refused, inGrant: readdirSync(grant).sort(), tamper: t.stdoutText.trim() || /E[A-Z]+/.exec(t.stderrText)?.[0] || t.stderrText.trim().slice(0, 300) };
  // Both restores at once, each given 5 s to get out (both must stay in: a file either
  // made outside fails both).
  rmSync(join(outside, "x"), { force: true });
  await Promise.all([true, false].map(async (given) => {
    const key = given ? "control" : "saved";
    try {
      const loaded = await Checkpoint.load(join(safe, "cp"));
      const back = await Sandbox.restore(loaded, given ? { policy } : {});
      const timer = setTimeout(() => void back.kill("SIGKILL"), 5_000);
      const r = await back.wait();
      clearTimeout(timer);
      out[key] = { says: r.stdoutText.trim(), escaped: existsSync(join(outside, "x")) };
    } catch (e) {
      out[key] = { error: `${(e as Error).name}: ${(e as Error).message.replaceAll(base, "BASE")}`, escaped: existsSync(join(outside, "x")) };
    }
  }));
  return out;
}

/**
 * With policyFn's file events every open is performed by the supervisor, reads included:
 * a FIFO opened for reading without a writer blocked the supervisor's own open, and with
 * it this whole process (its event loop: the run's timeout never fired). The command
 * reads a FIFO a background writer fills a second later; a 100 ms interval counts the
 * event loop's turns meanwhile. Control: the same without policyFn.
 */
async function fifoReader(): Promise<object> {
  const dir = join(base, "fifo-reader");
  mkdirSync(dir);
  execFileSync("mkfifo", [join(dir, "ff")]);
  const out: Record<string, unknown> = {};
  for (const events of [true, false]) {
    let turns = 0;
    const tick = setInterval(() => turns++, 100);
    const r = await Sandbox.run({
      fsReadable: [...system, "/dev/null"], fsWritable: [dir], cwd: dir,
      ...(events ? { policyFnFiles: true, policyFn: () => "allow" as const } : {}),
    }, ["/bin/sh", "-c", "(sleep 1; echo hi > ff) & cat ff"], { timeout: 30_000 });
    clearInterval(tick);
    out[events ? "events" : "control"] = { stdout: r.stdoutText.trim(), exit: r.exitCode, turned: turns > 0 };
  }
  return out;
}

/**
 * A sandbox takes a read lease on a file of its own and opens it for writing from another
 * thread: the open waits for the lease to break (the probe lets go after 5 s). With
 * protectedFiles the supervisor performs the write open: it blocked in the kernel's lease
 * break, and this whole process with it (up to fs.lease-break-time, 45 s, at every such
 * open). Meanwhile a second sandbox is run from here: the order of the two ends shows
 * whether this process went on. Control: protectedFiles off (the kernel holds the opener).
 */
async function lease(): Promise<object> {
  const out: Record<string, unknown> = {};
  // Both at once (each probe holds its lease 5 s): a supervisor blocked in a lease break
  // would stop this whole process, the control's second sandbox included.
  await Promise.all([true, false].map(async (on) => {
    const dir = join(base, `lease-${on}`);
    mkdirSync(dir);
    writeFileSync(join(dir, "f"), "x");
    const order: string[] = [];
    const leased = Sandbox.run({ fsReadable: [...system, probe], fsWritable: [dir], cwd: dir, protectedFiles: on }, [probe, "red6-lease", "f", "5000"], { timeout: 120_000 })
      .then((r) => { order.push("leased"); return r.stdoutText.trim(); });
    await new Promise((r) => setTimeout(r, 500));
    const other = Sandbox.run({ fsReadable: system }, ["/bin/true"], { timeout: 120_000 }).then((r) => { order.push("other"); return r.exitCode; });
    const [says, code] = await Promise.all([leased, other]);
    out[on ? "protected" : "control"] = { says, other: code, order };
  }));
  return out;
}

const parts: Record<string, () => Promise<object>> = {
  lease,
  "fifo-reader": fifoReader,
  "restore-tamper": restoreTamper,
  "exec-denied": execDenied,
  "fifo-flood": fifoFlood,
  "base-race": baseRace,
  "tmpfile-link": tmpfileLink,
  "git-include": gitInclude,
  "git-home": gitHome,
};
try {
  if (probe === "") throw new Error("no probe");
  console.log(JSON.stringify(await parts[part]!()));
} finally {
  rmSync(base, { recursive: true, force: true });
}
