// The private temporary directory of one run (policy privateTmp): made before the launch,
// mode 0700, granted writable, TMPDIR and HOME pointed into it; removed once every
// process of the sandbox is gone.

import { closeSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { removeTreeAt } from "../cow/beneath.js";
import { AT_FDCWD, O } from "../supervise/paths.js";
import { native } from "./native.js";
import { readProcText } from "../kernel/proc-text.js";
import { statFields } from "../supervise/members.js";

export interface PrivateTmp {
  /** The directory granted writable (holds tmp/ and home/). */
  readonly dir: string;
  /** Variables the command gets: TMPDIR and HOME. */
  readonly env: Readonly<Record<string, string>>;
  remove(): void;
}

/**
 * Variables that would send a program back to the caller's own home, where it cannot
 * write: without them, programs use $HOME/.config, $HOME/.cache... inside the private HOME.
 */
export const HOME_VARIABLES = ["XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"];

/**
 * Who made a directory: `NS.PID.START`, the pid namespace's inode, the pid and its start
 * time (clock ticks since boot, field 22 of /proc/PID/stat), or undefined without /proc.
 * Put in the directory's name, it lets a later run tell a directory whose maker is gone
 * (killed before it could remove it: SIGKILL, the OOM killer) from one in use.
 */
function ownerTag(): string | undefined {
  try {
    const ns = /^pid:\[(\d+)\]$/.exec(readlinkSync("/proc/self/ns/pid"))?.[1];
    const start = startOf("self");
    if (ns === undefined || start === undefined || !/^\d+$/.test(start)) return undefined;
    return `${ns}.${process.pid}.${start}`;
  } catch {
    return undefined;
  }
}

/** A process's start time (field 22 of /proc/PID/stat), as text. */
const startOf = (pid: number | "self"): string | undefined => statFields(readProcText(`/proc/${pid}/stat`))[19];

/** Whether process `pid` of this pid namespace is the one that started at `start`: a pid
 * that names no process, or one started at another time (reused), is not; anything that
 * cannot be read counts as running (its directory stays). */
function running(pid: number, start: string): boolean {
  try {
    return startOf(pid) === start;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== "ENOENT";
  }
}

let selfTag: string | undefined | null = null;
let swept = false;

const PREFIX = "sandlock-tmp-";
/** At most this many candidates looked at, and directories removed, by one sweep; the rest
 * are left to the next process's. */
const SWEEP_EXAMINED = 64;
const SWEEP_REMOVED = 8;
const TAGGED = /^sandlock-tmp-(\d+)\.(\d+)\.(\d+)-[A-Za-z0-9]{6}$/;

/**
 * Removes the private directories of runs whose process is gone, once per process, at its
 * first removal of its own: a process killed without a chance to clean up (SIGKILL) left
 * its directory, and whatever the sandbox wrote there, in the temporary directory.
 * Only directories this user owns, named by a process of this pid namespace that no longer
 * runs (no process of that pid with that start time: a reused pid is another process, so
 * the directory is removed).
 * A process of this user that may write the temporary directory (a sandbox granted /tmp)
 * can make such a name, and what it puts beneath it is removed as removeBeneath removes:
 * nothing a link names. Errors are ignored: a leftover is left for a later run.
 */
export function sweepPrivateTmps(dir = tmpdir()): number {
  const mine = selfTag ?? ownerTag();
  const ns = mine?.split(".")[0];
  if (ns === undefined) return 0;
  const uid = process.geteuid?.();
  let removed = 0;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return 0;
  }
  // Bounded: the sweep runs on a run's way out (its result waits), and a process that may
  // write the temporary directory can make names of this form by the thousand.
  let examined = 0;
  for (const name of names) {
    const m = TAGGED.exec(name);
    if (m === null || m[1] !== ns) continue;
    if (++examined > SWEEP_EXAMINED || removed >= SWEEP_REMOVED) break;
    const path = join(dir, name);
    try {
      const st = lstatSync(path);
      if (!st.isDirectory() || st.uid !== uid) continue;
      if (running(Number(m[2]), m[3]!)) continue;
      removeTreeAt(path);
      removed++;
    } catch {
      // gone meanwhile, or not removable: left for a later run
    }
  }
  return removed;
}

/**
 * The planning template: a directory made as a private directory is (same parent, same
 * form of name, tmp/ and home/ inside, mode 0700), once per process and never granted to a
 * sandbox, removed at exit. A run's features are planned once for a policy granting it and
 * then given the run's own directory in its place (plan/private-tmp-plan.ts): the private
 * directory's path, new at every run, no longer makes every run with privateTmp plan
 * afresh. Undefined when it cannot be made, or when it is no longer the directory this
 * process made (a process that may write the temporary directory replaced or changed it):
 * runs then plan with their own directory, as before.
 */
export function planTemplate(): string | undefined {
  if (template === null) {
    try {
      const t = makePrivateTmp(false);
      process.once("exit", () => t.remove());
      template = { dir: t.dir, ino: lstatSync(t.dir, { bigint: true }).ino };
    } catch {
      template = undefined;
    }
  }
  if (template === undefined) return undefined;
  try {
    const st = lstatSync(template.dir, { bigint: true });
    if (st.isDirectory() && st.ino === template.ino && (Number(st.mode) & 0o777) === 0o700 && readdirSync(template.dir).sort().join("/") === "home/tmp") return template.dir;
  } catch {
    // gone
  }
  template = undefined;
  return undefined;
}

let template: { dir: string; ino: bigint } | undefined | null = null;

/** `sweep`: whether its removal also sweeps the directories of processes that are gone. */
export function makePrivateTmp(sweep = true): PrivateTmp {
  if (selfTag === null) selfTag = ownerTag();
  // mkdtemp creates the directory 0700 with a fresh random name: no other user can enter it
  // or have prepared it. The name says which process made it (sweepPrivateTmps).
  const dir = mkdtempSync(join(tmpdir(), selfTag === undefined ? PREFIX : `${PREFIX}${selfTag}-`));
  const tmp = join(dir, "tmp");
  const home = join(dir, "home");
  let removed = false;
  // Not rmSync: it lists and removes by path, and a process that may write the temporary
  // directory (another sandbox granted /tmp) could swap a directory beneath this one for a
  // link to the user's files between the two, which would then be removed.
  const remove = (): void => {
    if (removed) return;
    removed = true;
    try {
      removeTreeAt(dir);
    } catch (e) {
      // Not the run's failure: what is left is named, for the user to remove.
      process.emitWarning(`privateTmp: ${dir} could not be removed whole (${(e as Error).message}); what is left stays there`, { code: "SANDLOCK_PRIVATE_TMP" });
    }
    if (sweep && !swept) {
      swept = true;
      sweepPrivateTmps();
    }
  };
  try {
    // Made through a descriptor of the directory: by path, a process that may write the
    // temporary directory could have put a link in its place, and they were made there.
    const fd = native().openat2(AT_FDCWD, dir, O.PATH | O.DIRECTORY | O.NOFOLLOW | O.CLOEXEC, 0, 0);
    if (fd < 0) throw Object.assign(new Error(`privateTmp: cannot open ${dir} (errno ${-fd})`), { errno: -fd });
    try {
      mkdirSync(`/proc/self/fd/${fd}/tmp`, { mode: 0o700 });
      mkdirSync(`/proc/self/fd/${fd}/home`, { mode: 0o700 });
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    remove();
    throw e;
  }
  return { dir, env: { TMPDIR: tmp, HOME: home }, remove };
}
