// The on-disk format, version 1 (docs/checkpoint.md): a directory of named files, a
// manifest with each file's size and SHA-256, checkpoint.json for the structure, and the
// bytes (registers, auxv, memory, app state) in .bin files that the JSON points into.
// Pure: files in, files out; src/checkpoint/store.ts does the I/O.

import { createHash } from "node:crypto";
import { CheckpointError } from "../errors.js";
import type { PolicyJSON } from "../policy/types.js";
import {
  FORMAT_NAME,
  FORMAT_VERSION,
  duplicateIds,
  type CheckpointData,
  type FdEntry,
  type FileStamp,
  type MmLayout,
  type SigAction,
  type MapEntry,
  type MemorySegment,
  type ProcessImage,
  type RegisterSet,
  type ThreadImage,
  type TimersImage,
} from "./image.js";

export const MANIFEST = "manifest.json";
export const METADATA = "checkpoint.json";
const APP_STATE = "app-state.bin";
/** Names a manifest may list: flat, no path separators, no dot files. */
const FILE_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/** A byte range of one of the .bin files, as checkpoint.json records it. */
interface BlobRef {
  file: string;
  offset: number;
  length: number;
}

interface ManifestEntry {
  name: string;
  bytes: number;
  sha256: string;
}

export function sha256(data: Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Appends buffers to one .bin file and hands out references to them. */
class BlobFile {
  private readonly parts: Buffer[] = [];
  private size = 0;
  constructor(readonly name: string) {}
  add(data: Buffer): BlobRef {
    const ref = { file: this.name, offset: this.size, length: data.length };
    this.parts.push(data);
    this.size += data.length;
    return ref;
  }
  get bytes(): Buffer {
    return Buffer.concat(this.parts, this.size);
  }
}

const hexAddr = (a: bigint): string => `0x${a.toString(16)}`;

/** The files of a checkpoint directory, manifest.json included (written last by save). */
export function encodeCheckpoint(cp: CheckpointData): Map<string, Buffer> {
  const blobs: BlobFile[] = [];
  const appFile = new BlobFile(APP_STATE);
  const processes = cp.processes.map((p) => {
    const state = new BlobFile(`state-${p.pid}.bin`);
    const pages = new BlobFile(`pages-${p.pid}.bin`);
    blobs.push(state, pages);
    return {
      pid: p.pid,
      ppid: p.ppid,
      pgid: p.pgid,
      sid: p.sid,
      comm: p.comm,
      cmdline: p.cmdline,
      exe: p.exe,
      cwd: p.cwd,
      root: p.root,
      umask: p.umask,
      pageSize: p.pageSize,
      auxv: state.add(p.auxv),
      sigSharedPending: p.sigSharedPending,
      sigIgnored: p.sigIgnored,
      sigCaught: p.sigCaught,
      threads: p.threads.map((t) => ({
        tid: t.tid,
        ...(t.nsTid !== undefined ? { nsTid: t.nsTid } : {}),
        stop: t.stop,
        pendingSignal: t.pendingSignal,
        sigBlocked: t.sigBlocked,
        sigPending: t.sigPending,
        regsets: t.regsets.map((r) => ({ note: r.note, name: r.name, data: state.add(r.data) })),
        ...(t.rseq !== undefined ? { rseq: t.rseq === null ? null : { ...t.rseq, address: hexAddr(t.rseq.address) } } : {}),
        ...(t.robustList !== undefined ? { robustList: { head: hexAddr(t.robustList.head), length: t.robustList.length } } : {}),
        ...(t.sched !== undefined ? { sched: t.sched } : {}),
      })),
      maps: p.maps.map((m) => ({ ...m, start: hexAddr(m.start), end: hexAddr(m.end) })),
      memory: p.memory.map((s) => ({ start: hexAddr(s.start), data: pages.add(s.data) })),
      fds: p.fds.map((f) => ({ ...f })),
      ...(p.sigActions !== undefined ? { sigActions: p.sigActions.map((a) => ({ sig: a.sig, handler: hexAddr(a.handler), flags: hexAddr(a.flags), restorer: hexAddr(a.restorer), mask: hexAddr(a.mask) })) } : {}),
      ...(p.mm !== undefined ? { mm: Object.fromEntries(Object.entries(p.mm).map(([k, v]) => [k, hexAddr(v as bigint)])) } : {}),
      ...(p.fdsCompared !== undefined ? { fdsCompared: p.fdsCompared } : {}),
      ...(p.timers !== undefined ? { timers: { itimers: p.timers.itimers, posix: p.timers.posix.map((t) => ({ ...t, sigValue: hexAddr(t.sigValue) })) } } : {}),
    };
  });
  const metadata = {
    createdAt: cp.createdAt,
    arch: cp.arch,
    kernel: cp.kernel,
    policy: cp.policy,
    appState: cp.appState === null ? null : appFile.add(cp.appState),
    processes,
  };
  const files = new Map<string, Buffer>();
  files.set(METADATA, Buffer.from(JSON.stringify(metadata, null, 1) + "\n"));
  if (cp.appState !== null) files.set(APP_STATE, appFile.bytes);
  for (const b of blobs) files.set(b.name, b.bytes);
  const entries: ManifestEntry[] = [...files].map(([name, data]) => ({ name, bytes: data.length, sha256: sha256(data) }));
  const manifest = { format: FORMAT_NAME, version: FORMAT_VERSION, files: entries };
  files.set(MANIFEST, Buffer.from(JSON.stringify(manifest, null, 1) + "\n"));
  return files;
}

// ---- decoding: every field checked, every problem named with its place ----

/** Reads one file of the directory, or undefined when it does not exist. */
export type FileReader = (name: string) => Buffer | undefined;

class Reader {
  constructor(
    private readonly where: string,
    private readonly files: ReadonlyMap<string, Buffer>,
  ) {}

  fail(message: string, path = METADATA): never {
    throw new CheckpointError("CHECKPOINT_INVALID", `checkpoint ${this.where}: ${message}`, { path });
  }
  obj(v: unknown, at: string): Record<string, unknown> {
    if (typeof v !== "object" || v === null || Array.isArray(v)) this.fail(`${at} must be an object`);
    return v as Record<string, unknown>;
  }
  arr(v: unknown, at: string): unknown[] {
    if (!Array.isArray(v)) this.fail(`${at} must be an array`);
    return v;
  }
  int(v: unknown, at: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min || v > max) {
      this.fail(`${at} must be an integer ${max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`}, got ${JSON.stringify(v)}`);
    }
    return v;
  }
  bool(v: unknown, at: string): boolean {
    if (typeof v !== "boolean") this.fail(`${at} must be true or false`);
    return v;
  }
  /** A time [seconds, fraction], both integers >= 0. */
  time(v: unknown, at: string): [number, number] {
    const a = this.arr(v, at);
    if (a.length !== 2) this.fail(`${at} must be [seconds, fraction]`);
    return [this.int(a[0], `${at}[0]`), this.int(a[1], `${at}[1]`)];
  }
  str(v: unknown, at: string): string {
    if (typeof v !== "string") this.fail(`${at} must be a string`);
    return v;
  }
  hexMask(v: unknown, at: string): string {
    const s = this.str(v, at);
    if (!/^[0-9a-f]{0,64}$/.test(s)) this.fail(`${at} must be a hexadecimal signal mask, got ${JSON.stringify(s)}`);
    return s;
  }
  addr(v: unknown, at: string): bigint {
    const s = this.str(v, at);
    if (!/^0x[0-9a-f]{1,16}$/.test(s)) this.fail(`${at} must be a hexadecimal address like "0x7ffc0000", got ${JSON.stringify(s)}`);
    return BigInt(s);
  }
  blob(v: unknown, at: string): Buffer {
    const r = this.obj(v, at);
    const file = this.str(r.file, `${at}.file`);
    const offset = this.int(r.offset, `${at}.offset`);
    const length = this.int(r.length, `${at}.length`);
    const data = this.files.get(file);
    if (data === undefined || file === MANIFEST || file === METADATA) this.fail(`${at} points into ${JSON.stringify(file)}, which manifest.json does not list`);
    if (offset + length > data.length) this.fail(`${at} (bytes ${offset}..${offset + length}) lies beyond the end of ${file} (${data.length} bytes)`);
    return data.subarray(offset, offset + length);
  }
}

export function readManifest(where: string, read: FileReader): ManifestEntry[] {
  const fail = (message: string): never => {
    throw new CheckpointError("CHECKPOINT_INVALID", `checkpoint ${where}: ${message}`, { path: MANIFEST });
  };
  const raw = read(MANIFEST);
  if (raw === undefined) return fail(`${MANIFEST} is missing: not a checkpoint directory, or its save did not finish`);
  let m: unknown;
  try {
    m = JSON.parse(raw.toString("utf8"));
  } catch (e) {
    return fail(`${MANIFEST} is not valid JSON, truncated or corrupt (${(e as Error).message})`);
  }
  if (typeof m !== "object" || m === null) return fail(`${MANIFEST} must hold an object`);
  const { format, version, files } = m as Record<string, unknown>;
  if (format !== FORMAT_NAME) return fail(`${MANIFEST} says format ${JSON.stringify(format)}, not ${JSON.stringify(FORMAT_NAME)}: not a sandlock checkpoint`);
  if (version !== FORMAT_VERSION) {
    return fail(`format version ${JSON.stringify(version)} is not supported (this sandlock reads version ${FORMAT_VERSION})`);
  }
  if (!Array.isArray(files)) return fail(`${MANIFEST}: files must be an array`);
  const seen = new Set<string>();
  const out = files.map((f, i): ManifestEntry => {
    const e = (typeof f === "object" && f !== null ? f : {}) as Record<string, unknown>;
    const { name, bytes, sha256: sum } = e;
    if (typeof name !== "string" || !FILE_NAME.test(name) || name === MANIFEST) return fail(`${MANIFEST}: files[${i}].name ${JSON.stringify(name)} is not a valid file name`);
    if (seen.has(name)) return fail(`${MANIFEST}: ${name} is listed twice`);
    seen.add(name);
    if (typeof bytes !== "number" || !Number.isSafeInteger(bytes) || bytes < 0) return fail(`${MANIFEST}: files[${i}].bytes must be a byte count`);
    if (typeof sum !== "string" || !/^[0-9a-f]{64}$/.test(sum)) return fail(`${MANIFEST}: files[${i}].sha256 must be 64 hexadecimal digits`);
    return { name, bytes, sha256: sum };
  });
  if (!seen.has(METADATA)) return fail(`${MANIFEST} does not list ${METADATA}`);
  return out;
}

/** Buffers whose SHA-256 was computed as they were read (store.ts loadFiles), with it:
 * readVerifiedFiles compares instead of hashing them a second time. */
const verified = new WeakMap<Buffer, string>();

export function markVerified(data: Buffer, sum: string): void {
  verified.set(data, sum);
}

/** The files manifest.json lists, each checked against its recorded size and SHA-256. */
export function readVerifiedFiles(where: string, read: FileReader): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  for (const e of readManifest(where, read)) {
    const fail = (message: string): never => {
      throw new CheckpointError("CHECKPOINT_INVALID", `checkpoint ${where}: ${message}`, { path: e.name });
    };
    const data = read(e.name);
    if (data === undefined) fail(`${e.name} is missing (manifest.json lists it)`);
    else if (data.length < e.bytes) fail(`${e.name} is truncated: ${data.length} of ${e.bytes} bytes`);
    else if (data.length > e.bytes) fail(`${e.name} is ${data.length} bytes, ${data.length - e.bytes} more than manifest.json records (${e.bytes})`);
    else if ((verified.get(data) ?? sha256(data)) !== e.sha256) fail(`${e.name} is corrupt: its SHA-256 does not match manifest.json`);
    else files.set(e.name, data);
  }
  return files;
}

/** Decodes and validates a checkpoint directory's files (CheckpointError on the first problem). */
export function decodeCheckpoint(where: string, read: FileReader): CheckpointData {
  const files = readVerifiedFiles(where, read);
  const r = new Reader(where, files);
  let meta: unknown;
  try {
    meta = JSON.parse(files.get(METADATA)!.toString("utf8"));
  } catch (e) {
    r.fail(`${METADATA} is not valid JSON (${(e as Error).message})`);
  }
  const top = r.obj(meta, METADATA);
  const createdAt = r.str(top.createdAt, "createdAt");
  if (Number.isNaN(Date.parse(createdAt))) r.fail(`createdAt ${JSON.stringify(createdAt)} is not an ISO date`);
  const policy = r.obj(top.policy, "policy") as PolicyJSON;
  const processes = r.arr(top.processes, "processes").map((v, i) => decodeProcess(r, v, `processes[${i}]`));
  const duplicate = duplicateIds(processes);
  if (duplicate !== undefined) r.fail(`processes: ${duplicate}`);
  return {
    createdAt,
    arch: r.str(top.arch, "arch"),
    kernel: r.str(top.kernel, "kernel"),
    policy,
    appState: top.appState === null ? null : r.blob(top.appState, "appState"),
    processes,
  };
}

function decodeProcess(r: Reader, v: unknown, at: string): ProcessImage {
  const p = r.obj(v, at);
  // Linux's page sizes: 4 KiB to 64 KiB, a power of two (restore-check.ts wants the host's).
  const pageSize = r.int(p.pageSize, `${at}.pageSize`, 4096, 65536);
  if ((pageSize & (pageSize - 1)) !== 0) r.fail(`${at}.pageSize must be a power of two, got ${pageSize}`);
  const memory = r.arr(p.memory, `${at}.memory`).map((s, i): MemorySegment => {
    const o = r.obj(s, `${at}.memory[${i}]`);
    const seg = { start: r.addr(o.start, `${at}.memory[${i}].start`), data: r.blob(o.data, `${at}.memory[${i}].data`) };
    if (seg.start % BigInt(pageSize) !== 0n || seg.data.length % pageSize !== 0) r.fail(`${at}.memory[${i}] is not whole pages of ${pageSize} bytes`);
    return seg;
  });
  return {
    pid: r.int(p.pid, `${at}.pid`, 1),
    ppid: r.int(p.ppid, `${at}.ppid`),
    pgid: r.int(p.pgid, `${at}.pgid`),
    sid: r.int(p.sid, `${at}.sid`),
    comm: r.str(p.comm, `${at}.comm`),
    cmdline: r.arr(p.cmdline, `${at}.cmdline`).map((a, i) => r.str(a, `${at}.cmdline[${i}]`)),
    exe: r.str(p.exe, `${at}.exe`),
    cwd: r.str(p.cwd, `${at}.cwd`),
    root: r.str(p.root, `${at}.root`),
    umask: r.int(p.umask, `${at}.umask`, -1),
    pageSize,
    auxv: r.blob(p.auxv, `${at}.auxv`),
    sigSharedPending: r.hexMask(p.sigSharedPending, `${at}.sigSharedPending`),
    sigIgnored: r.hexMask(p.sigIgnored, `${at}.sigIgnored`),
    sigCaught: r.hexMask(p.sigCaught, `${at}.sigCaught`),
    threads: r.arr(p.threads, `${at}.threads`).map((t, i) => decodeThread(r, t, `${at}.threads[${i}]`)),
    maps: r.arr(p.maps, `${at}.maps`).map((m, i) => decodeMap(r, m, `${at}.maps[${i}]`)),
    memory,
    fds: r.arr(p.fds, `${at}.fds`).map((f, i) => decodeFd(r, f, `${at}.fds[${i}]`)),
    ...(p.mm !== undefined ? { mm: decodeMm(r, p.mm, `${at}.mm`) } : {}),
    ...(p.fdsCompared !== undefined ? { fdsCompared: r.bool(p.fdsCompared, `${at}.fdsCompared`) } : {}),
    ...(p.timers !== undefined ? { timers: decodeTimers(r, p.timers, `${at}.timers`) } : {}),
    ...(p.sigActions !== undefined
      ? {
          sigActions: r.arr(p.sigActions, `${at}.sigActions`).map((v, i): SigAction => {
            const o = r.obj(v, `${at}.sigActions[${i}]`);
            const w = `${at}.sigActions[${i}]`;
            return { sig: r.int(o.sig, `${w}.sig`, 1, 64), handler: r.addr(o.handler, `${w}.handler`), flags: r.addr(o.flags, `${w}.flags`), restorer: r.addr(o.restorer, `${w}.restorer`), mask: r.addr(o.mask, `${w}.mask`) };
          }),
        }
      : {}),
  };
}

function decodeTimers(r: Reader, v: unknown, at: string): TimersImage {
  const o = r.obj(v, at);
  return {
    itimers: r.arr(o.itimers, `${at}.itimers`).map((x, i) => {
      const t = r.obj(x, `${at}.itimers[${i}]`);
      const w = `${at}.itimers[${i}]`;
      const which = r.int(t.which, `${w}.which`);
      if (which > 2) r.fail(`${w}.which must be 0, 1 or 2, got ${which}`);
      return { which, interval: r.time(t.interval, `${w}.interval`), remaining: r.time(t.remaining, `${w}.remaining`) };
    }),
    posix: r.arr(o.posix, `${at}.posix`).map((x, i) => {
      const t = r.obj(x, `${at}.posix[${i}]`);
      const w = `${at}.posix[${i}]`;
      return {
        id: r.int(t.id, `${w}.id`),
        clock: r.int(t.clock, `${w}.clock`, -(2 ** 31)),
        signo: r.int(t.signo, `${w}.signo`),
        sigValue: r.addr(t.sigValue, `${w}.sigValue`),
        notify: r.int(t.notify, `${w}.notify`),
        tid: r.int(t.tid, `${w}.tid`),
        interval: r.time(t.interval, `${w}.interval`),
        remaining: r.time(t.remaining, `${w}.remaining`),
      };
    }),
  };
}

const MM_FIELDS = ["startCode", "endCode", "startData", "endData", "startBrk", "brk", "startStack", "argStart", "argEnd", "envStart", "envEnd"] as const;

function decodeMm(r: Reader, v: unknown, at: string): MmLayout {
  const o = r.obj(v, at);
  return Object.fromEntries(MM_FIELDS.map((k) => [k, r.addr(o[k], `${at}.${k}`)])) as unknown as MmLayout;
}

/** The optional file identity of a descriptor or mapping (newer checkpoints). */
function decodeStamp(r: Reader, v: unknown, at: string): { file?: FileStamp } {
  if (v === undefined) return {};
  const o = r.obj(v, at);
  const mtimeNs = r.str(o.mtimeNs, `${at}.mtimeNs`);
  if (!/^\d+$/.test(mtimeNs)) r.fail(`${at}.mtimeNs must be a decimal string, got ${JSON.stringify(mtimeNs)}`);
  return { file: { dev: r.int(o.dev, `${at}.dev`), ino: r.int(o.ino, `${at}.ino`), size: r.int(o.size, `${at}.size`), mtimeNs } };
}

const STOPS: readonly ThreadImage["stop"][] = ["interrupt", "group-stop", "signal"];

function decodeThread(r: Reader, v: unknown, at: string): ThreadImage {
  const t = r.obj(v, at);
  const stop = t.stop as ThreadImage["stop"];
  if (!STOPS.includes(stop)) r.fail(`${at}.stop must be one of ${STOPS.join(", ")}, got ${JSON.stringify(t.stop)}`);
  const regsets = r.arr(t.regsets, `${at}.regsets`).map((s, i): RegisterSet => {
    const o = r.obj(s, `${at}.regsets[${i}]`);
    return { note: r.int(o.note, `${at}.regsets[${i}].note`), name: r.str(o.name, `${at}.regsets[${i}].name`), data: r.blob(o.data, `${at}.regsets[${i}].data`) };
  });
  if (regsets[0]?.name !== "prstatus") r.fail(`${at}.regsets must start with prstatus`);
  return {
    tid: r.int(t.tid, `${at}.tid`, 1),
    ...(t.nsTid !== undefined ? { nsTid: r.int(t.nsTid, `${at}.nsTid`, 1) } : {}),
    regsets,
    stop,
    pendingSignal: r.int(t.pendingSignal, `${at}.pendingSignal`, 0, 64),
    sigBlocked: r.hexMask(t.sigBlocked, `${at}.sigBlocked`),
    sigPending: r.hexMask(t.sigPending, `${at}.sigPending`),
    ...(t.rseq === null ? { rseq: null } : {}),
    ...(t.rseq !== undefined && t.rseq !== null
      ? (() => {
          const q = r.obj(t.rseq, `${at}.rseq`);
          return { rseq: { address: r.addr(q.address, `${at}.rseq.address`), length: r.int(q.length, `${at}.rseq.length`), signature: r.int(q.signature, `${at}.rseq.signature`), flags: r.int(q.flags, `${at}.rseq.flags`) } };
        })()
      : {}),
    ...(t.robustList !== undefined
      ? (() => {
          const q = r.obj(t.robustList, `${at}.robustList`);
          return { robustList: { head: r.addr(q.head, `${at}.robustList.head`), length: r.int(q.length, `${at}.robustList.length`) } };
        })()
      : {}),
    ...(t.sched !== undefined
      ? (() => {
          const q = r.obj(t.sched, `${at}.sched`);
          const cpus = r.arr(q.cpus, `${at}.sched.cpus`).map((c, i) => r.int(c, `${at}.sched.cpus[${i}]`));
          return { sched: { nice: r.int(q.nice, `${at}.sched.nice`, -20), policy: r.int(q.policy, `${at}.sched.policy`), priority: r.int(q.priority, `${at}.sched.priority`), cpus } };
        })()
      : {}),
  };
}

function decodeMap(r: Reader, v: unknown, at: string): MapEntry {
  const m = r.obj(v, at);
  const start = r.addr(m.start, `${at}.start`);
  const end = r.addr(m.end, `${at}.end`);
  if (end <= start) r.fail(`${at}: end ${m.end} is not above start ${m.start}`);
  const perms = r.str(m.perms, `${at}.perms`);
  if (!/^[r-][w-][x-][ps]$/.test(perms)) r.fail(`${at}.perms ${JSON.stringify(perms)} is not like "rw-p"`);
  return {
    start,
    end,
    perms,
    offset: r.int(m.offset, `${at}.offset`),
    device: r.str(m.device, `${at}.device`),
    inode: r.int(m.inode, `${at}.inode`),
    path: r.str(m.path, `${at}.path`),
    ...decodeStamp(r, m.file, `${at}.file`),
  };
}

function decodeFd(r: Reader, v: unknown, at: string): FdEntry {
  const f = r.obj(v, at);
  return {
    fd: r.int(f.fd, `${at}.fd`),
    target: r.str(f.target, `${at}.target`),
    flags: r.int(f.flags, `${at}.flags`),
    pos: r.int(f.pos, `${at}.pos`),
    mntId: r.int(f.mntId, `${at}.mntId`, -1),
    ...decodeStamp(r, f.file, `${at}.file`),
    ...(f.sharedWith !== undefined
      ? (() => {
          const q = r.obj(f.sharedWith, `${at}.sharedWith`);
          return { sharedWith: { pid: r.int(q.pid, `${at}.sharedWith.pid`, 1), fd: r.int(q.fd, `${at}.sharedWith.fd`, 3) } };
        })()
      : {}),
  };
}
