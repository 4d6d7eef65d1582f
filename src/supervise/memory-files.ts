// Memory a sandbox holds in memory-backed files (maxMemory, SPEC 10): the memfds it made
// (each watched through a probe file of the supervisor's, wherever the sandbox keeps it),
// other tmpfs/hugetlbfs files reachable through its descriptors and mappings, and what
// the memory-backed mounts beneath its writable grants grew by since it started.

import { closeSync, fstatSync, openSync, read, readdirSync, readFileSync, realpathSync, statfsSync, statSync } from "node:fs";
import { native } from "../confine/native.js";
import { offLoop } from "./fd-objects.js";
import type { Step } from "./slices.js";

const TMPFS_MAGIC = 0x01021994; // tmpfs, devtmpfs and the kernel's memfd mount
const HUGETLBFS_MAGIC = 0x958458f6;
/** How long a device number's file system type is trusted (anonymous device numbers are
 * reused once a file system is unmounted). */
const KIND_TTL_MS = 10_000;
/** Descriptors of one process looked at between two of the watchdog's yields (a stat each,
 * about 5 us). */
const FD_SLICE = 512;
/** Memory-backed mappings of one process looked at between two yields: a stat of its
 * map_files entry each, 15-20 us (512 of them made steps of 10-12 ms). */
const MAPPING_SLICE = 128;

/**
 * Whether this process may read map_files entries: it takes CAP_SYS_ADMIN or
 * CAP_CHECKPOINT_RESTORE in the host's user namespace, the reader's, whichever process's
 * entry it is. Cleared at the first EPERM (or EACCES), so that an unprivileged supervisor
 * stops asking: each refused stat made and dropped an exception, and a process holding
 * 20,000 shared anonymous mappings cost its look 20,000 of them every 100 ms (of the
 * supervisor's 960 ms of CPU in 1.45 s, about 420 went to them). Capabilities dropped later
 * are found the same way; ones gained later are not used.
 */
let mapFilesReadable = true;

function isDenied(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  return code === "EPERM" || code === "EACCES";
}

/** Until the sandbox has made a memfd or held a memory-backed file among its descriptors,
 * how often its descriptors are looked at (a stat each): a memfd another sandbox or a host
 * service hands it over a unix socket is found within this long, and from then on every
 * look scans them. Looked at every time, a sandbox of 50 processes with 20 descriptors each
 * would cost a stat per descriptor every 100 ms for nothing. */
const FOREIGN_FD_SCAN_MS = 1000;

/**
 * Kernel memory each mapping holds that no status figure shows: its vm_area_struct (a
 * 192-byte slab object). A file-backed mapping also keeps its open file (filp, 192 bytes)
 * after every descriptor of it is closed, and with it a flock (file_lock_cache, 192) and a
 * lease (file_lease_cache, 160) taken through that file: 544 bytes more. A process may
 * hold 65,530 mappings (vm.max_map_count): the sixteenth review held 240,000 flock and
 * lease records on files kept only by mappings, 40 MiB of records (84 MiB with the files
 * and mappings) under maxMemory 16M, listed in no fdinfo. Charged per mapping of every
 * process at every look; a process's few hundred mappings come to some 100 KiB.
 */
export const MAPPING_BYTES = 192;
export const FILE_MAPPING_BYTES = 544;

/** shmem pages count in a mapping process's RssShmem; hugetlb pages in no status figure. */
export type MemoryKind = "shmem" | "hugetlb";

/** "major:minor" of a device number as stat reports it (glibc's encoding). */
export function devKey(dev: bigint): string {
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & 0xfffff000n);
  const minor = (dev & 0xffn) | ((dev >> 12n) & 0xffffff00n);
  return `${major}:${minor}`;
}

function kindOfType(type: number): MemoryKind | null {
  if (type === TMPFS_MAGIC) return "shmem";
  if (type === HUGETLBFS_MAGIC) return "hugetlb";
  return null; // ramfs keeps no count of its pages: it cannot be measured (docs/security.md)
}

let kinds = new Map<string, MemoryKind | null>();
let kindsAt = 0;
/** The device of the kernel's internal shmem mount (memfds, shared anonymous memory, SysV
 * segments, whose inode number there is their id). */
let internalDev: string | undefined;

/** Device numbers known from mountinfo and the memfd mount, refreshed now and then. */
function knownKinds(): Map<string, MemoryKind | null> {
  if (Date.now() - kindsAt < KIND_TTL_MS) return kinds;
  kinds = new Map();
  kindsAt = Date.now();
  // Every mounted device, hidden mounts included: those of no memory kind as null, so a
  // mapping's device is either known or named by no mount at all.
  for (const [dev, kind] of mountDevices()) kinds.set(dev, kind);
  try {
    // The kernel's internal mount for memfds and shared anonymous memory.
    const fd = native().memfd(Buffer.alloc(0));
    try {
      internalDev = devKey(statSync(`/proc/self/fd/${fd}`, { bigint: true }).dev);
      kinds.set(internalDev, "shmem");
    } finally {
      closeSync(fd);
    }
  } catch {
    // without the addon nothing is supervised anyway
  }
  return kinds;
}

/** The key ("major:minor:inode") a SysV segment's mappings are charged under. */
export function sysvKey(id: number): string {
  knownKinds();
  return `${internalDev ?? "0:0"}:${id}`;
}

/** What kind of memory the file at `path` (a /proc/<pid>/fd/N link) lives in, or null. */
function kindAt(dev: string, path: string): MemoryKind | null {
  const known = knownKinds();
  const k = known.get(dev);
  if (k !== undefined) return k;
  let kind: MemoryKind | null = null;
  try {
    kind = kindOfType(Number(statfsSync(path).type));
  } catch {
    return null; // gone: nothing to charge
  }
  known.set(dev, kind);
  return kind;
}

const O_PATH = 0o10000000;

/**
 * Whether descriptor `fd` of the supervisor is an O_PATH handle on a memory-backed file.
 * Such a handle keeps the file's memory alive without being an open reader or writer, so
 * the probe's lease test (see MemoryFiles) cannot see it: while it sits in a socket's
 * queue, in no descriptor table, nothing shows the memory it holds.
 */
export function isPathHandleOnMemory(fd: number): boolean {
  // The flags from fcntl, not from fdinfo: the descriptor is the sandbox's to choose, and
  // an epoll file of a million watches has a fdinfo of a million lines (1.7 s to read).
  const flags = native().fileFlags(fd);
  if (flags < 0 || (flags & O_PATH) === 0) return false;
  return kindAt(devKey(fstatSync(fd, { bigint: true }).dev), `/proc/self/fd/${fd}`) !== null;
}

interface MountEntry {
  point: string;
  dev: string;
  kind: MemoryKind;
}

/** Unescapes mountinfo's octal escapes. */
function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Every mount of /proc/self/mountinfo: its device, point and memory kind (null: none). */
function mounts(): { dev: string; point: string; kind: MemoryKind | null }[] {
  let text: string;
  try {
    text = readFileSync("/proc/self/mountinfo", "utf8");
  } catch {
    return [];
  }
  const out: { dev: string; point: string; kind: MemoryKind | null }[] = [];
  for (const line of text.split("\n")) {
    const f = line.split(" ");
    const dash = f.indexOf("-");
    if (dash < 5) continue;
    const type = f[dash + 1]!;
    const kind: MemoryKind | null = type === "tmpfs" || type === "devtmpfs" ? "shmem" : type === "hugetlbfs" ? "hugetlb" : null;
    out.push({ dev: f[2]!, point: unescape(f[4]!), kind });
  }
  return out;
}

/** The visible memory-backed mounts of this mount namespace (a mount hidden under a later
 * one at the same point is left out). */
function memoryMounts(): MountEntry[] {
  const byPoint = new Map<string, MountEntry | null>();
  for (const { point, dev, kind } of mounts()) {
    byPoint.delete(point); // keep mount order: the later mount hides the earlier
    byPoint.set(point, kind === null ? null : { point, dev, kind });
  }
  return [...byPoint.values()].filter((m): m is MountEntry => m !== null);
}

/** Every mounted device, hidden mounts included, with its memory kind (null: none). */
function mountDevices(): Map<string, MemoryKind | null> {
  const out = new Map<string, MemoryKind | null>();
  for (const { dev, kind } of mounts()) if (!out.has(dev) || kind !== null) out.set(dev, kind);
  return out;
}

function within(path: string, root: string): boolean {
  return path === root || path.startsWith(root === "/" ? "/" : `${root}/`);
}

interface GrantMount {
  point: string;
  dev: string;
  /** The lowest use seen since the sandbox started: growth is measured from it. */
  low: number;
}

function usedBytes(point: string): number | null {
  try {
    const s = statfsSync(point);
    return (s.blocks - s.bfree) * s.bsize;
  } catch {
    return null;
  }
}

/** What one look found, for the sandbox's processes. */
export interface FileCharges {
  /** Bytes in memory-backed files, per accounting unit (see memoryGuard). */
  files: Map<number, number>;
  /** Per process: bytes of its RssShmem that are pages of those files (charged as files,
   * so not again as the process's shared memory). */
  mappedFilePages: Map<number, number>;
  /** Per process: the kernel memory its mappings hold (MAPPING_BYTES), for its charge. */
  mappingBytes: Map<number, number>;
  /** Processes all of whose shared pages this look charged as files (none mapped from a
   * device mountinfo does not name), or whose address space was gone when read (exiting):
   * their RssShmem is not theirs to pay, whatever moment their status was read at. */
  settled: Set<number>;
}

/** The bytes of /proc text read in one step: about 700 lines of maps, 60 mappings of smaps.
 * 256 KB made steps of 12-18 ms (the kernel's 7 ms writing 2,800 maps lines, as many to
 * read them), beyond the slice's 10. */
const TEXT_PART = 64 * 1024;

/**
 * Reads the next part of a /proc file on Node's pool, in `owner`'s turn (offLoop), telling
 * `got` the bytes read (0 at the end or on an error); resolves with the milliseconds it
 * took, charged as the look's CPU (wall time: an upper bound). Not on the event loop: the
 * kernel makes maps and smaps under the process's mmap lock, and a process unmapping
 * 20,000 shared mappings as it exits held a read of 3.8 kB of its smaps 95-107 ms (two of
 * six runs of supervisor-cost's shared-mappings case as the test user; CI's worst gaps of
 * 102-113 ms there, all of it in one slice).
 */
function readPart(owner: object, fd: number, buf: Buffer, at: number, got: (n: number) => void): Promise<number> {
  return offLoop(owner, () => new Promise<number>((resolve) => {
    const t0 = performance.now();
    read(fd, buf, at, TEXT_PART, null, (err, n) => {
      got(err === null ? n : 0);
      resolve(performance.now() - t0);
    });
  }));
}

/**
 * The lines of a /proc file, read TEXT_PART bytes at a time on one open file (the kernel
 * goes on where the last read stopped; a reopen or a seek would walk the mappings again
 * from the start), handed over as byte ranges of one buffer, yielding after each part. No
 * string or object is made per line: smaps has some 25 lines per mapping, and a sandbox
 * decides how many mappings there are (20,000 shared mappings made half a million line
 * strings, and scavenges of 13-17 ms copying what a look kept of them). Returns the bytes
 * read, -1 when it could not be opened. The file is closed when the generator ends, is
 * returned or throws.
 */
function* procLines(path: string, owner: object, each: (buf: Buffer, start: number, end: number) => void): Generator<Step, number> {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch {
    return -1;
  }
  try {
    // A part, after the unfinished line the last part left (a maps line is at most a path
    // of 4,096 bytes and its fields).
    const buf = Buffer.allocUnsafe(2 * TEXT_PART);
    let total = 0;
    let kept = 0;
    for (;;) {
      let n = 0;
      yield readPart(owner, fd, buf, kept, (got) => (n = got));
      if (n === 0) break; // the end, or the process went while it was read: what was read stands
      total += n;
      const end = kept + n;
      let start = 0;
      for (let nl = buf.indexOf(10, start); nl >= 0 && nl < end; nl = buf.indexOf(10, start)) {
        each(buf, start, nl);
        start = nl + 1;
      }
      kept = end - start;
      if (kept > TEXT_PART) throw new Error(`${path}: a line longer than ${TEXT_PART} bytes`);
      buf.copy(buf, 0, start, end);
    }
    if (kept > 0) each(buf, 0, kept);
    return total;
  } finally {
    closeSync(fd);
  }
}

/** Where the last hexAt or decAt stopped. */
let parsedTo = 0;

/** The value of byte c as a lowercase hex digit, -1 when it is none. */
function hexDigit(c: number): number {
  return c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : -1;
}

/** The number written in lowercase hex from buf[i] (no digit: 0); parsedTo: after it. */
function hexAt(buf: Buffer, i: number, end: number): number {
  let v = 0;
  for (; i < end; i++) {
    const d = hexDigit(buf[i]!);
    if (d < 0) break;
    v = v * 16 + d;
  }
  parsedTo = i;
  return v;
}

/** The number written in decimal from buf[i]; parsedTo: after it. */
function decAt(buf: Buffer, i: number, end: number): number {
  let v = 0;
  for (; i < end && buf[i]! >= 48 && buf[i]! <= 57; i++) v = v * 10 + buf[i]! - 48;
  parsedTo = i;
  return v;
}

/** The fields of a /proc/PID/maps line (or an smaps mapping's header) that the look reads
 * (parseMapsLine fills one in place: one object per text, none per line). */
export interface MapsLine {
  start: number;
  end: number;
  offset: number;
  major: number;
  minor: number;
  /** The inode number's digits, buf[inodeAt, inodeEnd) ("0": no file). */
  inodeAt: number;
  inodeEnd: number;
  /** Where the path begins (after the padding spaces; the line's end when there is none). */
  pathAt: number;
}

export function emptyMapsLine(): MapsLine {
  return { start: 0, end: 0, offset: 0, major: 0, minor: 0, inodeAt: 0, inodeEnd: 0, pathAt: 0 };
}

/**
 * Parses the maps line buf[i, end) ("start-end perms offset major:minor inode   path",
 * addresses and offset in hex) into `out`; false when it is not one. The addresses and the
 * offset are multiples of a page, so every one below 2^65 is exact as a number (a page
 * number below 2^53), the kernel's vsyscall page included, and so is each step of hexAt
 * on the way (the digits before the page's three zeros are the page number).
 */
export function parseMapsLine(buf: Buffer, i: number, end: number, out: MapsLine): boolean {
  out.start = hexAt(buf, i, end);
  if (parsedTo === i || buf[parsedTo] !== 45 /* - */) return false;
  i = parsedTo + 1;
  out.end = hexAt(buf, i, end);
  if (parsedTo === i || buf[parsedTo] !== 32) return false;
  i = buf.indexOf(32, parsedTo + 1); // past the permissions
  if (i < 0 || i >= end) return false;
  out.offset = hexAt(buf, ++i, end);
  if (parsedTo === i || buf[parsedTo] !== 32) return false;
  i = parsedTo + 1;
  out.major = hexAt(buf, i, end);
  if (parsedTo === i || buf[parsedTo] !== 58 /* : */) return false;
  i = parsedTo + 1;
  out.minor = hexAt(buf, i, end);
  if (parsedTo === i || buf[parsedTo] !== 32) return false;
  i = parsedTo + 1;
  decAt(buf, i, end);
  if (parsedTo === i || (parsedTo < end && buf[parsedTo] !== 32)) return false;
  out.inodeAt = i;
  out.inodeEnd = parsedTo;
  out.pathAt = skipSpaces(buf, parsedTo, end);
  return true;
}

/**
 * The name map_files gives a mapping: its addresses in hex without padding zeros. maps pads
 * them to 8 digits ("00400000-00452000" is "400000-452000"); looked up by the padded name,
 * every mapping below 0x10000000 read as having no size, and a shared object mapped there
 * by one page was charged that page (docs/security.md).
 */
export function mapFilesName(start: number, end: number): string {
  return `${start.toString(16)}-${end.toString(16)}`;
}

const DEV_ZERO = Buffer.from("/dev/zero (deleted)");
const SYSV = Buffer.from("/SYSV");
const RSS = Buffer.from("Rss:");
const ANONYMOUS = Buffer.from("Anonymous:");

/** Whether buf[i, end) begins with `what` (a loop: a native compare per line cost more). */
function bytesAre(buf: Buffer, i: number, end: number, what: Buffer): boolean {
  if (end - i < what.length) return false;
  for (let k = 0; k < what.length; k++) if (buf[i + k] !== what[k]) return false;
  return true;
}

/**
 * The memory-backed mappings of one maps text, packed: one entry per mapping in arrays of
 * numbers and one key string each, where an object and five strings each (and the regex's
 * captures) made tens of thousands of young objects that lived through a look's steps.
 */
class MemoryMappings {
  readonly start: number[] = [];
  readonly end: number[] = [];
  /** How far into its object the mapping reaches (offset + length). */
  readonly extent: number[] = [];
  /** 1: shared anonymous memory (MAP_SHARED|MAP_ANONYMOUS, /dev/zero) or a SysV segment,
   * an object of the kernel's internal shmem mount that only mappings hold. */
  readonly anon: number[] = [];
  /** 1: shmem (its pages count in the process's RssShmem); 0: hugetlb. */
  readonly shmem: number[] = [];
  /** 1: on a memory-backed mount beneath a writable grant (charged by its growth). */
  readonly granted: number[] = [];
  /** "major:minor:inode", the object's key. */
  readonly key: string[] = [];

  get length(): number {
    return this.key.length;
  }
}

/** A device's key and memory kind, per device number seen in one maps text. */
interface DeviceSeen {
  key: string;
  kind: MemoryKind | null | undefined;
  granted: boolean;
}

/**
 * The memory-backed mappings of /proc/TASK/maps, read in parts (see procLines). `settled`
 * is false when some mapping's device is one no mount names (a mount namespace of the
 * sandbox's own): such a file may be memory-backed, and its shared pages stay the
 * process's to pay (RssShmem). Returns the bytes read (see procLines).
 */
function* memoryMappingsOf(
  task: number, owner: object, known: ReadonlyMap<string, MemoryKind | null>, grantDevs: ReadonlySet<string>, into: MemoryMappings,
  flags: { settled: boolean; mappings: number; fileMappings: number },
): Generator<Step, number> {
  const line = emptyMapsLine();
  const devices = new Map<number, DeviceSeen>();
  return yield* procLines(`/proc/${task}/maps`, owner, (buf, i, end) => {
    if (!parseMapsLine(buf, i, end, line)) return;
    flags.mappings++;
    if (line.inodeEnd - line.inodeAt === 1 && buf[line.inodeAt] === 48) return; // no file
    flags.fileMappings++;
    const number = line.major * 0x100000 + line.minor;
    let dev = devices.get(number);
    if (dev === undefined) {
      const key = `${line.major}:${line.minor}`;
      dev = { key, kind: known.get(key), granted: grantDevs.has(key) };
      devices.set(number, dev);
    }
    if (dev.kind === undefined) flags.settled = false;
    if (dev.kind === undefined || dev.kind === null) return;
    into.start.push(line.start);
    into.end.push(line.end);
    into.extent.push(line.end - line.start + line.offset);
    into.anon.push(bytesAre(buf, line.pathAt, end, DEV_ZERO) && end - line.pathAt === DEV_ZERO.length ? 1 : bytesAre(buf, line.pathAt, end, SYSV) ? 1 : 0);
    into.shmem.push(dev.kind === "shmem" ? 1 : 0);
    into.granted.push(dev.granted ? 1 : 0);
    into.key.push(`${dev.key}:${buf.toString("latin1", line.inodeAt, line.inodeEnd)}`);
  });
}

/**
 * Resident pages that are file pages (not private copies) of each mapping of `maps`, by
 * its index there, from smaps read in parts; null when smaps reads empty (the address
 * space is gone). smaps lists the mappings in the order maps does (ascending addresses):
 * each header is matched to the next mapping of `maps` at the same addresses, and a
 * mapping changed in between matches none (no pages).
 */
function* filePagesOf(task: number, owner: object, maps: MemoryMappings): Generator<Step, Float64Array | null> {
  const pages = new Float64Array(maps.length);
  const header = emptyMapsLine();
  let next = 0; // the first mapping of `maps` not passed yet
  let current = -1;
  let rss = 0;
  const read = yield* procLines(`/proc/${task}/smaps`, owner, (buf, i, end) => {
    if (hexDigit(buf[i]!) >= 0) {
      // A mapping's header (field names begin with a capital letter).
      current = -1;
      if (!parseMapsLine(buf, i, end, header)) return;
      while (next < maps.length && maps.start[next]! < header.start) next++;
      if (next < maps.length && maps.start[next] === header.start && maps.end[next] === header.end) current = next++;
      return;
    }
    if (current < 0) return;
    if (bytesAre(buf, i, end, RSS)) rss = decAt(buf, skipSpaces(buf, i + RSS.length, end), end) * 1024;
    else if (bytesAre(buf, i, end, ANONYMOUS)) pages[current] = Math.max(0, rss - decAt(buf, skipSpaces(buf, i + ANONYMOUS.length, end), end) * 1024);
  });
  return read === 0 ? null : pages; // its address space went after its maps were read
}

function skipSpaces(buf: Buffer, i: number, end: number): number {
  while (i < end && buf[i] === 32) i++;
  return i;
}

/** A memfd the sandbox created (the supervisor made it: see the memfd_create handler). */
interface HeldMemfd {
  /** The supervisor's read-only probe file of it. */
  fd: number;
  unit: number;
}

export class MemoryFiles {
  /** Whether every look scans the descriptors (the sandbox made a memfd, or one was seen). */
  private memfds = false;
  private fdsScannedAt = -Infinity;
  private readonly grants: GrantMount[];
  /** Every memfd the sandbox created and may still hold, by inode: charged wherever the
   * sandbox keeps it (descriptor, mapping, or a unix socket's queue, where no scan of
   * /proc sees it), until no open file of it is left but the probe. */
  private readonly held = new Map<string, HeldMemfd>();
  /** Last size seen per inode ("major:minor:ino"), for mappings of a file the sandbox did
   * not create (one passed in) that cannot be stat'ed (map_files needs CAP_SYS_ADMIN)
   * once its descriptors are closed. */
  private readonly lastSize = new Map<string, number>();

  /** `writable`: the writable grants' paths. `stageFd`: a maxDisk workdir's stage, a tmpfs
   * of the sandbox's own mount namespace (not in this one's mount table) that holds every
   * byte the sandbox writes in its workdir: memory, charged as a grant's mount is. */
  constructor(writable: readonly string[], stageFd?: number) {
    const paths: string[] = [];
    for (const p of writable) {
      try {
        const st = statSync(p);
        // A device node (/dev/null) cannot hold memory; directories and regular files can.
        if (st.isDirectory() || st.isFile()) paths.push(realpathSync(p));
      } catch {
        // gone since the policy was checked: it grants nothing
      }
    }
    this.grants = [];
    for (const m of memoryMounts()) {
      if (!paths.some((g) => within(m.point, g) || within(g, m.point))) continue;
      const used = usedBytes(m.point);
      if (used !== null) this.grants.push({ point: m.point, dev: m.dev, low: used });
    }
    if (stageFd !== undefined) {
      const point = `/proc/self/fd/${stageFd}`;
      const used = usedBytes(point);
      if (used !== null) this.grants.push({ point, dev: devKey(fstatSync(stageFd, { bigint: true }).dev), low: used });
    }
  }

  /** memfds held (each with its probe descriptor) since the last pass let go of the rest. */
  get heldCount(): number {
    return this.held.size;
  }

  /** A memfd the supervisor made for the sandbox: `probe` is its read-only file, kept
   * (and closed) here. From now on the sandbox's descriptors are looked at every time. */
  adopt(probe: number, unit: number): void {
    this.memfds = true;
    try {
      const st = fstatSync(probe, { bigint: true });
      this.held.set(`${devKey(st.dev)}:${st.ino}`, { fd: probe, unit });
    } catch {
      closeSync(probe);
    }
  }

  /** Closes the probes (the supervisor ends). */
  close(): void {
    for (const h of this.held.values()) closeSync(h.fd);
    this.held.clear();
  }

  /**
   * The key ("major:minor:inode") of an open file (a supervisor's duplicate) whose memory
   * is charged as a file's: a memory-backed regular file off the writable grants' mounts
   * (those are charged by what the mount grew). Null for any other.
   */
  chargedFileKey(fd: number): string | null {
    const path = `/proc/self/fd/${fd}`;
    try {
      const st = statSync(path, { bigint: true });
      if (!st.isFile()) return null;
      const dev = devKey(st.dev);
      if (this.grants.some((g) => g.dev === dev) || kindAt(dev, path) === null) return null;
      return `${dev}:${st.ino}`;
    } catch {
      return null;
    }
  }

  /** The memory kind of an open file (a supervisor's duplicate), or null. */
  kindOfFd(fd: number): MemoryKind | null {
    const path = `/proc/self/fd/${fd}`;
    try {
      const st = statSync(path, { bigint: true });
      return st.isFile() ? kindAt(devKey(st.dev), path) : null;
    } catch {
      return null;
    }
  }

  /**
   * One look at the sandbox's processes (process id -> accounting unit, RssShmem bytes,
   * and the thread whose /proc entry shows its memory and descriptors), and `objects`
   * measured elsewhere, by key ("major:minor:inode"). The growth of
   * the memory-backed mounts under writable grants is charged to unit 0: statfs cannot
   * say who wrote, so whatever the host adds there while the sandbox runs counts too (the
   * baseline is the lowest use seen, so a host deleting files gives the sandbox no room).
   * A generator that yields after each process, every FD_SLICE of its descriptors and of
   * its memory-backed mappings, and every TEXT_PART of its maps and smaps (the sandbox
   * decides how many there are): the watchdog runs it in slices between other work (memory.ts).
   */
  *measure(procs: ReadonlyMap<number, { unit: number; shmem: number; task: number }>, objects: readonly { unit: number; key: string; bytes: number }[] = []): Generator<Step, FileCharges> {
    const files = new Map<number, number>();
    const mappedFilePages = new Map<number, number>();
    const mappingBytes = new Map<number, number>();
    const settled = new Set<number>();
    const charged = new Map<number, Set<string>>();
    const charge = (unit: number, key: string, bytes: number): void => {
      let set = charged.get(unit);
      if (set === undefined) charged.set(unit, (set = new Set()));
      if (set.has(key)) return;
      set.add(key);
      files.set(unit, (files.get(unit) ?? 0) + bytes);
    };
    // Objects measured elsewhere (SysV segments: sysv-segments.ts), charged once with
    // their mappings, which scanMaps then skips.
    for (const o of objects) charge(o.unit, o.key, o.bytes);
    const grantDevs = new Set<string>();
    for (const g of this.grants) {
      grantDevs.add(g.dev);
      const used = usedBytes(g.point);
      if (used === null) continue;
      g.low = Math.min(g.low, used);
      if (used > g.low) files.set(0, (files.get(0) ?? 0) + used - g.low);
    }
    const visible = new Set<string>();
    const fds = this.memfds || Date.now() - this.fdsScannedAt >= FOREIGN_FD_SCAN_MS;
    if (fds) this.fdsScannedAt = Date.now();
    for (const [pid, { unit, shmem, task }] of procs) {
      if (fds) {
        const before = visible.size;
        yield* this.scanFds(task, unit, grantDevs, charge, visible);
        // A memory-backed file the sandbox did not make (handed in): every look from now on.
        if (visible.size > before) this.memfds = true;
      }
      // Every process's mappings, every time: a shared anonymous object holds its pages
      // whether or not any process has them in its page tables (RssShmem).
      if (yield* this.scanMaps(pid, task, unit, shmem > 0, grantDevs, charge, mappedFilePages, mappingBytes, charged, visible)) settled.add(pid);
      yield;
    }
    this.chargeHeld(charge, visible);
    return { files, mappedFilePages, mappingBytes, settled };
  }

  /**
   * The sandbox's memfds by their probe: charged by their allocated blocks while any
   * open file of them but the probe exists (leaseFree: the inode's reader and writer
   * counts, which every descriptor, mapping and queued SCM_RIGHTS message keeps up) or a
   * descriptor of the sandbox still shows it (an O_PATH file counts in neither). Then
   * the probe goes, and with it the supervisor's hold on the memory. Where leases are
   * off (fs.leases-enable 0) only what /proc shows keeps a memfd charged.
   */
  private chargeHeld(charge: (unit: number, key: string, bytes: number) => void, visible: ReadonlySet<string>): void {
    const nat = native();
    for (const [key, h] of this.held) {
      const free = nat.leaseFree(h.fd);
      if (free !== 0 && !visible.has(key)) {
        closeSync(h.fd);
        this.held.delete(key);
        continue;
      }
      try {
        const bytes = Number(fstatSync(h.fd, { bigint: true }).blocks) * 512;
        this.lastSize.set(key, bytes);
        charge(h.unit, key, bytes);
      } catch {
        // the probe is ours: cannot fail
      }
    }
  }

  /** Every descriptor of a process (read through thread `task`) that is a memory-backed
   * file off the grant mounts: charged by its allocated blocks, once per inode and unit. */
  private *scanFds(task: number, unit: number, grantDevs: ReadonlySet<string>, charge: (unit: number, key: string, bytes: number) => void, visible: Set<string>): Generator<void, void> {
    let names: string[];
    try {
      names = readdirSync(`/proc/${task}/fd`);
    } catch {
      return; // gone
    }
    for (const [i, name] of names.entries()) {
      if (i % FD_SLICE === FD_SLICE - 1) yield;
      const path = `/proc/${task}/fd/${name}`;
      let st;
      try {
        st = statSync(path, { bigint: true, throwIfNoEntry: false });
      } catch {
        continue;
      }
      if (st === undefined || !st.isFile()) continue;
      const dev = devKey(st.dev);
      if (grantDevs.has(dev) || kindAt(dev, path) === null) continue;
      const key = `${dev}:${st.ino}`;
      const bytes = Number(st.blocks) * 512;
      visible.add(key);
      this.lastSize.set(key, bytes);
      charge(unit, key, bytes);
    }
  }

  /** Mappings of memory-backed files: their resident file pages leave the process's
   * RssShmem figure (they are charged as the file), and a file held only by a mapping is
   * charged by its size (map_files, or the last size seen), at least what is resident.
   * smaps (which walks page tables) is read only when some shmem page is resident.
   *
   * Shared anonymous objects (and SysV segments) are charged the same way, by inode:
   * MADV_DONTNEED drops a shared mapping's page table entries but not its pages, a forked
   * child inherits the mapping with no pages in its tables, and a mapping unmapped but for
   * one page still holds the whole object, so RssShmem alone let a sandbox hold any amount
   * (second review of issue 9). Their true size is the object's blocks, through map_files
   * (a supervisor with CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE); otherwise the furthest
   * extent any mapping of it reaches, or was last seen to reach: an object cut down to a
   * part between two looks is then charged for that part only (docs/security.md).
   * True when the process is settled (see FileCharges.settled). */
  private *scanMaps(
    pid: number, task: number, unit: number, resident: boolean, grantDevs: ReadonlySet<string>, charge: (unit: number, key: string, bytes: number) => void,
    mappedFilePages: Map<number, number>, mappingBytes: Map<number, number>, charged: Map<number, Set<string>>, visible: Set<string>,
  ): Generator<Step, boolean> {
    const hits = new MemoryMappings();
    const flags = { settled: true, mappings: 0, fileMappings: 0 };
    const read = yield* memoryMappingsOf(task, this, knownKinds(), grantDevs, hits, flags);
    if (read < 0) return false;
    // The mappings' own kernel memory (MAPPING_BYTES): the process's, like its page tables.
    mappingBytes.set(pid, flags.mappings * MAPPING_BYTES + flags.fileMappings * FILE_MAPPING_BYTES);
    // A live process always maps something (its stack, the vDSO): an empty read is one
    // whose address space is gone (exiting), and its RssShmem read before is stale.
    if (read === 0) return true;
    if (hits.length === 0) return flags.settled;
    const pages = resident ? yield* filePagesOf(task, this, hits) : new Float64Array(hits.length);
    if (pages === null) return true;
    const unknown = new Map<string, number>(); // key -> resident bytes, size unknown
    const reach = new Map<string, number>(); // shared anonymous object's key -> furthest extent
    for (let i = 0; i < hits.length; i++) {
      if (i % MAPPING_SLICE === MAPPING_SLICE - 1) yield;
      const inMapping = pages[i]!;
      if (hits.shmem[i] === 1) mappedFilePages.set(pid, (mappedFilePages.get(pid) ?? 0) + inMapping);
      if (hits.granted[i] === 1) continue;
      const key = hits.key[i]!;
      visible.add(key);
      if (charged.get(unit)?.has(key) || this.held.has(key)) continue; // a held memfd: its probe measures it
      let size: number | undefined;
      if (mapFilesReadable) {
        try {
          const st = statSync(`/proc/${task}/map_files/${mapFilesName(hits.start[i]!, hits.end[i]!)}`, { throwIfNoEntry: false });
          if (st !== undefined) size = st.blocks * 512;
        } catch (e) {
          if (isDenied(e)) mapFilesReadable = false;
        }
      }
      if (size !== undefined) {
        this.lastSize.set(key, size);
        charge(unit, key, size);
      } else {
        unknown.set(key, (unknown.get(key) ?? 0) + inMapping);
        if (hits.anon[i] === 1) reach.set(key, Math.max(reach.get(key) ?? 0, hits.extent[i]!));
      }
    }
    let k = 0;
    for (const [key, inMappings] of unknown) {
      // One per object, which a sandbox decides (20,000 took 5-20 ms in one step).
      if (++k % MAPPING_SLICE === 0) yield;
      const extent = reach.get(key);
      // A shared anonymous object has no other measure: what it was last seen to reach
      // stays charged while any mapping of it is left.
      if (extent !== undefined) this.lastSize.set(key, Math.max(this.lastSize.get(key) ?? 0, extent));
      charge(unit, key, Math.max(this.lastSize.get(key) ?? 0, inMappings));
    }
    return flags.settled;
  }
}
