// fsDenied cases: the probe's attacks on a denied file and directory inside a writable
// grant, with the same policy without fsDenied and unsandboxed as the controls; a symlink
// race; hard links made before the start; the refusals of bad values; a nested sandbox.
// protectedFiles: every name operation on the protected files, git at work, the workdir's
// commit check. Prints one JSON line.
// Usage: deny-case.js PROBE attacks|race|hardlinks|refusals|nested|workdir|protected|git|commit

import { execFile, execFileSync } from "node:child_process";
import { chmodSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { Sandbox, listWorkdirBranches, showWorkdirBranch } from "../../src/index.js";
import { CLI as cli, ROOT } from "../helpers/system.js";

const stage = resolve(ROOT); // the package root, as a grant path

const probe = process.argv[2]!;
const part = process.argv[3];
const base = mkdtempSync("/tmp/sandlock-deny-");
chmodSync(base, 0o755);
const system = ["/usr", "/bin", "/lib", "/lib64", "/etc"];
const SCRIPT = "#!/bin/sh\nexit 0\n";

/** w/sub/secret (an executable script) and w/sub/sdir/f: a fresh tree. */
function tree(name: string): { w: string; secret: string; sdir: string } {
  const w = join(base, name);
  mkdirSync(join(w, "sub", "sdir"), { recursive: true });
  writeFileSync(join(w, "sub", "secret"), SCRIPT, { mode: 0o755 });
  writeFileSync(join(w, "sub", "sdir", "f"), "inner\n");
  return { w, secret: join(w, "sub", "secret"), sdir: join(w, "sub", "sdir") };
}

/** Every entry's mode and content (or "dir"), so a tree is seen unchanged from outside. */
function state(t: { secret: string; sdir: string }): string {
  const mode = (p: string): string => (statSync(p).mode & 0o7777).toString(8);
  return `${mode(t.secret)} ${JSON.stringify(readFileSync(t.secret, "utf8"))} ${mode(t.sdir)} ${JSON.stringify(readFileSync(join(t.sdir, "f"), "utf8"))}`;
}

const lines = (out: string): Record<string, string> => Object.fromEntries(out.trim().split("\n").filter((l) => l.length > 0).map((l) => l.split(" ") as [string, string]));

async function sandboxed(policy: object, cmd: string[]): Promise<string> {
  const r = await Sandbox.run(policy, cmd, { timeout: 60_000 });
  if (r.status !== "exited" || r.exitCode !== 0) throw new Error(`${cmd.join(" ")}: ${r.status} ${r.exitCode} ${r.stderrText}`);
  return r.stdoutText;
}

async function attacks(): Promise<object> {
  const out: Record<string, object> = {};
  // "protected": the same denial with protectedFiles, whose name operations the supervisor
  // performs from the host's mount namespace, where a cover is no mount point.
  for (const mode of ["denied", "protected", "control", "bare"] as const) {
    const t = tree(mode);
    const before = state(t);
    const cmd = [probe, "deny-ops", t.w, "secret", "sdir"];
    // /proc granted: the /proc/self/fd re-open is tried for real in either view (the kernel
    // view has no /proc at all without the grant: ENOENT, an attack never run).
    const policy = { fsReadable: [probe, ...system, "/proc"], fsWritable: [t.w], ...(mode === "denied" || mode === "protected" ? { fsDenied: [t.secret, t.sdir] } : {}), ...(mode === "protected" ? { protectedFiles: true } : {}) };
    const text = mode === "bare" ? execFileSync(cmd[0]!, cmd.slice(1)).toString() : await sandboxed(policy, cmd);
    out[mode] = { ops: lines(text), before, after: state(t) };
  }
  return out;
}

async function race(): Promise<object> {
  const out: Record<string, string> = {};
  for (const mode of ["denied", "control"] as const) {
    const w = join(base, mode);
    mkdirSync(w);
    const denied = join(w, "secret");
    const allowed = join(w, "allowed");
    writeFileSync(denied, "denied\n");
    writeFileSync(allowed, "allowed\n");
    const policy = { fsReadable: [probe, ...system], fsWritable: [w], ...(mode === "denied" ? { fsDenied: [denied] } : {}) };
    out[mode] = (await sandboxed(policy, [probe, "deny-race", w, denied, allowed, "1500"])).trim();
  }
  return out;
}

async function refusal(policy: object): Promise<{ name: string; message: string } | null> {
  try {
    await Sandbox.run(policy, ["/bin/true"], { timeout: 30_000 });
    return null;
  } catch (e) {
    return { name: (e as Error).name, message: (e as Error).message };
  }
}

async function hardlinks(): Promise<object> {
  const t = tree("links");
  const other = join(t.w, "other-name");
  linkSync(t.secret, other);
  const innerOther = join(t.w, "inner-other");
  linkSync(join(t.sdir, "f"), innerOther);
  const policy = { fsReadable: [probe, ...system], fsWritable: [t.w] };
  return {
    file: await refusal({ ...policy, fsDenied: [t.secret] }),
    inner: await refusal({ ...policy, fsDenied: [t.sdir] }),
    // The control: the second names are real ways in (read inside the same grant).
    controlFile: (await sandboxed(policy, [probe, "read", other])).trim(),
    controlInner: (await sandboxed(policy, [probe, "read", innerOther])).trim(),
    paths: { secret: t.secret, sdir: t.sdir, other, innerOther: join(t.sdir, "f") },
  };
}

async function refusals(): Promise<object> {
  const t = tree("refusals");
  const policy = { fsReadable: [probe, ...system], fsWritable: [t.w] };
  const outside = join(base, "outside");
  writeFileSync(outside, "x\n");
  return {
    relative: await refusal({ ...policy, fsDenied: ["sub/secret"] }),
    empty: await refusal({ ...policy, fsDenied: [""] }),
    dotdot: await refusal({ ...policy, fsDenied: [`${t.w}/sub/../sub/secret`] }),
    missing: await refusal({ ...policy, fsDenied: [join(t.w, "nothing")] }),
    outside: await refusal({ ...policy, fsDenied: [outside] }),
    grant: await refusal({ ...policy, fsDenied: [t.w] }),
    notList: await refusal({ ...policy, fsDenied: "/x" }),
    paths: { w: t.w, outside, missing: join(t.w, "nothing") },
  };
}

/** Inside a sandbox (a seccomp filter: no namespaces) fsDenied is refused by name; the
 * control runs the same inner command without it. */
async function nested(): Promise<object> {
  const t = tree("nested");
  const outer = ["run", ...["/usr", "/lib", "/lib64", "/bin", "/etc", "/proc", "/dev", stage].flatMap((p) => ["-r", p]), "-w", base, "--"];
  // The inner grants by their real paths: under the kernel view the outer sandbox's root
  // (and the /lib -> usr/lib links in it) belongs to the caller, and a grant through a
  // link in a directory its own processes could change is refused (plan/grant-path.ts).
  const innerSystem = [...new Set(["/usr", "/lib", "/lib64", "/bin"].map((p) => realpathSync(p)))].flatMap((p) => ["-r", p]);
  const inner = (...flags: string[]): string[] => [process.execPath, cli, "run", "--no-supervisor", ...flags, ...innerSystem, "-w", t.w, "--", "/bin/sh", "-c", `read x < ${t.secret} && echo ran`];
  const run = (args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> =>
    new Promise((resolve) => {
      const child = execFile(process.execPath, args, { encoding: "utf8", timeout: 30_000 }, (_e, stdout, stderr) => resolve({ code: child.exitCode, stdout, stderr }));
    });
  const refused = await run([cli, ...outer, ...inner("--fs-deny", t.secret)]);
  const control = await run([cli, ...outer, ...inner()]);
  // The CLI flag itself, outside any sandbox: the read is refused by the kernel.
  const flag = await run([cli, "run", ...["/usr", "/lib", "/lib64", "/bin"].flatMap((p) => ["-r", p]), "-w", t.w, "--fs-deny", t.secret, "--", "/bin/sh", "-c", `cat ${t.secret}; echo status=$?`]);
  // protectedFiles there: the run goes on without the read-only binds, and says so.
  const profile = join(base, "protected.toml");
  writeFileSync(profile, "[filesystem]\nprotected_files = true\n");
  mkdirSync(join(t.w, ".git", "hooks"), { recursive: true });
  const unprotected = await run([cli, ...outer, process.execPath, cli, "run", "--no-supervisor", "--profile-file", profile, ...innerSystem, "-w", t.w, "--", "/bin/sh", "-c", `echo h > ${t.w}/.git/hooks/x && echo wrote`]);
  return { refused, control, flag, unprotected, w: t.w };
}

/** A denied path inside a copy-on-write workdir: covered on the overlay. */
async function workdir(): Promise<object> {
  const t = tree("workdir");
  const storage = join(base, "branches");
  const policy = { fsReadable: [probe, ...system], workdir: t.w, fsStorage: storage, onExit: "abort" };
  return {
    denied: lines(await sandboxed({ ...policy, fsDenied: [t.secret, t.sdir] }, [probe, "deny-ops", t.w, "secret", "sdir"])),
    control: lines(await sandboxed(policy, [probe, "deny-ops", t.w, "secret", "sdir"])),
    after: state(t),
    before: `755 ${JSON.stringify(SCRIPT)} 755 "inner\\n"`,
  };
}

/** A project with the protected files a tree may hold, all present. */
function project(name: string): string {
  const r = join(base, name);
  mkdirSync(join(r, ".git", "hooks"), { recursive: true });
  mkdirSync(join(r, ".vscode"));
  writeFileSync(join(r, ".git", "hooks", "pre-commit"), SCRIPT, { mode: 0o755 });
  writeFileSync(join(r, ".git", "config"), "[core]\n");
  writeFileSync(join(r, ".vscode", "settings.json"), "{}\n");
  writeFileSync(join(r, ".envrc"), "export A=1\n");
  writeFileSync(join(r, "a.txt"), "a\n");
  return r;
}

/** Every entry beneath r (name, size, mode), so a tree is seen unchanged from outside. */
function listing(r: string): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(r, rel)).sort()) {
      const p = rel === "" ? name : `${rel}/${name}`;
      const st = lstatSync(join(r, p));
      out.push(`${p} ${st.isDirectory() ? "dir" : st.size} ${(st.mode & 0o7777).toString(8)}`);
      if (st.isDirectory()) walk(p);
    }
  };
  walk("");
  return out;
}

async function protectedOps(): Promise<object> {
  const out: Record<string, object> = {};
  for (const [mode, on] of [["protected", true], ["allowed", false]] as const) {
    const r = project(mode);
    const before = listing(r).filter((l) => !l.startsWith("a.txt"));
    const ops = lines(await sandboxed({ fsReadable: [probe, ...system], fsWritable: [r], protectedFiles: on }, [probe, "protect-ops", r]));
    out[mode] = { ops, before, after: listing(r).filter((l) => !l.startsWith("a.txt") && !l.startsWith("moved-in")) };
  }
  return out;
}

/** git in a real repository under protection: commits work, hooks and config do not change. */
async function gitRun(): Promise<object> {
  const r = join(base, "repo");
  mkdirSync(r);
  const git = (...args: string[]): string => execFileSync("git", ["-C", r, ...args], { encoding: "utf8" });
  git("init", "-q");
  writeFileSync(join(r, "a.txt"), "a\n");
  const id = ["-c", "user.name=t", "-c", "user.email=t@t"];
  git(...id, "add", "a.txt");
  git(...id, "commit", "-qm", "one");
  const hooksBefore = readdirSync(join(r, ".git", "hooks")).sort();
  const configBefore = readFileSync(join(r, ".git", "config"), "utf8");
  const script = `cd ${r} && echo b >> a.txt && git ${id.join(" ")} commit -qam two && echo committed; git config core.hooksPath /tmp 2>/dev/null || echo config-refused; echo x > .git/hooks/post-commit 2>/dev/null || echo hook-refused`;
  const r1 = await Sandbox.run({ fsReadable: [...system, "/dev/urandom"], fsWritable: [r, "/dev/null"], protectedFiles: true, env: { HOME: r } }, ["/bin/sh", "-c", script], { timeout: 60_000 });
  return {
    stdout: r1.stdoutText.trim().split("\n"),
    stderr: r1.stderrText,
    log: git("log", "--format=%s").trim().split("\n"),
    hooksSame: JSON.stringify(readdirSync(join(r, ".git", "hooks")).sort()) === JSON.stringify(hooksBefore),
    configSame: readFileSync(join(r, ".git", "config"), "utf8") === configBefore,
  };
}

/** A workdir's commit with protectedFiles: protected changes held back in the branch. */
async function commitCheck(): Promise<object> {
  const out: Record<string, object> = {};
  for (const [mode, on] of [["protected", true], ["allowed", false]] as const) {
    const r = join(base, `w-${mode}`);
    mkdirSync(r);
    writeFileSync(join(r, "a.txt"), "a\n");
    const storage = join(base, `store-${mode}`);
    const cmd = ["/bin/sh", "-c", "echo b > b.txt && mkdir -p .claude .git/hooks && echo '{}' > .claude/settings.json && echo x > .envrc && echo h > .git/hooks/post-checkout && echo done"];
    const res = await Sandbox.run({ fsReadable: system, workdir: r, fsStorage: storage, protectedFiles: on }, cmd, { timeout: 60_000 });
    const w = res.workdir!;
    const branches = listWorkdirBranches({ fsStorage: storage });
    const shown = branches.length > 0 ? showWorkdirBranch(branches[0]!.id, { fsStorage: storage }) : null;
    out[mode] = {
      stdout: res.stdoutText.trim(),
      action: w.action,
      committed: w.changes.map((c) => `${c.kind} ${c.path.slice(r.length + 1)}`).sort(),
      held: (w.heldBack ?? []).map((c) => `${c.kind} ${c.path.slice(r.length + 1)}`).sort(),
      real: listing(r).map((l) => l.split(" ")[0]),
      branches: branches.map((b) => ({ id: b.id, state: b.state })),
      branch: w.branch,
      shown: shown === null ? null : shown.changes.map((c) => `${c.kind} ${c.path.slice(r.length + 1)}`).sort(),
    };
  }
  return out;
}

const parts: Record<string, () => Promise<unknown>> = { attacks, race, hardlinks, refusals, nested, workdir, protected: protectedOps, git: gitRun, commit: commitCheck };
try {
  console.log(JSON.stringify(await parts[part!]!()));
} finally {
  rmSync(base, { recursive: true, force: true });
}
