// protectedFiles by the supervisor: the probe's name operations on protected names absent
// and present, at any depth, with the same policy without protectedFiles as the control;
// a symlink-swap race against creates; git init in a subdirectory and git commit; the
// sandbox keeps the host's mount namespace. Prints one JSON line.
// Usage: names-case.js PROBE ops|race|git|ns|cli

import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { Sandbox } from "../../src/index.js";
import { CLI } from "../helpers/system.js";

const probe = process.argv[2]!;
const part = process.argv[3];
const base = mkdtempSync("/tmp/sandlock-names-");
chmodSync(base, 0o755);
const system = ["/usr", "/bin", "/lib", "/lib64", "/etc"];

/** A tree with .git/hooks/pre-commit and .git/config, nothing else protected. */
function tree(name: string): string {
  const w = join(base, name);
  mkdirSync(join(w, ".git", "hooks"), { recursive: true });
  writeFileSync(join(w, ".git", "hooks", "pre-commit"), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
  writeFileSync(join(w, ".git", "config"), "[core]\n");
  return w;
}

const lines = (out: string): Record<string, string> => Object.fromEntries(out.trim().split("\n").filter((l) => l.length > 0).map((l) => l.split(" ") as [string, string]));

// The supervisor's protectedFiles (the cases say "(supervisor)"), so the supervised view,
// pinned: under the kernel view the names are covered in its own mount namespace
// (kernel-view.test's "covers" case), /dev/stdout's /proc/self is absent without a /proc
// grant, and the "ns" case's premise (the host's mount namespace) does not hold.
async function sandboxed(w: string, on: boolean, cmd: string[], extra: object = {}): Promise<{ code: number | null; stdout: string; stderr: string; adjustments: unknown[] }> {
  const r = await Sandbox.run({ procView: "supervised", fsReadable: [probe, ...system], fsWritable: [w, "/dev/null"], protectedFiles: on, cwd: w, env: { HOME: w, PATH: "/usr/bin:/bin" }, ...extra }, cmd, { timeout: 120_000 });
  return { code: r.exitCode, stdout: r.stdoutText, stderr: r.stderrText, adjustments: [...r.adjustments] };
}

/** The protected entries found below w afterwards (nothing made there is the point). */
function madeProtected(w: string): string[] {
  const out: string[] = [];
  for (const p of [".envrc", ".claude", ".mcp.json", "sub/.git/config", "sub/.git/hooks", "a/b/.envrc", "a/b/.vscode", "sub2/.git", "sub4/.git", "cfg", "hk", ".git/hooks/post-merge", ".git/hooks/x"]) {
    if (existsSync(join(w, p))) out.push(p);
  }
  return out;
}

async function ops(): Promise<object> {
  const out: Record<string, object> = {};
  for (const [mode, on] of [["protected", true], ["allowed", false]] as const) {
    const w = tree(mode);
    const r = await sandboxed(w, on, [probe, "names-ops", w]);
    out[mode] = { ops: lines(r.stdout), made: madeProtected(w), hooks: existsSync(join(w, ".git", "hooks")) ? readdirSync(join(w, ".git", "hooks")).sort() : null, stderr: r.stderr };
  }
  return out;
}

/** The protected run races once; its control, which only shows that the race can be won,
 * races again (at most 5 rounds) while it wins none: unsupervised, its 2,000 creates take a
 * few milliseconds, and on a busy host (CI's shared part) the swapping thread then got no
 * CPU while they ran (0 of 2,000 once). */
async function race(): Promise<object> {
  const out: Record<string, object> = {};
  for (const [mode, on] of [["protected", true], ["allowed", false]] as const) {
    for (let round = 1; ; round++) {
      const w = tree(`race-${mode}-${round}`);
      const r = await sandboxed(w, on, [probe, "names-race", w, "2000"]);
      const m = /wins (\d+) creates (\d+) swaps (\d+)/.exec(r.stdout);
      const wins = m ? Number(m[1]) : -1;
      out[mode] = { wins, creates: m ? Number(m[2]) : -1, swaps: m ? Number(m[3]) : -1, rounds: round, stderr: r.stderr };
      if (on || wins !== 0 || round === 5) break;
    }
  }
  return out;
}

/** git init in a subdirectory (a new repository: its config and hooks), and git commit in
 * the project's own repository, under protection and without. */
async function git(): Promise<object> {
  const out: Record<string, object> = {};
  const id = "-c user.name=t -c user.email=t@t";
  for (const [mode, on] of [["protected", true], ["allowed", false]] as const) {
    const w = join(base, `git-${mode}`);
    mkdirSync(join(w, "sub"), { recursive: true });
    execFileSync("git", ["-C", w, "init", "-q"]);
    writeFileSync(join(w, "a.txt"), "a\n");
    execFileSync("git", ["-C", w, ...id.split(" "), "add", "a.txt"]);
    execFileSync("git", ["-C", w, ...id.split(" "), "commit", "-qm", "one"]);
    const script = `echo b >> a.txt && git ${id} commit -qam two && echo committed; cd sub && git init -q . 2>/dev/null && echo init-ok || echo init-refused`;
    const r = await sandboxed(w, on, ["/bin/sh", "-c", script], { fsReadable: [probe, ...system, "/dev/urandom"] });
    out[mode] = {
      stdout: r.stdout.trim().split("\n"),
      log: execFileSync("git", ["-C", w, "log", "--format=%s"], { encoding: "utf8" }).trim().split("\n"),
      subConfig: existsSync(join(w, "sub", ".git", "config")),
      subHooks: existsSync(join(w, "sub", ".git", "hooks")),
      stderr: r.stderr,
    };
  }
  return out;
}

/** No namespace of its own: the mount namespace inside is the host's, and nothing is adjusted. */
async function ns(): Promise<object> {
  const w = tree("ns");
  const r = await sandboxed(w, true, ["/bin/sh", "-c", "readlink /proc/self/ns/mnt"], { fsReadable: [probe, ...system, "/proc"] });
  return { inside: r.stdout.trim(), outside: readlinkSync("/proc/self/ns/mnt"), adjustments: r.adjustments, stderr: r.stderr };
}

/** The CLI: `-p workspace` refuses a new .envrc and a nested repository's config;
 * `--allow-protected` (the control) lets both be made. */
async function cli(): Promise<object> {
  const out: Record<string, object> = {};
  for (const [mode, extra] of [["protected", []], ["allowed", ["--allow-protected"]]] as const) {
    const w = join(base, `cli-${mode}`);
    mkdirSync(w);
    let stdout = "";
    try {
      stdout = execFileSync(process.execPath, [CLI, "run", "-p", "workspace", ...extra, "--", "/bin/sh", "-c", "echo x > .envrc; echo envrc=$?; mkdir -p a/.git && echo c > a/.git/config; echo config=$?"], { cwd: w, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    } catch (e) {
      stdout = `failed: ${String(e)}`;
    }
    out[mode] = { stdout: stdout.trim().split("\n"), envrc: existsSync(join(w, ".envrc")), config: existsSync(join(w, "a", ".git", "config")) };
  }
  return out;
}

/** Node's compile cache (`module.enableCompileCache()`: `<tmpdir>/node-compile-cache` by
 * default) beneath a writable grant standing for /tmp: an entry overwritten, added,
 * removed, a version directory made, the cache moved away or made afresh elsewhere; the
 * same with protectedFiles off (the control). */
async function compileCache(): Promise<object> {
  const out: Record<string, object> = {};
  for (const [mode, on] of [["protected", true], ["allowed", false]] as const) {
    const w = join(base, `cc-${mode}`);
    const entry = join(w, "node-compile-cache", "v22.12.0-x64-0000-0", "00c0ffee");
    mkdirSync(dirname(entry), { recursive: true });
    writeFileSync(entry, "cached");
    mkdirSync(join(w, "fresh"));
    mkdirSync(join(w, "fresh2"));
    const steps: [string, string[]][] = [
      ["overwrite", ["write", "node-compile-cache/v22.12.0-x64-0000-0/00c0ffee"]],
      ["add", ["write", "node-compile-cache/v22.12.0-x64-0000-0/11111111"]],
      ["version-mkdir", ["mkdir", "node-compile-cache/v24.0.0-x64-0000-0"]],
      ["unlink", ["unlink", "node-compile-cache/v22.12.0-x64-0000-0/00c0ffee"]],
      ["rename-away", ["rename", "node-compile-cache", "moved"]],
      ["make-afresh", ["mkdir", "fresh/node-compile-cache"]],
      ["symlink-as", ["symlink", "/tmp", "fresh2/node-compile-cache"]],
    ];
    const script = steps.map(([name, args]) => `printf '%s ' ${name}; "$P" ${args.map((a) => `'${a}'`).join(" ")}`).join("; ");
    const r = await sandboxed(w, on, ["/bin/sh", "-c", script], { env: { HOME: w, PATH: "/usr/bin:/bin", P: probe } });
    out[mode] = { ops: lines(r.stdout), entry: existsSync(entry) ? readFileSync(entry, "utf8") : null, stderr: r.stderr };
  }
  return out;
}

const parts: Record<string, () => Promise<unknown>> = { ops, race, git, ns, cli, compileCache };
const fn = part === undefined ? undefined : parts[part];
if (fn === undefined) throw new Error(`usage: names-case.js PROBE ${Object.keys(parts).join("|")}`);
try {
  process.stdout.write(`${JSON.stringify(await fn())}\n`);
} finally {
  rmSync(base, { recursive: true, force: true });
}
