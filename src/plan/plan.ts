// Features + the command -> Plan: the ordered child-side steps, each with the name used in
// error messages, encoded as the versioned blob the native launcher executes.

import { realpathSync } from "node:fs";
import { encodeProgram } from "./bpf/assembler.js";
import { supervised, type Features, type Rlimit } from "./features.js";
import { landlockNeeded, planLandlock, type LandlockPlan } from "./landlock.js";
import { PLAN_MAGIC, PLAN_MAX_BYTES, PLAN_VERSION, Step, TraceFlag, type StepOp } from "./protocol.js";
import { buildSeccompProgram, type SeccompSpec } from "./seccomp.js";
import { initFilterPayload } from "./seccomp-init.js";
import { grantRealpath } from "./grant-path.js";
import { nsViewOps, nsViewPayload, stagingDir } from "./kernel-view.js";
import { chrootPayload, chrootVirtualPath } from "./chroot.js";
import { refuseNul } from "./nul.js";

/**
 * The path a Landlock rule is opened at: the grant's real path as planning sees it, which
 * the launcher opens without following any symbolic link (steps.c). So the rule lands on
 * what the plan was computed from (the /proc view, device filters, carve-outs); a link
 * swapped into the path since then fails the start instead of moving the rule, and planning
 * follows no link another process could have swapped in before (plan/grant-path.ts; such a
 * grant is refused when the policy is planned). A path that cannot be resolved now (gone,
 * or such a link), or that resolves through a process's own /proc entry
 * (/dev/fd: the planner's would be this process's), is left as it is.
 */
function pinnedPath(path: string): string {
  let real: string;
  try {
    real = grantRealpath(path);
  } catch {
    return path;
  }
  return /^\/proc\/(self|thread-self|\d+)\//.test(real) && !path.startsWith("/proc/") ? path : real;
}

export interface PlanStep {
  op: StepOp;
  payload: Buffer;
  /** How the step is named in errors: the syscall and its key argument. */
  describe: string;
  /** For steps that open a path first: how that open is named. */
  openDescribe?: string;
}

export interface CommandSpec {
  /** Absolute path of the program to execute. */
  path: string;
  argv: readonly string[];
  env: Readonly<Record<string, string>>;
  cwd: string;
  /** Put the sandbox in its own process group (not when it shares the terminal). */
  ownProcessGroup: boolean;
  /** With a workdir: this run's stage directory (cow/stage.ts), holding upper and work. */
  cowStage?: string;
  /** A checkpoint restore: instead of exec, stop with two pages mapped at this address
   * (native/launcher/restore.c). */
  restoreAt?: bigint;
}

export interface Plan {
  steps: PlanStep[];
  landlock: LandlockPlan;
  seccompInsns: number;
}

const SIGKILL = 9;
const SECCOMP_FILTER_FLAG_NEW_LISTENER = 1 << 3;
const SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV = 1 << 5;
const ADDR_NO_RANDOMIZE = 0x0040000n;

/** linux/securebits.h: root gets nothing from exec or setuid, capabilities are never kept
 * across setuid, no ambient capability can be raised; each locked so it stays that way. */
const SECBIT = {
  NOROOT: 1 << 0,
  NOROOT_LOCKED: 1 << 1,
  NO_SETUID_FIXUP: 1 << 2,
  NO_SETUID_FIXUP_LOCKED: 1 << 3,
  KEEP_CAPS_LOCKED: 1 << 5,
  NO_CAP_AMBIENT_RAISE: 1 << 6,
  NO_CAP_AMBIENT_RAISE_LOCKED: 1 << 7,
} as const;
export const SANDBOX_SECUREBITS = Object.values(SECBIT).reduce((a, b) => a | b, 0);

// u32/u64 write through a DataView: its setters are V8 built-ins, cheaper than Buffer's
// checked writers in the cold code of a CLI run, which plans once (bpf/assembler.ts too).
function u32(...values: number[]): Buffer {
  const b = Buffer.alloc(4 * values.length);
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let i = 0; i < values.length; i++) view.setUint32(4 * i, values[i]! >>> 0, true);
  return b;
}

function u64(...values: bigint[]): Buffer {
  const b = Buffer.alloc(8 * values.length);
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    // writeBigUInt64LE's range check, kept: a plan value never wraps silently.
    if (v < 0n || v > 0xffffffffffffffffn) throw new RangeError(`plan: ${v} does not fit in 64 bits`);
    view.setBigUint64(8 * i, v, true);
  }
  return b;
}

function cstr(s: string): Buffer {
  refuseNul(s);
  return Buffer.from(s + "\0", "utf8");
}

function affinityMask(cores: readonly number[]): Buffer {
  const bytes = Math.max(8, Math.ceil((Math.max(...cores) + 1) / 64) * 8);
  const mask = Buffer.alloc(bytes);
  for (const c of cores) mask[c >> 3]! |= 1 << (c & 7);
  return mask;
}

/** SL_STEP_TRACE: flags, then timeStart as i64 seconds and u32 nanoseconds since the epoch
 * (negative before 1970; zero without timeStart). */
function tracePayload(ms: number | undefined, execs: boolean): Buffer {
  const out = Buffer.alloc(20);
  out.writeUInt32LE((ms !== undefined ? TraceFlag.CLOCK : 0) | (execs ? TraceFlag.EXECS : 0), 0);
  if (ms !== undefined) {
    const sec = Math.floor(ms / 1000);
    out.writeBigInt64LE(BigInt(sec), 8);
    out.writeUInt32LE((ms - sec * 1000) * 1_000_000, 16);
  }
  return out;
}

/** {argc, envc}, then path, argv and env as NUL-terminated strings: written as one string
 * (a Buffer per string cost each start about 50 us with a usual environment). */
function execPayload(cmd: CommandSpec): Buffer {
  const strings = [cmd.path, ...cmd.argv];
  const keys = Object.keys(cmd.env);
  for (const k of keys) strings.push(`${k}=${cmd.env[k]}`);
  for (const s of strings) refuseNul(s);
  strings.push(""); // the last string's terminator
  const text = strings.join("\0");
  const out = Buffer.allocUnsafe(8 + Buffer.byteLength(text, "utf8"));
  out.writeUInt32LE(cmd.argv.length, 0);
  out.writeUInt32LE(keys.length, 4);
  out.write(text, 8, "utf8");
  return out;
}

/**
 * Step order: process attributes first (they need no privilege and nothing restricts
 * them yet), then chdir while every path is still reachable, then the capability drop,
 * NO_NEW_PRIVS, Landlock, and the seccomp filter last, so nothing the launcher does after
 * it can be refused: only the listener's hand-over and the descriptor limit follow it,
 * neither of them trapped.
 */
export function makePlan(features: Features, cmd: CommandSpec, exec: PlanStep = execStep(cmd, features)): Plan {
  const steps: PlanStep[] = [];
  const add = (op: StepOp, payload: Buffer, describe: string, openDescribe?: string): void => {
    steps.push(openDescribe === undefined ? { op, payload, describe } : { op, payload, describe, openDescribe });
  };

  add(Step.PDEATHSIG, u32(SIGKILL), "prctl(PR_SET_PDEATHSIG)");
  if (cmd.ownProcessGroup) add(Step.SETPGID, Buffer.alloc(0), "setpgid");
  const rlimit = (r: Rlimit): void => add(Step.RLIMIT, Buffer.concat([u32(r.resource, 0), u64(r.cur, r.max)]), `setrlimit(${r.name})`);
  for (const r of features.rlimits) if (!r.late) rlimit(r);
  if (features.cpuCores) add(Step.AFFINITY, affinityMask(features.cpuCores), `sched_setaffinity(${features.cpuCores.join(",")})`);
  if (features.noRandomizeMemory) add(Step.PERSONALITY, u64(ADDR_NO_RANDOMIZE), "personality(ADDR_NO_RANDOMIZE)");
  if (features.noHugePages) add(Step.THP_DISABLE, Buffer.alloc(0), "prctl(PR_SET_THP_DISABLE)");
  if (features.niceIncrement > 0) add(Step.NICE, u32(features.niceIncrement), `setpriority(nice +${features.niceIncrement})`);
  // The kernel-native view (plan/kernel-view.ts): the root is built before chdir, which
  // then lands in it, and before Landlock, whose rules are opened on the new root's paths.
  if (features.kernelView !== undefined) {
    const ops = nsViewOps(features.grants, features.kernelView.name, cmd.cwd);
    add(Step.NS_VIEW, nsViewPayload(ops, stagingDir()), `namespaces and constructed root (${ops.length} operations; each grant opened following no symbolic link, ELOOP: a granted path became a symbolic link since it was planned)`);
  }
  // The copy-on-write workdir (native/launcher/cow.c): the overlay is mounted before chdir
  // (a working directory inside the workdir lands on it) and before Landlock, whose rule
  // for the workdir is then opened on the overlay, not on the real directory beneath.
  if (features.cow !== undefined) {
    if (cmd.cowStage === undefined) throw new Error("plan: a workdir policy needs its stage directory");
    const head = u32(0, process.getuid?.() ?? 0, process.getgid?.() ?? 0, 0);
    const maxDisk = Buffer.alloc(8);
    maxDisk.writeBigUInt64LE(features.cow.maxDisk ?? 0n); // 0: no quota (the stage on disk)
    add(Step.COW, Buffer.concat([head, maxDisk, cstr(features.cow.workdir), cstr(cmd.cowStage)]), `copy-on-write overlay on ${features.cow.workdir} (unshare, mount)`);
  }
  // fsDenied (native/launcher/deny.c): each path covered by the launcher before it forks,
  // after the overlay (a denied path inside the workdir is covered on the overlay).
  // protectedFiles (deny.c, protect()): parents first, before the denials, which may lie inside.
  for (const p of features.protect ?? []) {
    add(Step.DENY, Buffer.concat([u32(process.getuid?.() ?? 0, process.getgid?.() ?? 0, p.readOnly ? 2 : 3, 0), cstr(p.path)]), `protectedFiles: ${p.readOnly ? "read-only bind of" : "pin the name of"} ${p.path} (unshare, open following no symbolic link, open_tree, mount_setattr, move_mount)`);
  }
  for (const d of features.denied ?? []) {
    add(Step.DENY, Buffer.concat([u32(process.getuid?.() ?? 0, process.getgid?.() ?? 0, d.isDir ? 1 : 0, 0), cstr(d.path)]), `fsDenied: cover ${d.path} (unshare, open following no symbolic link, mount; ELOOP: it became a symbolic link since planning; EMLINK: it gained a hard link since planning)`);
  }
  // chroot (native/launcher/chroot.c): the launcher built the root's namespace before it
  // forked, after the overlay and the covers; the command's process joins it before chdir
  // (the working directory is the sandbox's path), `user` and DROP_CAPS (setns needs them).
  const chroot = features.chroot;
  if (chroot !== undefined) {
    add(Step.CHROOT, chrootPayload(chroot, process.getuid?.() ?? 0, process.getgid?.() ?? 0), `chroot ${chroot.root}${chroot.mounts.map((m) => ` + ${m.host} at ${m.virtual}${m.readOnly ? " (read-only)" : ""}`).join("")} (unshare, open following no symbolic link, open_tree, move_mount, pivot_root, setns)`);
  }
  add(Step.CHDIR, cstr(cmd.cwd), `chdir(${cmd.cwd})`);
  add(Step.CLOSE_FDS, u32(3), "close_range(3, ~0, CLOSE_RANGE_CLOEXEC)");
  // maxCpu: the launcher (not the command) counts every process's CPU time with a counter
  // they all inherit; it reads the step before it forks, the command's process skips it.
  if (features.maxCpu !== undefined) add(Step.CPU_COUNTER, Buffer.alloc(0), "perf_event_open(task-clock, inherit)");
  // `user`: a user namespace of the command's own, before DROP_CAPS empties the
  // capabilities unshare gives it there (launcher/userns.c).
  if (features.user !== undefined) {
    const u = features.user;
    add(Step.USERNS, u32(u.uid, u.gid, u.outerUid, u.outerGid), `unshare(CLONE_NEWUSER), uid ${u.uid} -> ${u.outerUid}, gid ${u.gid} -> ${u.outerGid}`);
  }
  // Root inside holds no capability (SPEC 10). After the steps that may need privilege
  // (chdir into a directory only root's capabilities reach), before NO_NEW_PRIVS and
  // Landlock: the Landlock rules are opened with the credentials the command will have.
  // The late descriptor limit needs none: it is never above the hard limit (features.ts).
  add(Step.DROP_CAPS, u32(SANDBOX_SECUREBITS), "capset(drop every capability, lock securebits)");
  add(Step.NO_NEW_PRIVS, Buffer.alloc(0), "prctl(PR_SET_NO_NEW_PRIVS)");

  const landlock = planLandlock(features.active, features.grants, features.net);
  if (landlockNeeded(landlock)) {
    add(Step.LANDLOCK_CREATE, u64(landlock.handledFs, landlock.handledNet, landlock.scoped), "landlock_create_ruleset");
    for (const p of landlock.paths) {
      // Under a chroot the rules are opened in the sandbox's namespace: a planned host path
      // at the path that namespace shows it at; one it does not reach needs no rule.
      const pinned = pinnedPath(p.path);
      const real = chroot === undefined ? pinned : chrootVirtualPath(chroot, pinned);
      if (real === undefined) continue;
      add(Step.LANDLOCK_PATH, Buffer.concat([u64(p.access), cstr(real)]), `landlock_add_rule(${p.path})`, `open(${real}, O_PATH, following no symbolic link; ELOOP: the path became a symbolic link since it was planned)`);
    }
    for (const p of landlock.ports) {
      add(Step.LANDLOCK_PORT, u64(p.access, BigInt(p.port)), `landlock_add_rule(port ${p.port})`);
    }
    add(Step.LANDLOCK_RESTRICT, u32(0), "landlock_restrict_self");
  }

  // timeStart: the launcher traces the command from here on (native/launcher/vclock.c),
  // before the filter, whose ptrace ban binds the command, not its tracer.
  if (features.timeStartMs !== undefined || features.traceExecs === true) {
    add(Step.TRACE, tracePayload(features.timeStartMs, features.traceExecs === true), "ptrace(PTRACE_SEIZE) by the launcher (timeStart, policyFn)");
  }
  const program = seccompProgram(features.seccomp);
  const listener = supervised(features);
  // With a supervisor: a listener fd, and a notified task that only a fatal signal can
  // pull out of a call the supervisor is already handling.
  const flags = listener ? SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV : 0;
  // The kernel view's init loads a small allow list of its own at the SECCOMP step
  // (plan/seccomp-init.ts says why), listed just before it.
  if (features.kernelView !== undefined) add(Step.INIT_FILTER, initFilterPayload(), "seccomp(SET_MODE_FILTER) of the init (its allow list)");
  add(Step.SECCOMP, Buffer.concat([u32(flags, 0), program]), listener ? "seccomp(SET_MODE_FILTER, NEW_LISTENER)" : "seccomp(SET_MODE_FILTER)");
  if (listener) add(Step.LISTENER, Buffer.alloc(0), "pidfd_getfd(seccomp listener)");
  // prlimit64 on the caller itself passes the filter without a round trip.
  for (const r of features.rlimits) if (r.late) rlimit(r);
  steps.push(exec); // execStep(cmd, features), made once by a caller that has it already (plan/cache.ts)
  return { steps, landlock, seccompInsns: program.length / 8 };
}

/** The last step, the only one that depends on the command besides chdir and setpgid
 * (plan/cache.ts reuses the others). */
export function execStep(cmd: CommandSpec, features: Pick<Features, "kernelView">): PlanStep {
  if (cmd.restoreAt !== undefined) {
    const at = Buffer.alloc(8);
    at.writeBigUInt64LE(cmd.restoreAt);
    return { op: Step.RESTORE, payload: at, describe: `checkpoint restore stop (mmap at 0x${cmd.restoreAt.toString(16)})` };
  }
  // Under the kernel view only granted paths exist: a command reached through a symlink in
  // an ungranted directory (Landlock checks only the file it leads to) is run by its real
  // path, which the grants reach. Resolved here by the caller's own lookup (not grant-path's
  // rules, which refuse links in directories others can change: those rules protect what a
  // grant opens, while the command is the caller's choice and the exec happens in the
  // constructed root anyway, where only granted files exist). argv[0] stays as given.
  const exec = features.kernelView !== undefined ? { ...cmd, path: commandRealpath(cmd.path) } : cmd;
  return { op: Step.EXEC, payload: execPayload(exec), describe: `execve(${cmd.path})` };
}

function commandRealpath(path: string): string {
  try {
    return realpathSync.native(path);
  } catch {
    return path; // gone since resolveCommand: the exec reports it
  }
}

/** The blob: header {magic, version, total length, step count}, then 8-byte aligned steps. */
/** Encoded filters by their spec: the program is a pure function of it (and of this code),
 * and assembling one cost about 0.3 ms of each start in a warm process, 2 to 6 ms in a
 * CLI's cold one (the binary-search tree over every syscall number). A process starts
 * sandboxes from a few policies, so a small cache serves them. */
const programs = new Map<string, Buffer>();
const PROGRAMS_KEPT = 32;

/** A store of encoded programs that outlives the process, keyed by the spec's JSON (the
 * CLI's, beside its bundle: cli/program-cache.ts). Its get() answers only for exactly that
 * key and only from a file it trusts as it trusts the code it runs. */
export interface ProgramStore {
  get(specKey: string): Buffer | undefined;
  put(specKey: string, program: Buffer): void;
}

let store: ProgramStore | undefined;

/** Sets (or with undefined, removes) the store seccompProgram consults after its own map. */
export function setProgramStore(s: ProgramStore | undefined): void {
  store = s;
}

function seccompProgram(spec: SeccompSpec): Buffer {
  const key = JSON.stringify(spec);
  let program = programs.get(key);
  if (program === undefined) {
    program = store?.get(key);
    if (program === undefined) {
      program = encodeProgram(buildSeccompProgram(spec));
      store?.put(key, program);
    }
    if (programs.size >= PROGRAMS_KEPT) programs.delete(programs.keys().next().value!);
    programs.set(key, program);
  }
  return program;
}

export function encodePlan(plan: Plan): Buffer {
  return encodeBlob(encodeSteps(plan.steps), plan.steps.length);
}

/** Steps as the blob carries them, each 8-byte aligned, without the header. */
export function encodeSteps(steps: readonly PlanStep[]): Buffer {
  const parts: Buffer[] = [];
  let total = 0;
  for (const s of steps) {
    const pad = (8 - (s.payload.length % 8)) % 8;
    parts.push(u32(s.op, s.payload.length), s.payload, Buffer.alloc(pad));
    total += 8 + s.payload.length + pad;
  }
  return Buffer.concat(parts, total);
}

/** The header, then the encoded steps (encodeSteps, possibly several runs of them). */
export function encodeBlob(encoded: Buffer | readonly Buffer[], nsteps: number): Buffer {
  const parts = Buffer.isBuffer(encoded) ? [encoded] : encoded;
  let total = 16;
  for (const p of parts) total += p.length;
  if (total > PLAN_MAX_BYTES) throw new Error(`plan: ${total} bytes exceeds the launcher's limit of ${PLAN_MAX_BYTES}`);
  return Buffer.concat([u32(PLAN_MAGIC, PLAN_VERSION, total, nsteps), ...parts], total);
}
