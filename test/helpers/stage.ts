// Prepares what a case needs to run as another user: the unprivileged test account, a
// world-readable copy of the package (the checkout may sit under root's home), and the
// static probe program compiled from test/fixtures/probe.c.

import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./system.js";

export const TEST_USER = "sandlock-test";

export interface TestUser {
  name: string;
  uid: number;
  gid: number;
}

export const isRoot = process.getuid?.() === 0;

/** Creates the unprivileged account once (needs root); fails loudly when it cannot. */
export function ensureTestUser(): TestUser {
  const lookup = (): TestUser | undefined => {
    try {
      const uid = Number(execFileSync("id", ["-u", TEST_USER], { stdio: ["ignore", "pipe", "ignore"] }).toString());
      const gid = Number(execFileSync("id", ["-g", TEST_USER], { stdio: ["ignore", "pipe", "ignore"] }).toString());
      return { name: TEST_USER, uid, gid };
    } catch {
      return undefined;
    }
  };
  const found = lookup();
  if (found) return found;
  try {
    execFileSync("useradd", ["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", TEST_USER], { stdio: ["ignore", "ignore", "pipe"] });
  } catch (e) {
    // Test files run two at a time: another one may have created it in between.
    if (!lookup()) throw e;
  }
  const created = lookup();
  if (!created) throw new Error(`could not create the test user ${TEST_USER}`);
  return created;
}

/** The newest modification time of test/fixtures' C sources (the programs include each
 * other's headers: probe.c probe-net.h...). */
function newestFixtureSource(): number {
  const dir = join(ROOT, "test", "fixtures");
  return Math.max(...readdirSync(dir).filter((f) => /\.[ch]$/.test(f)).map((f) => statSync(join(dir, f)).mtimeMs));
}

/** test/fixtures/SOURCE compiled static to `out` (runnable by all) unless `out` is newer
 * than every fixture source. Compiled under a name of its own and renamed over: another
 * test file may be executing the previous program, or compiling it too. */
function compileFixture(source: string, out: string): string {
  if (existsSync(out) && statSync(out).mtimeMs >= newestFixtureSource()) return out;
  const tmp = `${out}.${process.pid}`;
  execFileSync("gcc", ["-O2", "-static", "-Wall", "-Wextra", "-Werror", "-o", tmp, join(ROOT, "test", "fixtures", source), "-lpthread"], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  chmodSync(tmp, 0o755);
  renameSync(tmp, out);
  return out;
}

/** Compiles the probe (static, so a sandbox only needs the probe itself readable). */
function buildProbe(): string {
  const outDir = join(ROOT, "build", "test-fixtures");
  mkdirSync(outDir, { recursive: true });
  return compileFixture("probe.c", join(outDir, "sl-probe"));
}

export interface Stage {
  dir: string;
  probe: string;
  runner: string;
}

let stage: Stage | undefined;

/** Stage copies left by test processes that died without their exit handler (a timeout's
 * kill): each holds the pid that made it in `owner`; those whose process is gone are removed
 * (about 30 MB each: a day of interrupted runs filled /tmp with 2 GB of them). */
function sweepStaleStages(): void {
  for (const name of readdirSync("/tmp")) {
    if (!name.startsWith("sandlock-stage-")) continue;
    const dir = join("/tmp", name);
    try {
      const st = statSync(dir);
      if (st.uid !== process.getuid?.()) continue;
      const pid = Number(readFileSync(join(dir, "owner"), "utf8"));
      if (Number.isInteger(pid) && pid > 0 && !existsSync(`/proc/${pid}`)) rmSync(dir, { recursive: true, force: true });
    } catch {
      // no owner file (an older stage, or one being made): left alone
    }
  }
}

/** The variable through which `npm test` (scripts/test.mjs) hands every test file the one
 * stage it made for the run (makeStage), instead of a copy per file: about 0.7 s of CPU
 * each, for some 130 files. */
export const SHARED_STAGE_ENV = "SANDLOCK_TEST_STAGE";

/** A copy of the package every user can read and execute: the run's (SHARED_STAGE_ENV), or
 * one of this process's own, removed when it exits. */
export function stagePackage(): Stage {
  if (stage) return stage;
  const shared = process.env[SHARED_STAGE_ENV];
  if (shared !== undefined && shared !== "") {
    if (!existsSync(join(shared, "owner"))) throw new Error(`${SHARED_STAGE_ENV}=${shared}: not a stage (no owner file)`);
    // The probe is built into the stage by its maker: a newer source than the staged copy
    // is built and copied over (as a new file: a run may be executing the old one).
    const probe = buildProbe();
    if (statSync(probe).mtimeMs > statSync(join(shared, "sl-probe")).mtimeMs) installOver(probe, join(shared, "sl-probe"));
    stage = { dir: shared, probe: join(shared, "sl-probe"), runner: join(shared, "dist", "test", "helpers", "case-runner.js") };
    return stage;
  }
  stage = makeStage();
  const dir = stage.dir;
  process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  return stage;
}

/** Copies `from` to `to` through a new file renamed over it, readable and runnable by all. */
function installOver(from: string, to: string): void {
  const tmp = `${to}.${process.pid}`;
  cpSync(from, tmp);
  chmodSync(tmp, 0o755);
  renameSync(tmp, to);
}

/** Makes a stage (its owner: this process), which its caller removes. */
export function makeStage(): Stage {
  sweepStaleStages();
  const probe = buildProbe();
  const dir = mkdtempSync("/tmp/sandlock-stage-");
  chmodSync(dir, 0o755);
  writeFileSync(join(dir, "owner"), String(process.pid));
  for (const part of ["dist", "bin", "package.json"]) cpSync(join(ROOT, part), join(dir, part), { recursive: true });
  mkdirSync(join(dir, "build", "Release"), { recursive: true });
  for (const f of ["sandlock-launcher", "sandlock_native.node"]) {
    cpSync(join(ROOT, "build", "Release", f), join(dir, "build", "Release", f));
  }
  cpSync(probe, join(dir, "sl-probe"));
  // Programs the scripts run inside sandboxes, as they are (Python, CommonJS): ${STAGE}/fixtures/.
  mkdirSync(join(dir, "fixtures"));
  for (const f of readdirSync(join(ROOT, "test", "fixtures")).filter((n) => n.endsWith(".py") || n.endsWith(".cjs"))) {
    cpSync(join(ROOT, "test", "fixtures", f), join(dir, "fixtures", f));
  }
  execFileSync("chmod", ["-R", "a+rX", dir]);
  return { dir, probe: join(dir, "sl-probe"), runner: join(dir, "dist", "test", "helpers", "case-runner.js") };
}

/** test/fixtures/SOURCE built static into the staged package as NAME (readable and runnable
 * by the test user): its path there. */
export function buildStaged(source: string, name: string): string {
  // (In a stage shared by the run's files: built once, again only when a source is newer.)
  return compileFixture(source, join(stagePackage().dir, name));
}

let i386: "SIGSYS" | "SIGSEGV" | undefined;
/** The signal a sandboxed `int $0x80` dies by on this machine. The sandbox's filter kills any
 * call of another architecture (SIGSYS) where the kernel takes the i386 entry; some kernels
 * (ia32 emulation off, or a hypervisor that does not pass it: 6.18 guests here) fault it
 * for every process, bare ones too (SIGSEGV), so no i386 call runs anywhere. Learnt once,
 * from the probe run bare; anything else (the call answered) expects SIGSYS. */
export function i386EntrySignal(): "SIGSYS" | "SIGSEGV" {
  if (i386 === undefined) {
    const r = spawnSync(buildProbe(), ["int80"], { encoding: "latin1" });
    i386 = r.signal === "SIGSEGV" ? "SIGSEGV" : "SIGSYS";
    if (i386 === "SIGSYS" && !/^int80 returned -?\d+/m.test(r.stdout)) throw new Error(`the probe's bare int $0x80: ${r.status} ${r.signal} ${r.stdout} ${r.stderr}`);
  }
  return i386;
}
