// The TypeScript face of one native launcher process: starts it with the plan and stdio,
// decodes its status messages, sends stop/continue/kill, and reaps it through its pidfd.

import { closeSync, readSync, writeSync } from "node:fs";
import { ConfinementError, SandboxError, SupervisorError } from "../errors.js";
import { Cmd, Fatal, LauncherFd, LauncherFlag, Msg, MSG_BYTES, Step, SubCall, type StepOp } from "../plan/protocol.js";
import type { PlanStep } from "../plan/plan.js";
import { errnoName } from "./errno.js";
import type { ExecExplanation } from "./exec-explain.js";
import { launcherPath, native } from "./native.js";
import { fitsStandby, prepareStandby, takeOverStandby } from "./standby.js";

export interface LauncherExit {
  /** Exit code of the root process, or null when it was killed by a signal. */
  code: number | null;
  /** Signal number that killed the root process, or null. */
  signal: number | null;
  /** Processes other than the root reaped at teardown. */
  reaped: number;
}

const EPERM = 1;

type Pending = { cmd: string; resolve: (n: number) => void; reject: (e: Error) => void };

const live = new Set<LauncherProcess>();
let exitHookInstalled = false;

/** A launcher command as its errors name it. */
function commandName(cmd: string): string {
  return { [Cmd.STOP]: "pause", [Cmd.CONT]: "resume", [Cmd.COUNT]: "process count", [Cmd.CPU]: "CPU time", [Cmd.SIGNAL]: "signal", [Cmd.HOLD]: "hold", [Cmd.RELEASE]: "release" }[cmd] ?? cmd;
}

/** If this Node process exits, every sandbox dies: closing the control pipe does that on
 * its own, and the hook below asks explicitly first (it also covers fds leaked by a fork). */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const l of live) l.kill();
  });
}

export class LauncherProcess {
  readonly pid: number;
  rootPid: number | undefined;
  /** What the launcher has in force (LauncherFlag bits), known once started. */
  flags = 0;
  readonly started: Promise<number>;
  readonly exited: Promise<LauncherExit>;

  private readonly pidfd: number;
  private controlFd: number;
  private readonly steps: readonly PlanStep[];
  private pending: Pending[] = [];
  private exitMsg: LauncherExit | undefined;
  private fatal: Error | undefined;
  private resolveStarted!: (pid: number) => void;
  private rejectStarted!: (e: Error) => void;
  private startSettled = false;
  private buffered: Buffer = Buffer.alloc(0);
  /** The poll handles still open (the status pipe's and the pidfd's), for setRef. */
  private readonly openHandles = new Set<object>();
  private refWanted = true;
  private refApplied = true;

  /** Called with the supervisor's copy of the seccomp listener, before the command execs. */
  onListener: ((fd: number) => void) | undefined;
  /** timeStart: the offset from CLOCK_MONOTONIC to the command's wall clock, in ns, once
   * the launcher has taken it (before the listener arrives). */
  clockOffsetNs: bigint | undefined;
  /** maxDisk: this process's duplicate of the stage's tmpfs (its root), the only reference
   * to the staged writes that outlives the sandbox's mount namespace; the copy-on-write
   * run takes it (cow/quota.ts) and closes it. */
  stageFd: number | undefined;
  /** policyFn: told of each program stopped at its exec (pid, the thread that called
   * execve); it must answer with execVerdict. */
  onExec: ((pid: number, tid: number) => void) | undefined;
  /** The hold's second answer (SL_MSG_HELD): told once every thread is stopped. */
  private onHeld: ((threads: number) => void) | undefined;

  /** Starts the launcher. stdio are the descriptors the command gets as 0, 1 and 2. */
  /** Says why the command's execve got EACCES from the grants (confine/exec-explain.ts). */
  explainExec: (() => ExecExplanation | undefined) | undefined;
  /** The plan builds the kernel view's root (exec failures outside the grants are ENOENT). */
  kernelView = false;

  constructor(blob: Buffer, steps: readonly PlanStep[], stdio: readonly [number, number, number], onListener?: (fd: number) => void) {
    this.onListener = onListener;
    const n = native();
    this.steps = steps;
    this.started = new Promise((resolve, reject) => {
      this.resolveStarted = resolve;
      this.rejectStarted = reject;
    });
    // Nobody may miss a rejection just because they only await exited.
    this.started.catch(() => undefined);

    const planFd = n.memfd(blob);
    let launched: Launched;
    try {
      launched = takeOverStandby(steps, planFd, stdio) ?? spawnFresh(planFd, stdio);
    } finally {
      closeSync(planFd);
    }
    const { pid, pidfd, statusR, controlW } = launched;
    this.pid = pid;
    this.pidfd = pidfd;
    this.controlFd = controlW;
    // The next kernel-view start may find a launcher waiting (standby.ts), started once this
    // sandbox has ended (prepareStandby says why then).
    if (fitsStandby(steps)) this.started.then(() => this.exited.then(prepareStandby, prepareStandby), () => undefined);
    // Status messages are read straight off the pipe from an event-loop poll handle: no
    // stream machinery (which also keeps node:net out of a CLI run's start-up).
    const statusEnded = new Promise<void>((resolve) => {
      const buf = Buffer.alloc(64 * MSG_BYTES);
      const handle: object = n.pollFd(statusR, () => {
        let got = 0;
        try {
          got = readSync(statusR, buf, 0, buf.length, null);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === "EAGAIN") return;
        }
        if (got > 0) {
          this.onData(Buffer.from(buf.subarray(0, got)));
          return;
        }
        n.pollClose(handle);
        this.openHandles.delete(handle);
        closeSync(statusR);
        resolve();
      });
      this.openHandles.add(handle);
    });
    const reaped = new Promise<void>((resolve) => {
      const handle: object = n.pollFd(pidfd, () => {
        if (n.waitPidfd(pidfd) === null) return;
        n.pollClose(handle);
        this.openHandles.delete(handle);
        resolve();
      });
      this.openHandles.add(handle);
    });
    this.exited = Promise.all([statusEnded, reaped]).then(() => this.finish());
    live.add(this);
    installExitHook();
  }

  private finish(): LauncherExit {
    live.delete(this);
    closeSync(this.pidfd);
    this.closeControl();
    const gone = new SupervisorError("the sandbox launcher exited without reporting its command's exit");
    this.settleStart(this.fatal ?? gone);
    // A command sent as the sandbox ended (a pause racing its exit) was not carried out: it
    // is refused as a command sent after the end is (Sandbox.requireLive).
    for (const p of this.pending) p.reject(this.fatal ?? (this.exitMsg ? new SandboxError(`${commandName(p.cmd)}: not running (the sandbox has exited)`) : gone));
    this.pending = [];
    if (this.exitMsg) return this.exitMsg;
    // The launcher itself was killed from outside: the root died with it (PDEATHSIG).
    if (this.fatal) throw this.fatal;
    throw gone;
  }

  private settleStart(result: number | Error): void {
    if (this.startSettled) return;
    this.startSettled = true;
    if (typeof result === "number") this.resolveStarted(result);
    else this.rejectStarted(result);
  }

  private onData(chunk: Buffer): void {
    this.buffered = this.buffered.length ? Buffer.concat([this.buffered, chunk]) : chunk;
    while (this.buffered.length >= MSG_BYTES) {
      const m = this.buffered;
      this.onMessage(m.readUInt32LE(0), m.readInt32LE(4), m.readInt32LE(8), m.readInt32LE(12));
      this.buffered = m.subarray(MSG_BYTES);
    }
  }

  private onMessage(type: number, a: number, b: number, c: number): void {
    switch (type) {
      case Msg.STARTED:
        this.rootPid = a;
        this.flags = b;
        this.settleStart(a);
        break;
      case Msg.SETUP_FAILED:
        this.settleStart(this.stepError(a, b, c));
        break;
      case Msg.EXIT:
        this.exitMsg = { code: a >= 0 ? a : null, signal: b > 0 ? b : null, reaped: c };
        break;
      case Msg.ACK: {
        const p = this.pending.shift();
        this.applyRef();
        if (!p) break;
        const what = commandName(p.cmd);
        if (c === EPERM && p.cmd === Cmd.CPU) {
          p.reject(new SupervisorError(`the CPU time of process ${b} cannot be counted: it is not dumpable (it executed a file it may not read), and the kernel stops counting such a process`));
        } else if (c !== 0) {
          p.reject(new SupervisorError(`sandbox ${what} failed: ${errnoName(c)}`));
        } else if (p.cmd === Cmd.COUNT && (this.flags & LauncherFlag.INIT) !== 0) {
          // The kernel-native view's init is sandlock's own process, not the command's.
          p.resolve(Math.max(0, b - 1));
        } else {
          p.resolve(b);
        }
        break;
      }
      case Msg.LISTENER: {
        // The launcher holds the sandbox's seccomp listener as fd `a`; take a duplicate.
        const fd = this.takeFd(a, "the seccomp listener", Cmd.LISTENER_TAKEN);
        if (fd !== undefined && this.onListener) this.onListener(fd);
        else if (fd !== undefined) closeSync(fd);
        break;
      }
      case Msg.STAGE:
        // maxDisk: the staged writes live in a tmpfs of the launcher's mount namespace,
        // which ends with the sandbox; a duplicate of its root keeps them for the commit.
        this.stageFd = this.takeFd(a, "the copy-on-write stage", Cmd.STAGE_TAKEN);
        break;
      case Msg.VCLOCK:
        // timeStart: the command's virtual wall clock is CLOCK_MONOTONIC plus this offset.
        // a, b: the seconds' low and high halves (signed 64 bits), c: nanoseconds.
        this.clockOffsetNs = BigInt.asIntN(64, (BigInt(b >>> 0) << 32n) | BigInt(a >>> 0)) * 1_000_000_000n + BigInt(c);
        break;
      case Msg.HELD:
        this.onHeld?.(a);
        this.onHeld = undefined;
        break;
      case Msg.EXEC:
        // policyFn: process a stopped right after its exec, called by thread b. Without a
        // listener for it nobody approved it: it dies before its first instruction.
        if (this.onExec) this.onExec(a, b);
        else this.execVerdict(a, false);
        break;
      case Msg.FATAL:
        this.fatal = new SupervisorError(`sandbox launcher failed (${fatalName(a)}): ${errnoName(b)}`);
        this.settleStart(this.fatal);
        break;
    }
  }

  /** Duplicates descriptor `fd` of the launcher and tells it so with `taken` (it may exit
   * once nothing it handed over is still to be taken); a failure ends the sandbox. */
  private takeFd(fd: number, what: string, taken: typeof Cmd.LISTENER_TAKEN | typeof Cmd.STAGE_TAKEN): number | undefined {
    const dup = native().pidfdGetfd(this.pidfd, fd);
    if (dup < 0) {
      this.fatal = new SupervisorError(`cannot take ${what} from the launcher: pidfd_getfd: ${errnoName(-dup)}`);
      this.settleStart(this.fatal);
      this.kill();
      return undefined;
    }
    this.writeControl(taken);
    return dup;
  }

  private stepError(index: number, errno: number, opAndSub: number): ConfinementError {
    if (index === -2) {
      // The launcher's signal-scope layer, added before any step of the plan.
      const describe = "landlock_restrict_self(signal scope of the launcher)";
      return new ConfinementError(`${describe}: ${errnoName(errno)}`, { step: describe, errno: errnoName(errno), errnoNumber: errno });
    }
    const step = this.steps[index];
    const sub = opAndSub >> 8;
    const name = errnoName(errno);
    let describe = step?.describe ?? `step ${index}`;
    if (sub === SubCall.OPEN && step?.openDescribe) describe = step.openDescribe;
    if (sub === SubCall.MALFORMED) describe = `${describe} [malformed plan step]`;
    const op = (opAndSub & 0xff) as StepOp;
    // The kernel view's constructed root has no path outside the grants: an exec of a file
    // that exists on the host outside them is ENOENT there, where Landlock says EACCES.
    // Either way the host-side explanation names what to grant, and the error is marked
    // not granted (the CLI's 126, not 127's "not found"); the errno stays the kernel's.
    // In either view an ENOENT of a program that exists (it was resolved before the start)
    // can also be its #! interpreter or dynamic loader missing on the host: said so, not
    // "command not found".
    const explained = op === Step.EXEC && (name === "EACCES" || name === "ENOENT") ? this.explainExec?.() : undefined;
    const notGranted = name === "ENOENT" && explained?.kind === "ungranted" && this.kernelView;
    const hint = notGranted ? `not granted, so absent from the kernel view's root: ${explained!.why}` : (explained?.why ?? stepHint(op, name, sub));
    return new ConfinementError(`${describe}: ${name}${hint ? ` (${hint})` : ""}`, {
      step: describe,
      errno: name,
      errnoNumber: errno,
      ...(notGranted ? { notGranted: true } : {}),
    });
  }

  /**
   * Where the launcher traces (timeStart, policyFn): every thread of the sandbox stopped by
   * its tracer (SL_CMD_HOLD: a ptrace interrupt each, new threads and processes kept at
   * their first stop). `interrupted` runs once the interrupts are sent (a call the
   * supervisor holds must be answered then, or its thread cannot stop), and the function
   * it returns once they are all stopped or before any release (no call may be answered
   * so after that: a thread let go has no interrupt left to stop at). Resolves once all
   * are stopped with the release, which lets them go as they were; rejects (after
   * releasing) when the launcher cannot hold them or one does not stop within timeoutMs.
   */
  async holdThreads(interrupted: () => () => void, timeoutMs: number): Promise<() => Promise<void>> {
    let timer: NodeJS.Timeout | undefined;
    const allStopped = new Promise<number>((resolve, reject) => {
      this.onHeld = resolve;
      timer = setTimeout(() => reject(new SupervisorError(`a thread of the sandbox did not stop within ${timeoutMs} ms (an uninterruptible wait)`)), timeoutMs);
    });
    allStopped.catch(() => undefined);
    const release = async (): Promise<void> => {
      this.onHeld = undefined;
      clearTimeout(timer);
      await this.command(Cmd.RELEASE);
    };
    try {
      await this.command(Cmd.HOLD);
    } catch (e) {
      this.onHeld = undefined;
      clearTimeout(timer);
      throw e;
    }
    let ended: (() => void) | undefined;
    try {
      ended = interrupted();
      await allStopped;
    } catch (e) {
      ended?.();
      await release().catch(() => undefined);
      throw e;
    }
    ended();
    clearTimeout(timer);
    return release;
  }

  /** Sends stop or continue and resolves with the number of processes affected. */
  command(cmd: typeof Cmd.STOP | typeof Cmd.CONT | typeof Cmd.COUNT | typeof Cmd.CPU | typeof Cmd.HOLD | typeof Cmd.RELEASE): Promise<number> {
    return new Promise((resolve, reject) => {
      if (!this.writeControl(cmd)) {
        reject(new SupervisorError("the sandbox launcher is gone"));
        return;
      }
      this.pending.push({ cmd, resolve, reject });
      this.applyRef();
    });
  }

  /** Whether watching this launcher keeps Node's event loop alive (it does by default). */
  setRef(ref: boolean): void {
    this.refWanted = ref;
    this.applyRef();
  }

  /** Unreferenced or not, a command awaiting the launcher's answer keeps the loop alive. */
  private applyRef(): void {
    const ref = this.refWanted || this.pending.length > 0;
    if (ref === this.refApplied) return;
    this.refApplied = ref;
    for (const h of this.openHandles) native().pollRef(h, ref);
  }

  /**
   * Sends signal `sig` (1-64) to every process of the sandbox and resolves once sent. From
   * then on the root's exit no longer ends the sandbox at once: the others may finish
   * their cleanup until they have all exited or kill() is called (graceful stop).
   */
  signal(sig: number): Promise<number> {
    return new Promise((resolve, reject) => {
      // One write of two bytes: the command and the number (atomic on a pipe).
      if (!this.writeControl(Cmd.SIGNAL + String.fromCharCode(sig))) {
        reject(new SupervisorError("the sandbox launcher is gone"));
        return;
      }
      this.pending.push({ cmd: Cmd.SIGNAL, resolve, reject });
      this.applyRef();
    });
  }

  /** Asks the launcher to SIGKILL every process of the sandbox; `exited` follows. */
  kill(): void {
    this.writeControl(Cmd.KILL);
  }

  /** policyFn: runs (true) or kills (false) the program stopped at its exec. */
  execVerdict(pid: number, go: boolean): void {
    const b = Buffer.alloc(6);
    b.write(Cmd.EXEC, 0, "latin1");
    b.writeInt32LE(pid, 1);
    b[5] = go ? 1 : 0;
    if (this.controlFd < 0) return;
    try {
      writeSync(this.controlFd, b);
    } catch {
      // The launcher is gone, and the sandbox with it.
    }
  }

  /** Whether `cmd` went to the launcher, or will be answered when it ends (finish()): a
   * launcher that has just exited (EPIPE) may yet report its command's exit, which decides
   * how the command is refused. */
  private writeControl(cmd: string): boolean {
    if (this.controlFd < 0) return false;
    try {
      writeSync(this.controlFd, cmd);
      return true;
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === "EPIPE";
    }
  }

  private closeControl(): void {
    if (this.controlFd >= 0) closeSync(this.controlFd);
    this.controlFd = -1;
  }
}

/** A started launcher's pid, pidfd and our ends of its status and control pipes. */
export interface Launched {
  pid: number;
  pidfd: number;
  statusR: number;
  controlW: number;
}

function spawnFresh(planFd: number, stdio: readonly [number, number, number]): Launched {
  const n = native();
  const [statusR, statusW] = n.pipe();
  const [controlR, controlW] = n.pipe();
  try {
    const layout = [stdio[0], stdio[1], stdio[2], planFd, statusW, controlR];
    if (layout.length !== LauncherFd.FIRST_FREE) throw new Error("launcher fd layout mismatch");
    const [pid, pidfd] = n.spawnLauncher(launcherPath(), layout);
    return { pid, pidfd, statusR, controlW };
  } catch (e) {
    for (const fd of [statusR, controlW]) closeSync(fd);
    throw new SupervisorError(`cannot start the sandbox launcher ${launcherPath()}: ${(e as Error).message}`, { cause: e });
  } finally {
    for (const fd of [statusW, controlR]) closeSync(fd);
  }
}

function fatalName(step: number): string {
  const names: Record<number, string> = {
    [Fatal.PLAN_READ]: "reading the plan",
    [Fatal.PLAN_FORMAT]: "plan format",
    [Fatal.SIGNALS]: "signal setup",
    [Fatal.FORK]: "fork",
    [Fatal.SUBREAPER]: "prctl(PR_SET_CHILD_SUBREAPER)",
    [Fatal.STANDBY]: "a standby launcher given a plan that needs work before its fork",
  };
  return names[step] ?? `step ${step}`;
}

/** A short explanation for the failures users meet most. */
function stepHint(op: StepOp, errno: string, sub: number): string | undefined {
  if (op === Step.EXEC) {
    if (errno === "ENOENT") return "command not found";
    if (errno === "EACCES") return "not executable, or not under fsReadable/fsWritable";
  }
  if (op === Step.LANDLOCK_PATH && sub === SubCall.OPEN && errno === "ENOENT") return "the path disappeared after the policy was checked";
  if (op === Step.CHDIR && errno === "ENOENT") return "the working directory does not exist";
  // Only one filter of a task's chain may have a listener: this process already runs under
  // a seccomp supervisor, i.e. inside a sandbox (sandlock's or another tool's).
  if (op === Step.SECCOMP && errno === "EBUSY") {
    return "this process already runs under a seccomp supervisor, e.g. inside another sandbox, and the kernel allows one per process: run the inner sandbox with --no-supervisor (library: supervisor: false)";
  }
  return undefined;
}
