// Copy-on-write workdir cases (issue 12): a project directory the current user owns, runs
// of the library and the CLI on it, and the real tree read from outside before and after.
// Prints one JSON line.
// Usage: cow-case.js PROBE files|programs|branches|attack|crash|nested

import { execFileSync, spawn, execFile } from "node:child_process";
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Sandbox, applyWorkdirBranch, dropWorkdirBranch, listWorkdirBranches, showWorkdirBranch } from "../../src/index.js";

const probe = process.argv[2]!;
const part = process.argv[3];
const base = mkdtempSync("/tmp/sandlock-cow-");
chmodSync(base, 0o755);
const storage = join(base, "branches");
const system = ["/usr", "/bin", "/lib", "/lib64", "/etc", "/dev/null", "/dev/urandom"];

/** Every entry beneath dir as "type mode path [content or target]", sorted: two trees are
 * equal byte for byte when their snapshots are. */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const p = rel === "" ? name : `${rel}/${name}`;
      const st = lstatSync(join(dir, p));
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isDirectory()) {
        out.push(`d ${mode} ${p}`);
        walk(p);
      } else if (st.isSymbolicLink()) out.push(`l ${p} -> ${readlinkSync(join(dir, p))}`);
      else out.push(`f ${mode} ${p} ${readFileSync(join(dir, p)).toString("base64")}`);
    }
  };
  walk("");
  return out;
}

function project(name: string): string {
  const d = join(base, name);
  mkdirSync(join(d, "sub", "deep"), { recursive: true });
  writeFileSync(join(d, "a.txt"), "alpha\n");
  writeFileSync(join(d, "b.txt"), "bravo\n");
  writeFileSync(join(d, "sub", "c.txt"), "charlie\n");
  writeFileSync(join(d, "sub", "deep", "d.txt"), "delta\n");
  symlinkSync("a.txt", join(d, "link"));
  return d;
}

const policyFor = (workdir: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ fsReadable: [...system, probe], workdir, fsStorage: storage, ...extra });

async function sh(workdir: string, script: string, extra: Record<string, unknown> = {}): Promise<{ code: number | null; out: string; err: string; workdir: unknown }> {
  const r = await Sandbox.run(policyFor(workdir, extra), ["/bin/sh", "-c", script]);
  return { code: r.exitCode, out: r.stdout!.toString(), err: r.stderr!.toString(), workdir: r.workdir };
}

/** Filesystem semantics inside: errors a real filesystem gives, and the real tree untouched (abort). */
const SEMANTICS = `
import errno, os, sys
def t(name, fn):
    try:
        fn(); print(name, "ok")
    except OSError as e:
        print(name, errno.errorcode[e.errno])
t("mkdir-existing", lambda: os.mkdir("sub"))
t("rmdir-nonempty", lambda: os.rmdir("sub"))
t("open-dir-write", lambda: os.open("sub", os.O_WRONLY))
t("file-as-dir", lambda: os.open("a.txt/x", os.O_RDONLY))
t("excl-existing", lambda: os.open("a.txt", os.O_WRONLY | os.O_CREAT | os.O_EXCL))
fd = os.open("b.txt", os.O_WRONLY | os.O_APPEND); os.write(fd, b"more\\n"); os.close(fd)
fd = os.open("sub/c.txt", os.O_WRONLY | os.O_TRUNC); os.write(fd, b"new\\n"); os.close(fd)
t("rename-over", lambda: os.rename("a.txt", "sub/deep/d.txt"))
t("link", lambda: os.link("b.txt", "b-link.txt"))
t("symlink", lambda: os.symlink("b.txt", "b-sym"))
t("symlink-existing", lambda: os.symlink("b.txt", "b-sym"))
t("truncate", lambda: os.truncate("b-link.txt", 3))
t("chmod", lambda: os.chmod("b.txt", 0o600))
t("utime", lambda: os.utime("b.txt", (1000000000, 1000000000)))
t("rmdir-file", lambda: os.rmdir("b.txt"))
t("unlink-dir", lambda: os.unlink("sub"))
t("rename-dir-into-itself", lambda: os.rename("sub", "sub/deep/x"))
t("mkdir-new", lambda: os.makedirs("new/dir"))
print("read", open("sub/deep/d.txt").read().strip(), open("b.txt").read().replace("\\n", "|"), os.stat("b.txt").st_size, oct(os.stat("b.txt").st_mode & 0o777), os.stat("b.txt").st_mtime == 1000000000)
print("list", sorted(os.listdir(".")))
os.unlink("sub/deep/d.txt"); os.rmdir("sub/deep")
print("after-rm", sorted(os.listdir("sub")), os.path.exists("sub/deep"))
`;
import { CLI as cli, ROOT } from "../helpers/system.js";

const stage = resolve(ROOT); // the package root, as a grant path

async function files(): Promise<unknown> {
  const d = project("files");
  const before = snapshot(d);
  // Abort (the default for a failing command): every change thrown away.
  const failed = await sh(d, `python3 - <<'EOF'\n${SEMANTICS}\nEOF\nexit 1`);
  const afterAbort = snapshot(d);
  // The dry run: the change list, the real tree untouched; with a diff.
  const dry = await Sandbox.dryRun(policyFor(d), ["/bin/sh", "-c", "echo more >> a.txt; rm b.txt; mkdir n; echo x > n/x; rm -r sub/deep; ln -s sub l2"], { diff: true });
  const afterDry = snapshot(d);
  // Commit (exit 0): the same changes land.
  const committed = await sh(d, "echo more >> a.txt; rm b.txt; mkdir n; echo x > n/x; rm -r sub/deep; ln -s sub l2; chmod 700 n");
  const afterCommit = snapshot(d);
  // CLI: --dry-run prints the list and writes nothing.
  const cliDry = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = execFile(process.execPath, [cli, "run", ...system.flatMap((p) => ["-r", p]), "--workdir", d, "--fs-storage", storage, "--dry-run", "--diff", "--", "/bin/sh", "-c", "echo cli >> a.txt"], { encoding: "utf8" }, (_e, stdout, stderr) => resolve({ code: child.exitCode, stdout, stderr }));
  });
  const afterCli = snapshot(d);
  // Without a workdir: a rename and a hard link across directories of a writable grant
  // (the launcher's Landlock layer once refused both with EXDEV); a rename into a
  // read-only grant, which the command's own layer refuses, is the control.
  const plainDir = project("plain"), other = project("other");
  const crossDir = await Sandbox.run({ fsReadable: [...system, other], fsWritable: [plainDir], cwd: plainDir }, ["/usr/bin/python3", "-c", [
    "import errno, os",
    "def t(n, f):",
    "  try: f(); print(n, 'ok')",
    "  except OSError as e: print(n, errno.errorcode[e.errno])",
    "t('rename', lambda: os.rename('a.txt', 'sub/deep/a.txt'))",
    "t('link', lambda: os.link('b.txt', 'sub/b.txt'))",
    `t('rename-into-read-only', lambda: os.rename('b.txt', '${other}/sub/b.txt'))`,
  ].join("\n")]);
  return {
    crossDir: crossDir.stdout!.toString(),
    failed, unchangedByAbort: JSON.stringify(before) === JSON.stringify(afterAbort),
    dry: { changes: dry.changes, diff: dry.diff, code: dry.result.exitCode, unchanged: JSON.stringify(afterDry) === JSON.stringify(before) },
    committed: { code: committed.code, workdir: committed.workdir }, afterCommit,
    cliDry, cliUnchanged: JSON.stringify(afterCli) === JSON.stringify(afterCommit),
    leftBranches: listWorkdirBranches({ fsStorage: storage }).length,
  };
}

/** Real programs in a workdir, committed, then checked from outside. */
async function programs(): Promise<unknown> {
  const d = project("programs");
  const env = { ...process.env, HOME: base, GIT_CONFIG_NOSYSTEM: "1" };
  const git = (...args: string[]): string => execFileSync("git", ["-C", d, ...args], { encoding: "utf8", env }).trim();
  git("init", "-q", ".");
  git("config", "user.email", "dev@example.com");
  git("config", "user.name", "Dev");
  git("add", ".");
  git("commit", "-qm", "first");
  writeFileSync(join(d, "Makefile"), "all: gen.h prog\ngen.h: a.txt\n\tsed 's/^/#define X /' a.txt > gen.h\nprog: gen.h\n\techo built > prog\n");
  mkdirSync(join(d, "py"));
  writeFileSync(join(d, "py", "m.py"), "X = 1\n");
  // a package tarball made outside, installed inside from the file (no network)
  const tiny = join(base, "tiny");
  mkdirSync(tiny);
  writeFileSync(join(tiny, "package.json"), JSON.stringify({ name: "tiny", version: "1.0.0", main: "index.js" }));
  writeFileSync(join(tiny, "index.js"), "module.exports = 42;\n");
  execFileSync("npm", ["pack", "--silent"], { cwd: tiny, env, stdio: "ignore" });
  // a named unix socket bound in the workdir, reached by relative and absolute path (the
  // latter through the supervisor, which resolves it in the sandbox's own namespace)
  writeFileSync(join(base, "us.py"), [
    "import socket, os, threading",
    "srv = socket.socket(socket.AF_UNIX); srv.bind('s.sock'); srv.listen(2)",
    "def serve():",
    "    for _ in range(2):",
    "        c, _ = srv.accept(); c.sendall(b'hi'); c.close()",
    "threading.Thread(target=serve, daemon=True).start()",
    "for name, addr in (('rel', 's.sock'), ('abs', os.path.abspath('s.sock'))):",
    "    c = socket.socket(socket.AF_UNIX)",
    "    try:",
    "        c.connect(addr); print('socket', name, c.recv(2).decode())",
    "    except OSError as e: print('socket', name, e.errno)",
    "os.unlink('s.sock')",
  ].join("\n"));
  const script = [
    "set -e",
    `python3 ${join(base, "us.py")} | tr '\\n' ' '`,
    "export HOME=$PWD/.home GIT_CONFIG_NOSYSTEM=1; mkdir -p $HOME",
    "sed -i 's/alpha/ALPHA/' a.txt",
    "make -s",
    "python3 -m compileall -q py",
    // an editor's save: a temporary file, fsync, renamed over the original
    `python3 -c 'import os; f=open("b.tmp","w"); f.write("saved\\n"); f.flush(); os.fsync(f.fileno()); f.close(); os.rename("b.tmp","b.txt")'`,
    "git add a.txt b.txt && git commit -qm second && git log --format=%s | tr '\\n' ' '",
    `echo '{"name":"app","version":"1.0.0","private":true}' > package.json`,
    `npm install --offline --no-audit --no-fund ${join(tiny, "tiny-1.0.0.tgz")} >/dev/null 2>npm.err || cat npm.err >&2`,
    `node -e 'console.log("tiny", require("tiny"))'`,
  ].join("\n");
  const r = await sh(d, script, { fsWritable: ["/dev/null"], fsReadable: [...system, probe, tiny, process.execPath, join(base, "us.py")] });
  const log = git("log", "--format=%s").split("\n");
  const status = git("status", "--porcelain");
  return {
    code: r.code, out: r.out, err: r.err.slice(-2000), log, status,
    a: readFileSync(join(d, "a.txt"), "utf8"), b: readFileSync(join(d, "b.txt"), "utf8"),
    gen: existsSync(join(d, "gen.h")) ? readFileSync(join(d, "gen.h"), "utf8") : null,
    tiny: existsSync(join(d, "node_modules", "tiny", "index.js")) ? readFileSync(join(d, "node_modules", "tiny", "index.js"), "utf8") : null,
    prog: existsSync(join(d, "prog")), pyc: existsSync(join(d, "py", "__pycache__")) && readdirSync(join(d, "py", "__pycache__")).some((n) => n.startsWith("m.")),
    fsck: (() => {
      try {
        execFileSync("git", ["-C", d, "fsck", "--strict"], { stdio: "ignore" });
        return "ok";
      } catch {
        return "failed";
      }
    })(),
  };
}

/** keep, list, show, apply; a conflict refused and kept; drop. */
async function branches(): Promise<unknown> {
  const d = project("branches");
  const kept = await sh(d, "echo kept >> a.txt; echo new > n.txt; exit 2", { onError: "keep" });
  const id = (kept.workdir as { branch: string }).branch;
  const listed = listWorkdirBranches({ fsStorage: storage }).map((b) => ({ id: b.id, state: b.state }));
  const shown = showWorkdirBranch(id, { fsStorage: storage, diff: true });
  const untouched = readFileSync(join(d, "a.txt"), "utf8");
  const applied = applyWorkdirBranch(id, { fsStorage: storage }).map((c) => `${c.kind} ${c.path.slice(d.length)}`);
  const a = readFileSync(join(d, "a.txt"), "utf8");
  // Two runs on one workdir: the second changes b.txt after the first started, the
  // first's commit of b.txt is refused with BranchError naming it and its branch kept.
  const first = new Sandbox(policyFor(d));
  await first.spawn(["/bin/sh", "-c", "echo first >> b.txt; read x"], { stdin: "pipe" });
  const second = await sh(d, "echo second >> b.txt");
  first.stdin!.end("go\n");
  let conflict: { name: string; message: string; paths: unknown; branch: unknown; kept: boolean } | null = null;
  try {
    await first.wait();
  } catch (e) {
    const err = e as Error & { paths?: unknown; branch?: string };
    conflict = { name: err.name, message: err.message, paths: err.paths, branch: err.branch, kept: listWorkdirBranches({ fsStorage: storage }).some((b) => b.id === err.branch && b.state !== "running") };
    if (err.branch !== undefined) dropWorkdirBranch(err.branch, { fsStorage: storage });
  }
  const kept2 = await sh(d, "echo cli > c.txt", { onExit: "keep" });
  const id2 = (kept2.workdir as { branch: string }).branch;
  const cliRun = (args: string[]): string => {
    try {
      return execFileSync(process.execPath, [cli, "branch", ...args, "--fs-storage", storage], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    } catch (e) {
      return `exit ${(e as { status: number }).status}: ${(e as { stderr: string }).stderr}`;
    }
  };
  const cliBranch = { list: cliRun(["list"]), show: cliRun(["show", id2]), drop: cliRun(["drop", id2]), after: cliRun(["list"]), bad: cliRun(["apply"]) };
  let badId = "";
  try {
    showWorkdirBranch("nope", { fsStorage: storage });
  } catch (e) {
    badId = `${(e as Error).name}: ${(e as Error).message}`;
  }
  return { cliBranch, id2, listed, id, shown: { changes: shown.changes.map((c) => `${c.kind} ${c.path.slice(d.length)}`), diff: shown.diff, state: shown.state }, untouched, applied, a, second: second.workdir, b: readFileSync(join(d, "b.txt"), "utf8"), conflict, badId, left: listWorkdirBranches({ fsStorage: storage }).length };
}

/** Metadata calls by absolute path and a symlink swapped against chmod: all on the
 * overlay; the real files keep their state (abort). The probe's view inside is the control. */
async function attack(): Promise<unknown> {
  const d = project("attack");
  const f = join(d, "a.txt"), g = join(d, "b.txt"), l = join(d, "l");
  symlinkSync(f, l);
  execFileSync(probe, ["meta-prep", f]);
  execFileSync(probe, ["meta-prep", g]);
  const state = (p: string): string => execFileSync(probe, ["meta-state", p], { encoding: "utf8" }).trim();
  const before = [state(f), state(g)];
  const treeBefore = snapshot(d);
  const script = [
    `${probe} meta-all ${f} ${l} > ${join(d, "meta.out")}`,
    `echo inside $(${probe} meta-state ${f})`,
    `${probe} meta-swap-chmod 3000 ${join(d, "s")} a.txt ${g}`,
    `${probe} meta-swap-chmod 3000 ${join(d, "s2")} ../attack/b.txt ${f}`,
    `ls -A ${storage}/*/ 2>&1 | head -3 | sed 's/^/stage /'; ls -A ${storage}/*/upper >/dev/null 2>&1 && echo stage-upper-reached || echo stage-upper-hidden`,
    `for i in $(seq 200); do ln -sfn ${f} ${join(d, "w")}; echo x >> ${join(d, "w")}; ln -sfn b.txt ${join(d, "w")}; echo y >> ${join(d, "w")}; done`,
    "exit 1",
  ].join("\n");
  // The branch store is granted readable here, as a tree containing the stage could be.
  const r = await sh(d, script, { fsReadable: [...system, probe, base] });
  const after = [state(f), state(g)];
  // Control: the same calls with the directory granted writable, no workdir, change it.
  const c = project("attack-control");
  const cf = join(c, "a.txt");
  execFileSync(probe, ["meta-prep", cf]);
  symlinkSync(cf, join(c, "l"));
  const controlBefore = state(cf);
  const control = await Sandbox.run({ fsReadable: [...system, probe], fsWritable: [c] }, [probe, "meta-all", cf, join(c, "l")]);
  // Control for the cover: a kept branch's upper, read by a sandbox without a workdir
  // under the same read grant, is reached.
  await sh(d, "echo kept > k.txt", { onExit: "keep" });
  const stageControl = await Sandbox.run({ fsReadable: [...system, base] }, ["/bin/sh", "-c", `ls -A ${storage}/*/upper`]);
  return {
    stageControl: stageControl.stdout!.toString(),
    out: r.out, err: r.err.slice(-1000), before, after, treeUnchanged: JSON.stringify(treeBefore) === JSON.stringify(snapshot(d)), action: (r.workdir as { action: string }).action,
    control: { code: control.exitCode, before: controlBefore, after: state(cf) },
  };
}

/** A commit killed at random points, then applied again: the tree equals a commit that ran
 * through, byte for byte. The reference is the same command committed on a copy. */
async function crash(): Promise<unknown> {
  const make = "mkdir -p gen; for i in $(seq 300); do echo file $i > gen/f$i; done; echo changed > a.txt; rm b.txt; rm -r sub/deep; mkdir sub/deep; echo new > sub/deep/n.txt; ln -sfn sub link";
  const ref = project("ref");
  await sh(ref, make);
  const expected = snapshot(ref);
  const results: { killedAfterMs: number; listedAfterKill: boolean; recovered: boolean; equal: boolean }[] = [];
  const applier = join(dirname(fileURLToPath(import.meta.url)), "cow-apply.js");
  for (let trial = 0; trial < 6; trial++) {
    const d = project(`crash${trial}`);
    const kept = await sh(d, make, { onExit: "keep" });
    const id = (kept.workdir as { branch: string }).branch;
    const delay = [1, 5, 10, 20, 40, 80][trial]! + Math.floor(Math.random() * 5);
    await new Promise<void>((resolve) => {
      const child = spawn(process.execPath, [applier, id, storage], { stdio: "ignore" });
      const timer = setTimeout(() => child.kill("SIGKILL"), delay);
      child.on("exit", () => {
        clearTimeout(timer);
        resolve();
      });
    });
    const listedAfterKill = listWorkdirBranches({ fsStorage: storage }).some((b) => b.id === id);
    let recovered = !listedAfterKill;
    if (listedAfterKill) {
      applyWorkdirBranch(id, { fsStorage: storage });
      recovered = !listWorkdirBranches({ fsStorage: storage }).some((b) => b.id === id);
    }
    results.push({ killedAfterMs: delay, listedAfterKill, recovered, equal: JSON.stringify(snapshot(d)) === JSON.stringify(expected) });
  }
  return { results, files: expected.length };
}

/** sandlock inside sandlock: the inner --workdir run is refused (namespaces), nothing runs. */
async function nested(): Promise<unknown> {
  const d = project("nested");
  const outer = ["run", ...["/usr", "/lib", "/lib64", "/bin", "/etc", "/proc", "/dev", stage].flatMap((p) => ["-r", p]), "-w", base, "--"];
  // The inner grants by their real paths: under the kernel view the outer sandbox's root
  // (and the /lib -> usr/lib links in it) belongs to the caller, and a grant through a
  // link in a directory its own processes could change is refused (plan/grant-path.ts).
  const innerSystem = [...new Set(["/usr", "/lib", "/lib64", "/bin"].map((p) => realpathSync(p)))].flatMap((p) => ["-r", p]);
  const inner = (...flags: string[]): string[] => [process.execPath, cli, "run", "--no-supervisor", ...flags, ...innerSystem, "--", "/bin/sh", "-c", "echo ran > ran.txt; echo ran"];
  const run = (args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> =>
    new Promise((resolve) => {
      const child = execFile(process.execPath, args, { encoding: "utf8", timeout: 30_000 }, (_e, stdout, stderr) => resolve({ code: child.exitCode, stdout, stderr }));
    });
  const refused = await run([cli, ...outer, ...inner("--workdir", d, "--fs-storage", storage)]);
  const ranAfterRefused = existsSync(join(d, "ran.txt"));
  const control = await run([cli, ...outer, ...inner("--cwd", d, "-w", d)]);
  return { refused, ranAfterRefused, control, ranFile: readFileSync(join(d, "ran.txt"), "utf8") };
}

/** maxDisk: writes past the stage's size fail with ENOSPC (new bytes and a copy-up), a
 * commit from the quota stage lands the same tree as one without a quota, and the stage's
 * bytes count against maxMemory. */
async function quota(): Promise<unknown> {
  const d = project("quota");
  writeFileSync(join(d, "big.bin"), Buffer.alloc(3 << 20, 7));
  const before = snapshot(d);
  const WRITE = [
    "import errno, os",
    "def t(n, f):",
    "  try: f(); print(n, 'ok')",
    "  except OSError as e: print(n, errno.errorcode[e.errno])",
    "def new():",
    "  with open('new.bin', 'wb') as f: f.write(b'x' * 2000000)",
    "def grow():",
    "  with open('big.bin', 'ab') as f: f.write(b'y')",
    "def small():",
    "  with open('small.txt', 'w') as f: f.write('fits')",
    "t('new', new); t('copy-up', grow); os.unlink('new.bin'); t('small', small)",
  ].join("\n");
  const full = await sh(d, `python3 -c "${WRITE}"; exit 1`, { maxDisk: "1M" });
  const afterAbort = snapshot(d);
  // A dry run reads its change list and diff from the quota stage itself.
  const dry = await Sandbox.dryRun(policyFor(d, { maxDisk: "1M" }), ["/bin/sh", "-c", "echo more >> a.txt"], { diff: true });
  const afterDry = snapshot(d);
  // The same changes committed with and without a quota: the trees must be equal.
  const twin = project("quota-twin");
  writeFileSync(join(twin, "big.bin"), Buffer.alloc(3 << 20, 7));
  const CHANGE = "echo more >> a.txt; rm b.txt; mkdir n; echo x > n/x; rm -r sub; mkdir sub; echo s > sub/s; ln -s sub l2; chmod 700 n; rm big.bin";
  const quotaCommit = await sh(d, CHANGE, { maxDisk: "1M" });
  const plainCommit = await sh(twin, CHANGE);
  // maxMemory counts the stage: 60 MB written under a 24 MB cap ends the run; 512 MB does not.
  // The filled stage is held before "filled": the memory watchdog samples, and a run that
  // ended right after its last write could exit before a sample saw it. The capped run
  // holds it 30 s, which a working watchdog cuts short: 3 s (cf3f9df) were not enough twice
  // in CI, beside the timing-sensitive part at nice 10 where the watchdog's looks wait for a
  // CPU (what this asserts is that the stage is charged; limits.test.ts times the watchdog).
  const fill = (hold: number): string => `for i in 1 2 3 4 5 6; do yes | head -c 10000000 > f$i; sleep 0.1; done; sleep ${hold}; echo filled`;
  const t0 = performance.now();
  const capped = await Sandbox.run(policyFor(project("quota-mem"), { maxDisk: "256M", maxMemory: "24M" }), ["/bin/sh", "-c", fill(30)]);
  const cappedMs = Math.round(performance.now() - t0);
  const roomy = await Sandbox.run(policyFor(project("quota-mem2"), { maxDisk: "256M", maxMemory: "512M" }), ["/bin/sh", "-c", fill(3)]);
  // The CLI flag.
  const cliFull = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = execFile(process.execPath, [cli, "run", ...system.flatMap((p) => ["-r", p]), "--workdir", project("quota-cli"), "--fs-storage", storage, "--max-disk", "64K", "--", "/bin/sh", "-c", "yes | head -c 200000 > f; echo rc=$?"], { encoding: "utf8" }, (_e, stdout, stderr) => resolve({ code: child.exitCode, stdout, stderr }));
  });
  return {
    full, unchangedByAbort: JSON.stringify(before) === JSON.stringify(afterAbort),
    dry: { changes: dry.changes.map((c) => `${c.kind} ${c.path.replace(/^.*\/quota\//, "")}`), diff: dry.diff, unchanged: JSON.stringify(before) === JSON.stringify(afterDry) },
    quotaCommit, plainCommit, equalTrees: JSON.stringify(snapshot(d)) === JSON.stringify(snapshot(twin)), tree: snapshot(d).map((l) => l.slice(0, 60)),
    capped: { status: capped.status, limit: capped.limit?.field, out: capped.stdout!.toString(), ms: cappedMs, stderr: capped.stderr!.toString().slice(-500) },
    roomy: { status: roomy.status, code: roomy.exitCode, out: roomy.stdout!.toString() },
    cliFull, leftBranches: listWorkdirBranches({ fsStorage: storage }).length,
  };
}

const parts: Record<string, () => Promise<unknown>> = { files, programs, branches, attack, crash, nested, quota };
try {
  console.log(JSON.stringify(await parts[part!]!()));
} finally {
  rmSync(base, { recursive: true, force: true });
}
