// A launcher started ahead of the next kernel-view sandbox (native/launcher/standby.c).
//
// Most of a kernel-view start does not depend on the policy: the launcher's exec, the clone
// into six new namespaces (the network namespace alone about 0.35 ms on these VMs) and the
// id maps. With standbys on (`Sandbox.setStandby(true)`; the MCP server, packages/mcp, turns
// them on), once a kernel-view sandbox of this process has ended, one more launcher is
// started in standby: it does all of that and waits, its child blocked in the new
// namespaces. The next kernel-view start that fits takes it over by sending the plan's
// memfd and the command's stdio on a socket; from then on it is that sandbox's launcher,
// exactly as if it had been started with the plan. A start that finds none (the first, or
// two at once) starts its own launcher as before.
//
// Off by default: the standby is two idle processes of this user (the launcher and its
// child) that nobody asked for, which a program checking that its sandboxes left nothing
// behind would find. At most one exists per Node process. It holds no event-loop handle (it
// never keeps the process alive) and it ends with the process: EOF on its control pipe ends
// it and kills its child. It is dropped, and a fresh launcher started, when what the
// launcher inherited from this process changed since (identity()), or this process's mount
// table did (mountsChanged(): the child's mount namespace is a copy from its clone). Only
// the main thread makes one.

import { closeSync, openSync } from "node:fs";
import { getPriority } from "node:os";
import { createRequire } from "node:module";
import { Step } from "../plan/protocol.js";
import { nsViewPayload, stagingDir } from "../plan/kernel-view.js";
import type { PlanStep } from "../plan/plan.js";
import type { Launched } from "./launcher.js";
import { launcherPath, native } from "./native.js";

/** A launcher waiting in standby: what LauncherProcess needs to adopt it. */
export interface Standby {
  readonly pid: number;
  readonly pidfd: number;
  /** Ours of the socket pair: the take-over sends the plan's memfd and stdio on it. */
  readonly sock: number;
  readonly statusR: number;
  readonly controlW: number;
  /** What the launcher inherited from this process (identity()). */
  readonly identity: string;
  /** The start of the NS_VIEW payload its child entered ahead with (ids and staging
   * directory): a plan's must begin with the same bytes. */
  readonly enteredWith: Buffer;
  /** /proc/self/mountinfo, opened before the launcher: the kernel reports POLLERR on it
   * once this process's mount table changed (a mount, an unmount, a remount); -1 once
   * closed at the take-over. */
  mounts: number;
}

let enabled = false;
let waiting: Standby | undefined;

/** The bench's cold rows: starts that neither take nor make a standby, leaving the waiting
 * one alone (bench/spawn.ts). */
let bypassed = false;

/** For the bench: while on, starts neither take nor prepare a standby (the waiting one
 * stays). */
export function bypassStandby(on: boolean): void {
  bypassed = on;
}

/** Turns standby launchers on or off for this process (off by default); off drops the
 * waiting one. */
export function setStandby(on: boolean): void {
  enabled = on;
  if (!on && waiting !== undefined) {
    drop(waiting);
    waiting = undefined;
  }
}

/** The steps a launcher runs itself before its fork, or that make it a restore: a plan
 * holding one never uses a standby (standby.c's sl_standby_fits says the same, and
 * protocol.test holds the two lists and main.c's pre-fork steps equal). */
export const BEFORE_FORK: ReadonlySet<number> = new Set([Step.COW, Step.DENY, Step.CHROOT, Step.USERNS, Step.CPU_COUNTER, Step.RESTORE]);

/** Whether a plan can be applied by a standby launcher: the kernel view, nothing done by
 * the launcher before its fork. */
export function fitsStandby(steps: readonly PlanStep[]): boolean {
  return nsView(steps) !== undefined;
}

/** The plan's NS_VIEW payload when it fits a standby, else undefined. */
function nsView(steps: readonly PlanStep[]): Buffer | undefined {
  let view: Buffer | undefined;
  for (const s of steps) {
    if (BEFORE_FORK.has(s.op)) return undefined;
    if (s.op === Step.NS_VIEW) view = s.payload;
  }
  return view;
}

/** The part of an NS_VIEW payload a standby's child acts on ahead: the 16-byte head (the
 * caller's uid and gid) and the staging directory with its NUL (kernel-view.ts). */
function enteredPart(payload: Buffer): Buffer {
  const nul = payload.indexOf(0, 16);
  return payload.subarray(0, nul < 0 ? payload.length : nul + 1);
}

/** The /proc/self/status lines of what a launcher inherits: ids, groups, capabilities,
 * no_new_privs, the seccomp mode, the umask, the CPUs and memory nodes it may use. */
const INHERITED_STATUS = /^(Umask|Uid|Gid|Groups|Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp|Seccomp_filters|Cpus_allowed_list|Mems_allowed_list):/;

/** What a launcher inherits from this process at its start and the plan does not set, as
 * one string: the status lines above, the resource limits, the cgroup, the OOM score
 * adjustment, the timer slack, the host and domain names, the namespaces, the scheduling
 * policy and the I/O priority (native selfState: one call, about 50 us here), the working
 * directory and the nice value. Node can change some of these itself (chdir, umask,
 * setuid, setPriority, a write to oom_score_adj or to a cgroup's cgroup.procs), other
 * processes or a native addon the rest; a standby started before such a change is dropped. */
function identity(): string {
  const [status = "", ...rest] = native().selfState().split("\n\x1e\n");
  const kept = status.split("\n").filter((l) => INHERITED_STATUS.test(l));
  return [...kept, ...rest, process.cwd(), String(getPriority())].join("|");
}

const POLLERR = 0x8;

/** Whether this process's mount table changed since the standby's mountinfo was opened. */
function mountsChanged(s: Standby): boolean {
  const revents = native().pollNow(s.mounts);
  return revents < 0 || (revents & POLLERR) !== 0;
}

let onMainThread: boolean | undefined;

/** Whether this is Node's main thread. node:worker_threads is loaded only here, once a
 * kernel-view start asks for a standby: it brings the stream modules with it, which the
 * CLI's start does without (cli-cache.test's module list). */
function mainThread(): boolean {
  onMainThread ??= (createRequire(import.meta.url)("node:worker_threads") as typeof import("node:worker_threads")).isMainThread;
  return onMainThread;
}

const TAKE_OVER = Buffer.from("P");
const POLLIN = 1;

/** Hands the plan and stdio to the waiting standby launcher when one fits, and returns it as
 * the sandbox's launcher; undefined when the caller must start its own. */
export function takeOverStandby(steps: readonly PlanStep[], planFd: number, stdio: readonly [number, number, number]): Launched | undefined {
  const s = takeStandby(steps);
  if (s === undefined) return undefined;
  // Gone already (its pidfd readable: it exits when its child dies), or since (EPIPE on the
  // send): reaped, and a launcher of the caller's own started instead. One byte carries the
  // four (the launcher's standby_wait takes exactly these).
  const exited = (native().pollNow(s.pidfd) & POLLIN) !== 0;
  if (exited || native().sendFds(s.sock, TAKE_OVER, [planFd, stdio[0], stdio[1], stdio[2]]) < 0) {
    drop(s);
    return undefined;
  }
  closeSync(s.sock);
  return { pid: s.pid, pidfd: s.pidfd, statusR: s.statusR, controlW: s.controlW };
}

/** Takes the waiting standby for a plan that fits, or returns undefined (the caller starts
 * a launcher of its own). One whose inheritance no longer matches this process is dropped. */
function takeStandby(steps: readonly PlanStep[]): Standby | undefined {
  const s = waiting;
  const view = nsView(steps);
  if (s === undefined || bypassed || view === undefined) return undefined;
  waiting = undefined;
  // Its child built the namespaces' first part with these ids and staging directory, and
  // its mount namespace is a copy of this process's from when it was made: the grants are
  // bound from that copy, so a mount, unmount or remount since (a hidden directory, a grant
  // made read-only, a volume taken away) would not be seen by the sandbox (found by an
  // attack: a hidden file read, a write through a read-only remount).
  if (!enteredPart(view).equals(s.enteredWith) || mountsChanged(s) || s.identity !== identity()) {
    drop(s);
    return undefined;
  }
  closeSync(s.mounts);
  s.mounts = -1;
  return s;
}

/** Starts a standby if none waits. Called when a kernel-view sandbox has ended, before its
 * result is delivered (about 0.3 ms of this thread). Made earlier, beside the sandbox, it
 * took the CPU that sandbox's run and exit needed; made after the event loop's turn, a
 * loop's next start came first and found none (docs/kernel-view.md has the figures). A
 * failure to start one is not an error: the next start starts its own launcher. */
export function prepareStandby(): void {
  // Only the main thread: a worker's descriptors outlive the worker, and so would its
  // standby, until the process ends.
  if (!enabled || bypassed || waiting !== undefined || !mainThread()) return;
  waiting = start();
}

function start(): Standby | undefined {
  const n = native();
  const opened: number[] = [];
  const close = (fds: number[]): void => {
    for (const fd of fds) closeSync(fd);
  };
  try {
    const [sock, theirs] = n.seqpacketPair();
    opened.push(sock, theirs);
    const [statusR, statusW] = n.pipe();
    opened.push(statusR, statusW);
    const [controlR, controlW] = n.pipe();
    opened.push(controlR, controlW);
    const devNull = openSync("/dev/null", "r+");
    opened.push(devNull);
    const mounts = openSync("/proc/self/mountinfo", "r");
    opened.push(mounts);
    const id = identity();
    const enteredWith = enteredPart(nsViewPayload([], stagingDir()));
    const [pid, pidfd] = n.spawnLauncher(launcherPath(), [devNull, devNull, devNull, theirs, statusW, controlR]);
    close([theirs, statusW, controlR, devNull]);
    // Its first message, read before its clone: what its child enters the namespaces with.
    const s = { pid, pidfd, sock, statusR, controlW, identity: id, enteredWith, mounts };
    if (n.sendFds(sock, enteredWith, []) < 0) {
      drop(s);
      return undefined;
    }
    return s;
  } catch {
    close(opened);
    return undefined;
  }
}

/** Ends a standby: EOF on its control pipe and socket makes it kill its child and exit;
 * it is reaped through its pidfd (a handle that keeps the loop alive only until then). */
function drop(s: Standby): void {
  const n = native();
  for (const fd of [s.sock, s.controlW, s.statusR, s.mounts]) if (fd >= 0) closeSync(fd);
  const handle: object = n.pollFd(s.pidfd, () => {
    if (n.waitPidfd(s.pidfd) === null) return;
    n.pollClose(handle);
    closeSync(s.pidfd);
  });
}
