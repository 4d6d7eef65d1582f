// Taking a checkpoint of a live sandbox: hold its forks, freeze every thread (freeze.ts),
// read each process's registers, maps, private memory, descriptors and identity, then
// thaw. Everything is read from /proc and ptrace as the sandbox's parent, no privilege.

import { closeSync, openSync, readdirSync, readFileSync, readlinkSync, readSync, statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { release as kernelRelease } from "node:os";
import { errnoName } from "../confine/errno.js";
import { native } from "../confine/native.js";
import { CheckpointError, SandboxError } from "../errors.js";
import type { PolicyJSON } from "../policy/types.js";
import { errnoCode } from "./errno.js";
import { whileFrozen, type StoppedThread } from "./freeze.js";
import { REGSET_NOTES, type CheckpointData, type FdEntry, type FileStamp, type MapEntry, type MmLayout, type MemorySegment, type ProcessImage, type RegisterSet, type ThreadImage } from "./image.js";
import { captureSigActions } from "./sigactions.js";
import { markSharedFds } from "./shared-fds.js";
import { captureSched } from "./sched.js";
import { captureTimers } from "./timers.js";
import { hostPageSize, parseMapsInTurns, parseStat, parseStatus, privatePageRuns } from "./procfs.js";
import { Turns } from "./turns.js";
import { readProcHead } from "../kernel/proc-text.js";

const ESRCH = 3;
/** Special mappings whose pages belong to the kernel: never captured (a restore gets its own). */
const KERNEL_MAPPINGS = new Set(["[vvar]", "[vvar_vclock]", "[vdso]", "[vsyscall]", "[uprobes]"]);
/** Pagemap entries read per call (8 bytes each: 512 KiB, 256 MiB of address space). */
const PAGEMAP_CHUNK = 65536;
/** Largest segment kept in one Buffer. */
const MAX_SEGMENT = 256 << 20;
/** Bytes of memory read per call (a turn of the event loop may come between two): about
 * 12 ms here, most of it the first touch of the buffer's pages (16 MiB took 100 ms). */
const READ_STEP = 2 << 20;
/** Descriptors whose fdinfo one work on Node's pool reads. */
const HEADS_PART = 1024;
const ENOENT = 2;

export interface CaptureRequest {
  launcherPid: number;
  policy: PolicyJSON;
  appState: Buffer | null;
  /** How long a thread may take to reach its ptrace-stop. */
  stopTimeoutMs: number;
  /** The parent of this process is frozen with the others but left out of the image (the
   * kernel view's init, whose child is the command). */
  skipParentOf?: number;
}

/** The process vanished while it was captured (only SIGKILL can do that to a frozen one). */
class Gone extends Error {}

function readProc(pid: number, file: string): Buffer {
  try {
    return readFileSync(`/proc/${pid}/${file}`);
  } catch (e) {
    throw procError(pid, `read /proc/${pid}/${file}`, e);
  }
}

/** The most an exec gives a process as arguments and environment together (fs/exec.c:
 * three quarters of _STK_LIM, whatever the stack limit), with room to spare. */
const CMDLINE_MAX = 8 << 20;

/** /proc/PID/cmdline, refused past CMDLINE_MAX: its length is the process's to choose
 * (readProcHead), and a capture read all of it into this process. */
function readCmdline(pid: number): Buffer {
  let head: { data: Buffer; more: boolean };
  try {
    head = readProcHead(`/proc/${pid}/cmdline`, CMDLINE_MAX);
  } catch (e) {
    throw procError(pid, `read /proc/${pid}/cmdline`, e);
  }
  if (head.more) throw new CheckpointError("CHECKPOINT_FAILED", `checkpoint: process ${pid}'s argument area is more than ${CMDLINE_MAX} bytes, more than an exec gives (a process can set its own, prctl PR_SET_MM)`, { pid });
  return head.data;
}

/** readProc's text, read on Node's pool (a large file: maps). */
async function readProcAsync(pid: number, file: string): Promise<string> {
  try {
    return await readFile(`/proc/${pid}/${file}`, "latin1");
  } catch (e) {
    throw procError(pid, `read /proc/${pid}/${file}`, e);
  }
}

/** A /proc file some kernels lack (timers needs CONFIG_CHECKPOINT_RESTORE): undefined then.
 * Read on Node's pool: a process may hold tens of thousands of POSIX timers. */
function readOptional(pid: number, file: string): Promise<string | undefined> {
  return readProcAsync(pid, file).catch(() => undefined);
}

function linkProc(pid: number, file: string): string {
  try {
    return readlinkSync(`/proc/${pid}/${file}`);
  } catch (e) {
    throw procError(pid, `readlink /proc/${pid}/${file}`, e);
  }
}

function procError(pid: number, what: string, e: unknown): Error {
  const code = errnoCode(e);
  if (code === "ENOENT" || code === "ESRCH") return new Gone();
  return new CheckpointError("CHECKPOINT_FAILED", `checkpoint: ${what}: ${code ?? (e as Error).message}`, { pid, syscall: what, errno: code, cause: e });
}

export async function captureSandbox(req: CaptureRequest): Promise<CheckpointData> {
  const notes = REGSET_NOTES[process.arch];
  if (notes === undefined) {
    throw new CheckpointError("CHECKPOINT_FAILED", `checkpoint: architecture ${process.arch} is not supported (${Object.keys(REGSET_NOTES).join(", ")})`);
  }
  const thawFailed = (failures: string[]): Error => new CheckpointError("CHECKPOINT_FAILED", `checkpoint: the capture worked but thawing failed: ${failures.join("; ")}`);
  return whileFrozen(req.launcherPid, req.stopTimeoutMs, async (frozen): Promise<CheckpointData> => {
    const turns = new Turns();
    let skipPid: number | undefined;
    try {
      if (req.skipParentOf !== undefined) skipPid = parseStat(readProc(req.skipParentOf, "stat").toString("latin1")).ppid;
    } catch (e) {
      if (!(e instanceof Gone)) throw e; // the command has exited: its init is gone with it or going
    }
    const processes: ProcessImage[] = [];
    for (const [pid, threads] of frozen) {
      if (pid === skipPid) continue;
      // Frozen threads of a process whose main thread exited: /proc/<pid> shows the leader,
      // a zombie without memory, and the process would be left out of the image unsaid.
      if (threads.every((t) => t.tid !== pid)) {
        throw new CheckpointError("CHECKPOINT_FAILED", `checkpoint: process ${pid}'s main thread has exited while its threads ${threads.map((t) => t.tid).join(", ")} run on: such a process cannot be captured (its leader's /proc entries are a zombie's)`, { pid });
      }
      try {
        const image = await captureProcess(pid, threads, notes, turns);
        const actions = await captureSigActions(pid, threads, image.maps, BigInt(`0x${image.sigCaught || "0"}`), req.stopTimeoutMs);
        // Not read (no thread can run the calls): left out, and a restore refuses the process.
        const procTimers = await readOptional(pid, "timers");
        const timers = procTimers === undefined ? undefined : await captureTimers(pid, procTimers, threads, image.maps, req.stopTimeoutMs);
        processes.push({ ...image, ...(actions !== undefined ? { sigActions: actions } : {}), ...(timers !== undefined ? { timers } : {}) });
      } catch (e) {
        if (!(e instanceof Gone)) throw e;
      }
    }
    if (processes.length === 0) throw new SandboxError("checkpoint: not running (no process is left in the sandbox)");
    return {
      createdAt: new Date().toISOString(),
      arch: process.arch,
      kernel: kernelRelease(),
      policy: req.policy,
      appState: req.appState,
      processes: await markSharedFds(parentsFirst(processes), turns),
    };
  }, thawFailed);
}

/** Orders processes so that each comes after its parent (when the parent is captured). */
function parentsFirst(ps: ProcessImage[]): ProcessImage[] {
  const byPid = new Map(ps.map((p) => [p.pid, p]));
  const depth = (p: ProcessImage): number => {
    let d = 0;
    for (let q = byPid.get(p.ppid); q !== undefined && d < ps.length; q = byPid.get(q.ppid)) d++;
    return d;
  };
  return [...ps].sort((a, b) => depth(a) - depth(b) || a.pid - b.pid);
}

async function captureProcess(pid: number, stopped: readonly StoppedThread[], notes: readonly (readonly [number, string, boolean])[], turns: Turns): Promise<ProcessImage> {
  const stat = parseStat(readProc(pid, "stat").toString("latin1"));
  const status = parseStatus(readProc(pid, "status").toString("latin1"));
  const auxv = readProc(pid, "auxv");
  // The kernel's, not the one the process's auxv says: it can rewrite that (hostPageSize).
  const pageSize = hostPageSize();
  // Read on Node's pool and parsed and stamped in turns: a process may map one file 65,530
  // times (each path is looked at once).
  const stamps = new Map<string, ReturnType<typeof stampOf>>();
  const maps: MapEntry[] = [];
  for (const m of await parseMapsInTurns(await readProcAsync(pid, "maps"), turns)) {
    maps.push(stampMap(m, stamps));
    await turns.maybe();
  }
  const cmdline = readCmdline(pid).toString("utf8").split("\0");
  if (cmdline.at(-1) === "") cmdline.pop();
  const umask = status.get("Umask");
  const threads = [...stopped].sort((a, b) => (a.tid === pid ? -1 : b.tid === pid ? 1 : a.tid - b.tid)).map((t) => captureThread(t, notes));
  const memory = await captureMemory(pid, maps, pageSize, turns);
  const fds = await captureFds(pid, turns);
  return {
    pid,
    ppid: stat.ppid,
    pgid: stat.pgid,
    sid: stat.sid,
    comm: stat.comm,
    cmdline,
    exe: linkProc(pid, "exe"),
    cwd: linkProc(pid, "cwd"),
    root: linkProc(pid, "root"),
    umask: umask === undefined ? -1 : Number.parseInt(umask, 8),
    pageSize,
    auxv,
    sigSharedPending: status.get("ShdPnd") ?? "",
    sigIgnored: status.get("SigIgn") ?? "",
    sigCaught: status.get("SigCgt") ?? "",
    threads,
    maps,
    memory,
    fds,
    mm: mmLayout(readProc(pid, "stat").toString("latin1"), maps),
  };
}

/** A file's identity, from a bigint stat. */
function stampOf(path: string): (FileStamp & { major: number; minor: number }) | undefined {
  try {
    const st = statSync(path, { bigint: true });
    const dev = st.dev;
    const major = Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn));
    const minor = Number((dev & 0xffn) | ((dev >> 12n) & ~0xffn));
    return { dev: Number(dev), ino: Number(st.ino), size: Number(st.size), mtimeNs: st.mtimeNs.toString(), major, minor };
  } catch {
    return undefined;
  }
}

/** A file mapping with the identity of the file its path names now, when that is the
 * mapped file (same device and inode as the maps line): a restore checks it again. */
function stampMap(m: MapEntry, stamps: Map<string, ReturnType<typeof stampOf>>): MapEntry {
  if (m.inode === 0 || !m.path.startsWith("/") || m.path.endsWith(" (deleted)")) return m;
  if (!stamps.has(m.path)) stamps.set(m.path, stampOf(m.path));
  const st = stamps.get(m.path);
  if (st === undefined || st.ino !== m.inode || `${st.major.toString(16).padStart(2, "0")}:${st.minor.toString(16).padStart(2, "0")}` !== m.device) return m;
  return { ...m, file: { dev: st.dev, ino: st.ino, size: st.size, mtimeNs: st.mtimeNs } };
}

/** The layout fields of /proc/<pid>/stat (26-28, 45-51); brk is the end of [heap]. */
function mmLayout(stat: string, maps: readonly MapEntry[]): MmLayout | undefined {
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const at = (field: number): bigint => BigInt(f[field - 3] ?? "0");
  if (f.length < 49) return undefined;
  const heap = maps.find((m) => m.path === "[heap]");
  const startBrk = at(47);
  return {
    startCode: at(26),
    endCode: at(27),
    startStack: at(28),
    startData: at(45),
    endData: at(46),
    startBrk,
    brk: heap !== undefined && heap.end > startBrk ? heap.end : startBrk,
    argStart: at(48),
    argEnd: at(49),
    envStart: at(50),
    envEnd: at(51),
  };
}

let scratch: Buffer | undefined;

function captureThread(t: StoppedThread, notes: readonly (readonly [number, string, boolean])[]): ThreadImage {
  // Large enough for any XSAVE area (AMX tile data included, about 11 KiB).
  scratch ??= Buffer.alloc(64 << 10);
  const regsets: RegisterSet[] = [];
  for (const [note, name, required] of notes) {
    const rc = native().ptraceGetRegset(t.tid, note, scratch);
    if (rc === -ESRCH) throw new Gone();
    if (rc < 0) {
      if (!required) continue; // the CPU lacks it (no XSAVE), nothing to save
      throw new CheckpointError("CHECKPOINT_FAILED", `checkpoint: ptrace(PTRACE_GETREGSET, ${name}) on thread ${t.tid}: ${errnoName(-rc)}`, {
        pid: t.pid,
        syscall: "ptrace(PTRACE_GETREGSET)",
        errno: errnoName(-rc),
      });
    }
    regsets.push({ note, name, data: Buffer.from(scratch.subarray(0, rc)) });
  }
  const status = parseStatus(readProc(t.pid, `task/${t.tid}/status`).toString("latin1"));
  // rseq (Linux 5.13's PTRACE_GET_RSEQ_CONFIGURATION) and the robust-futex list: left out
  // when the kernel cannot tell, and a restore then refuses the thread.
  const rseq = Buffer.alloc(32);
  const rseqBytes = native().ptraceGetRseq(t.tid, rseq);
  const robust = Buffer.alloc(16);
  const robustRc = native().getRobustList(t.tid, robust);
  if (rseqBytes === -ESRCH || robustRc === -ESRCH) throw new Gone();
  // Nice, policy, affinity (sched.ts): left out when /proc cannot tell; a restore refuses then.
  const sched = captureSched(t.pid, t.tid);
  // The innermost pid namespace's id (the last of NSpid): what the thread's memory holds.
  const nsTid = Number((status.get("NSpid") ?? "").trim().split(/\s+/).pop());
  return {
    tid: t.tid,
    ...(Number.isInteger(nsTid) && nsTid > 0 && nsTid !== t.tid ? { nsTid } : {}),
    regsets,
    stop: t.stop,
    pendingSignal: t.signal,
    sigBlocked: status.get("SigBlk") ?? "",
    sigPending: status.get("SigPnd") ?? "",
    ...(rseqBytes >= 24
      ? { rseq: rseq.readBigUInt64LE(0) === 0n ? null : { address: rseq.readBigUInt64LE(0), length: rseq.readUInt32LE(8), signature: rseq.readUInt32LE(12), flags: rseq.readUInt32LE(16) } }
      : {}),
    ...(robustRc === 0 ? { robustList: { head: robust.readBigUInt64LE(0), length: Number(robust.readBigUInt64LE(8)) } } : {}),
    ...(sched !== undefined ? { sched } : {}),
  };
}

/** [first page, page count] runs of a mapping to capture; every page when pagemap is unreadable. */
async function runsOf(pagemap: number | undefined, m: MapEntry, pageSize: number, turns: Turns): Promise<[number, number][]> {
  const first = Number(m.start / BigInt(pageSize));
  const count = Number((m.end - m.start) / BigInt(pageSize));
  if (pagemap === undefined) return m.perms[1] === "w" ? [[first, count]] : [];
  const runs: [number, number][] = [];
  const buf = Buffer.allocUnsafe(Math.min(count, PAGEMAP_CHUNK) * 8);
  for (let done = 0; done < count; ) {
    const n = Math.min(count - done, PAGEMAP_CHUNK);
    const got = readSync(pagemap, buf, 0, n * 8, (first + done) * 8);
    if (got !== n * 8) throw new Gone();
    for (const r of privatePageRuns(buf.subarray(0, got), first + done)) {
      const last = runs.at(-1);
      if (last !== undefined && last[0] + last[1] === r[0]) last[1] += r[1];
      else runs.push(r);
    }
    done += n;
    await turns.maybe();
  }
  return runs;
}

/**
 * The pages of private mappings that differ from their backing (see MemorySegment). A
 * page the kernel will not let us read (a file mapping past its file's end) is left out.
 */
async function captureMemory(pid: number, maps: readonly MapEntry[], pageSize: number, turns: Turns): Promise<MemorySegment[]> {
  let pagemap: number | undefined;
  try {
    pagemap = openSync(`/proc/${pid}/pagemap`, "r");
  } catch (e) {
    const code = errnoCode(e);
    if (code === "ENOENT" || code === "ESRCH") throw new Gone();
    pagemap = undefined; // no page monitor in this kernel: take whole writable mappings
  }
  const segments: MemorySegment[] = [];
  try {
    for (const m of maps) {
      if (m.perms[3] !== "p" || m.perms[0] !== "r" || KERNEL_MAPPINGS.has(m.path)) continue;
      for (const [firstPage, pages] of await runsOf(pagemap, m, pageSize, turns)) {
        for (let p = 0; p < pages; p += MAX_SEGMENT / pageSize) {
          const len = Math.min(pages - p, MAX_SEGMENT / pageSize) * pageSize;
          await readRange(pid, (firstPage + p) * pageSize, len, pageSize, segments, turns);
        }
      }
    }
  } finally {
    if (pagemap !== undefined) closeSync(pagemap);
  }
  return segments;
}

async function readRange(pid: number, address: number, length: number, pageSize: number, out: MemorySegment[], turns: Turns): Promise<void> {
  const buf = Buffer.allocUnsafe(length);
  let segStart = 0;
  let done = 0;
  const flush = (): void => {
    if (done > segStart) out.push({ start: BigInt(address + segStart), data: buf.subarray(segStart, done) });
  };
  while (done < length) {
    await turns.maybe();
    const rc = native().readMemory(pid, address + done, buf.subarray(done, Math.min(length, done + READ_STEP)));
    if (rc === -ESRCH) throw new Gone();
    if (rc > 0) {
      done += rc - (rc % pageSize);
      if (rc % pageSize === 0) continue;
    }
    // The page at `done` cannot be read: end the segment before it and skip it.
    flush();
    done += pageSize;
    segStart = done;
  }
  flush();
}

/** Every descriptor of process pid: its link, the head of its fdinfo (read on Node's pool:
 * the kernel makes the whole text, which lists an epoll file's watches and the locks taken
 * through a file, as long as the sandbox made them), the identity of a file. */
async function captureFds(pid: number, turns: Turns): Promise<FdEntry[]> {
  let names: string[];
  try {
    names = readdirSync(`/proc/${pid}/fd`);
  } catch (e) {
    throw procError(pid, `readdir /proc/${pid}/fd`, e);
  }
  const numbers = names.map(Number).sort((a, b) => a - b);
  const heads = new Map<number, { pos: number; flags: number; mntId: number }>();
  for (let i = 0; i < numbers.length; i += HEADS_PART) {
    const [part] = await native().fdinfoHeadsAsync(pid, Int32Array.from(numbers.slice(i, i + HEADS_PART)));
    if (typeof part === "number") throw procError(pid, `read /proc/${pid}/fdinfo`, { code: errnoName(-part) });
    for (let at = 0; at + 24 <= part.length; at += 24) {
      const fd = part.readUInt32LE(at);
      const err = part.readUInt32LE(at + 4);
      // closed by a thread that was still running? not while frozen, but harmless
      if (err === ENOENT) continue;
      if (err !== 0) throw procError(pid, `read /proc/${pid}/fdinfo/${fd}`, { code: errnoName(err) });
      heads.set(fd, { pos: part.readUInt32LE(at + 16) + part.readUInt32LE(at + 20) * 2 ** 32, flags: part.readUInt32LE(at + 8), mntId: part.readInt32LE(at + 12) });
    }
  }
  const fds: FdEntry[] = [];
  for (const [fd, info] of heads) {
    let target: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch (e) {
      if (errnoCode(e) === "ENOENT") continue;
      throw procError(pid, `readlink /proc/${pid}/fd/${fd}`, e);
    }
    const st = target.startsWith("/") ? stampOf(`/proc/${pid}/fd/${fd}`) : undefined;
    fds.push(st === undefined ? { fd, target, ...info } : { fd, target, ...info, file: { dev: st.dev, ino: st.ino, size: st.size, mtimeNs: st.mtimeNs } });
    await turns.maybe();
  }
  return fds;
}
