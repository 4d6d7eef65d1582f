// What a restore checks before anything runs: the same host (architecture, kernel), and
// per process that every part of the image can be rebuilt here: no thread or child it
// cannot restore yet, no caught signal (handlers are not in the format), no shared or
// deleted mapping, no mapped file or open file that changed, no descriptor that is a
// socket, a pipe or another kernel object, no file the new policy does not grant.

import { statSync } from "node:fs";
import { release } from "node:os";
import { CheckpointError } from "../errors.js";
import { printable } from "../printable.js";
import type { Policy } from "../policy/policy.js";
import type { Checkpoint } from "./checkpoint.js";
import { discardedMask } from "./discarded.js";
import { duplicateIds, type FdEntry, type FileStamp, type MapEntry, type ProcessImage, type ThreadImage } from "./image.js";
import { hostPageSize } from "./procfs.js";
import { within } from "./restore-policy.js";
import { schedRefusal } from "./sched.js";
import { timerRefusal } from "./timers.js";
import { Turns } from "./turns.js";

/** Special mappings the kernel makes in every process: moved (vDSO, vvar) or left alone. */
export const KERNEL_MAPS = new Set(["[vvar]", "[vvar_vclock]", "[vdso]", "[vsyscall]", "[uprobes]"]);
const O_ACCMODE = 3;
const O_PATH = 0o10000000;
/** SIGSTOP, SIGTSTP, SIGTTIN and SIGTTOU (19-22) as a pending-signal mask (bit s - 1). */
const STOP_SIGNALS = 0xfn << 18n;

const refuse = (message: string, details: { pid?: number; fd?: number } = {}): never => {
  throw new CheckpointError("CHECKPOINT_REFUSED", `restore: ${message}`, details);
};

/** The same architecture and kernel as the capture's: register layouts, the vDSO's code
 * and the kernel's restart conventions all depend on them. */
export function checkHost(cp: Checkpoint): void {
  if (cp.arch !== process.arch) refuse(`the checkpoint is of architecture ${cp.arch}, this host is ${process.arch}`);
  if (cp.kernel !== release()) refuse(`the checkpoint was taken on kernel ${cp.kernel}, this host runs ${release()}; a restore needs the same kernel`);
  if (process.arch !== "x64") refuse(`restoring on ${process.arch} is not supported (x64 only)`);
}

/** Why the file at path is not the one stamped, or undefined when it is. */
function changed(path: string, stamp: FileStamp): string | undefined {
  let st;
  try {
    st = statSync(path, { bigint: true });
  } catch (e) {
    return `it cannot be found now (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`;
  }
  if (Number(st.dev) !== stamp.dev || Number(st.ino) !== stamp.ino) return "it was replaced by another file";
  if (Number(st.size) !== stamp.size) return `its size changed from ${stamp.size} to ${st.size} bytes`;
  if (st.mtimeNs.toString() !== stamp.mtimeNs) return "it was modified";
  return undefined;
}

function checkMap(p: ProcessImage, m: MapEntry, looked: Map<string, string | undefined>): void {
  if (KERNEL_MAPS.has(m.path)) return;
  // The path is a file name the sandbox may have chosen (the kernel escapes only a line
  // break in /proc/PID/maps): printable, as the refusal reaches a terminal.
  const where = `process ${p.pid}: the mapping 0x${m.start.toString(16)}-0x${m.end.toString(16)} (${m.path === "" ? "anonymous" : printable(m.path)})`;
  // A read-only shared mapping of an unchanged file (glibc's gconv cache) holds the file's
  // bytes: mapped again. A writable or anonymous one holds state the checkpoint lacks.
  if (m.perms[3] === "s" && (m.perms[1] === "w" || m.inode === 0)) refuse(`${where} is shared and ${m.inode === 0 ? "anonymous" : "writable"}; its contents are not in the checkpoint and cannot be restored`, { pid: p.pid });
  if (m.path.endsWith(" (deleted)")) refuse(`${where} is of a deleted file`, { pid: p.pid });
  if (m.inode === 0) return;
  if (m.file === undefined) refuse(`${where}: the file was replaced before the checkpoint (no identity recorded)`, { pid: p.pid });
  // One look per file and identity: a process may map one file 65,530 times.
  const key = `${m.path}\0${m.file!.dev}:${m.file!.ino}:${m.file!.size}:${m.file!.mtimeNs}`;
  if (!looked.has(key)) looked.set(key, changed(m.path, m.file!));
  const why = looked.get(key);
  if (why !== undefined) refuse(`${where}: the file changed since the checkpoint: ${why}`, { pid: p.pid });
}

/** Kinds of descriptor targets that are not paths. */
function kindOf(target: string): string | undefined {
  if (target.startsWith("socket:")) return `a socket (${target}); sockets cannot be restored`;
  if (target.startsWith("pipe:")) return `a pipe (${target}); its buffered data is not in the checkpoint`;
  if (target.startsWith("anon_inode:")) return `a kernel object (${target}) whose state is not in the checkpoint`;
  if (!target.startsWith("/")) return `${target}, which is not a file`;
  if (target.endsWith(" (deleted)")) return `a deleted file (${target})`;
  return undefined;
}

function checkFd(p: ProcessImage, f: FdEntry, policy: Policy): void {
  // 0-2 become the new sandbox's stdin, stdout and stderr, whatever they were.
  if (f.fd <= 2) return;
  const where = `process ${p.pid} fd ${f.fd}`;
  const kind = kindOf(f.target);
  if (kind !== undefined) refuse(`${where} is ${kind}`, { pid: p.pid, fd: f.fd });
  if (f.file === undefined) refuse(`${where} (${f.target}): no file identity recorded`, { pid: p.pid, fd: f.fd });
  const why = changed(f.target, f.file!);
  if (why !== undefined) refuse(`${where}: ${f.target} changed since the checkpoint: ${why}`, { pid: p.pid, fd: f.fd });
  const st = statSync(f.target);
  if (!st.isFile() && !st.isDirectory() && !st.isCharacterDevice()) refuse(`${where}: ${f.target} is not a regular file, directory or character device`, { pid: p.pid, fd: f.fd });
  // The new sandbox opens it through its own grants (the open is its own, confined); this
  // names the refusal before anything runs when the policy plainly lacks the grant.
  const writes = (f.flags & O_PATH) === 0 && (f.flags & O_ACCMODE) !== 0;
  const grants = writes ? policy.fsWritable : [...policy.fsReadable, ...policy.fsWritable];
  if (st.isFile() && !grants.some((d) => within(f.target, d))) {
    refuse(`${where}: ${f.target} is not ${writes ? "writable" : "readable"} under the new policy`, { pid: p.pid, fd: f.fd });
  }
}

/** Shared open file descriptions: each reference names a lower fd of the same process or
 * an fd of the parent; without a kcmp comparison, two candidates (same target) are refused
 * rather than silently split into two offsets. */
function checkSharing(p: ProcessImage, byPid: ReadonlyMap<number, ProcessImage>, fdsOf: (q: ProcessImage) => ReadonlySet<number>): void {
  const parent = byPid.get(p.ppid);
  for (const f of p.fds) {
    if (f.fd <= 2 || f.sharedWith === undefined) continue;
    const s = f.sharedWith;
    const owner = s.pid === p.pid ? p : s.pid === parent?.pid ? parent : undefined;
    if (owner === undefined || !fdsOf(owner).has(s.fd) || (owner === p && s.fd >= f.fd)) {
      refuse(`process ${p.pid} fd ${f.fd} is recorded as shared with process ${s.pid} fd ${s.fd}, which is neither a lower descriptor of it nor one of its parent`, { pid: p.pid, fd: f.fd });
    }
  }
  if (p.fdsCompared === true) return;
  const seen = new Map((parent?.fds ?? []).filter((f) => f.fd > 2).map((f) => [f.target, f.fd]));
  for (const f of p.fds) {
    if (f.fd <= 2) continue;
    if (seen.has(f.target)) refuse(`process ${p.pid} fd ${f.fd} (${f.target}) may share its open file with fd ${seen.get(f.target)}, and the checkpoint could not compare them (kcmp); they would come back with two offsets`, { pid: p.pid, fd: f.fd });
    seen.set(f.target, f.fd);
  }
}

/** Everything of the image a restore rebuilds, checked; rejects with CHECKPOINT_REFUSED.
 * The files of the mappings and descriptors are looked at with turns of the event loop: a
 * process may map 65,530 files of its own. */
export async function checkImage(cp: Checkpoint, policy: Policy): Promise<void> {
  if (cp.processes.length === 0) refuse("the checkpoint holds no process");
  const duplicate = duplicateIds(cp.processes);
  if (duplicate !== undefined) refuse(duplicate);
  for (const p of cp.processes) {
    if (p.pageSize !== hostPageSize()) refuse(`process ${p.pid} was captured with pages of ${p.pageSize} bytes; this host's are ${hostPageSize()}`, { pid: p.pid });
    for (const a of p.sigActions ?? []) if (!(a.sig >= 1 && a.sig <= 64)) refuse(`process ${p.pid} has a handler recorded for signal ${a.sig}, which does not exist`, { pid: p.pid });
    for (const t of p.threads) {
      if (!(t.pendingSignal >= 0 && t.pendingSignal <= 64)) refuse(`process ${p.pid} thread ${t.tid} was stopped with signal ${t.pendingSignal}, which does not exist`, { pid: p.pid });
    }
  }
  // A tree: the first process is the root, every other one's parent is in the image.
  const pids = new Set(cp.processes.map((p) => p.pid));
  for (const p of cp.processes.slice(1)) {
    if (!pids.has(p.ppid)) refuse(`process ${p.pid}'s parent ${p.ppid} is not in the checkpoint; only one tree of processes can be restored`, { pid: p.pid });
  }
  const looked = new Map<string, string | undefined>();
  const turns = new Turns();
  // Looked up by pid and fd number, not by scanning: a crafted image's 100,000 processes or
  // descriptors made the scans quadratic (hours of a blocked event loop).
  const byPid = new Map(cp.processes.map((p) => [p.pid, p]));
  const fdSets = new Map<ProcessImage, Set<number>>();
  const fdsOf = (q: ProcessImage): ReadonlySet<number> => {
    let set = fdSets.get(q);
    if (set === undefined) fdSets.set(q, (set = new Set(q.fds.map((f) => f.fd))));
    return set;
  };
  for (const p of cp.processes) {
    const caught = BigInt(`0x${p.sigCaught || "0"}`);
    const recorded = (p.sigActions ?? []).reduce((m, a) => m | (1n << BigInt(a.sig - 1)), 0n);
    if ((caught & ~recorded) !== 0n) {
      refuse(`process ${p.pid} has signal handlers (SigCgt ${p.sigCaught}) the checkpoint could not record`, { pid: p.pid });
    }
    // Signals queued but not delivered (blocked, or not yet taken): the restored process is
    // a new one whose queues start empty, and re-raising them would lose their siginfo. The
    // one a thread was stopped with at the freeze is delivered again (restore-run.ts).
    // Stop signals queued in a process of a paused sandbox are the exception: the SIGCONT
    // that resumes it discards them unread (the kernel empties every queue of SIGSTOP,
    // SIGTSTP, SIGTTIN and SIGTTOU when SIGCONT is sent, blocked or not), and the restore
    // is that resumption, so the restored process starts as the resumed one would.
    // And a signal the process ignores, or does not catch and ignores by default (SIGCHLD),
    // not blocked, queued only because the capture traced it: the kernel discards those for
    // a process that is not traced (discarded.ts; a blocked one stays
    // queued either way, its handler may change before it is unblocked). A process's
    // signal is judged by its main thread's mask, as the kernel does for kill().
    const ignored = p.threads.every((t) => t.stop === "group-stop") ? STOP_SIGNALS : 0n;
    const discarded = discardedMask(BigInt(`0x${p.sigIgnored || "0"}`), BigInt(`0x${p.sigCaught || "0"}`));
    const unblocked = (t: ThreadImage | undefined): bigint => discarded & ~BigInt(`0x${t?.sigBlocked || "0"}`);
    if ((BigInt(`0x${p.sigSharedPending || "0"}`) & ~(ignored | unblocked(p.threads[0]))) !== 0n) {
      refuse(`process ${p.pid} has signals pending for the process (ShdPnd ${p.sigSharedPending}); pending signals cannot be restored`, { pid: p.pid });
    }
    for (const t of p.threads) {
      if ((BigInt(`0x${t.sigPending || "0"}`) & ~(ignored | unblocked(t))) !== 0n) refuse(`process ${p.pid} thread ${t.tid} has signals pending (SigPnd ${t.sigPending}); pending signals cannot be restored`, { pid: p.pid });
    }
    const timers = timerRefusal(p);
    if (timers !== undefined) refuse(timers, { pid: p.pid });
    for (const t of p.threads) {
      // Without a record a registration would be silently dropped (an older sandlock, or a
      // kernel without PTRACE_GET_RSEQ_CONFIGURATION).
      if (t.rseq === undefined) refuse(`process ${p.pid} thread ${t.tid}: the checkpoint has no record of its rseq registration`, { pid: p.pid });
      if (t.robustList === undefined) refuse(`process ${p.pid} thread ${t.tid}: the checkpoint has no record of its robust-futex list`, { pid: p.pid });
      const sched = schedRefusal(p, t);
      if (sched !== undefined) refuse(sched, { pid: p.pid });
    }
    checkSharing(p, byPid, fdsOf);
    if (p.mm === undefined) refuse(`process ${p.pid}: the checkpoint has no memory layout (taken by an older sandlock)`, { pid: p.pid });
    for (const m of p.maps) {
      checkMap(p, m, looked);
      await turns.maybe();
    }
    for (const f of p.fds) {
      checkFd(p, f, policy);
      await turns.maybe();
    }
  }
}
