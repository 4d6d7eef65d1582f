// Memory a sandbox holds in memory-backed files (maxMemory, SPEC 10): the memfds it made
// (each watched through a probe file of the supervisor's, wherever the sandbox keeps it),
// other tmpfs/hugetlbfs files reachable through its descriptors and mappings, and what
// the memory-backed mounts beneath its writable grants grew by since it started.

import { closeSync, fstatSync, openSync, readdirSync, readFileSync, readSync, realpathSync, statfsSync, statSync } from "node:fs";
import { native } from "../confine/native.js";

const TMPFS_MAGIC = 0x01021994; // tmpfs, devtmpfs and the kernel's memfd mount
const HUGETLBFS_MAGIC = 0x958458f6;
/** How long a device number's file system type is trusted (anonymous device numbers are
 * reused once a file system is unmounted). */
const KIND_TTL_MS = 10_000;
/** Descriptors of one process looked at between two of the watchdog's yields (a stat each,
 * about 5 us). */
const FD_SLICE = 512;

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
  /** Processes all of whose shared pages this look charged as files (none mapped from a
   * device mountinfo does not name), or whose address space was gone when read (exiting):
   * their RssShmem is not theirs to pay, whatever moment their status was read at. */
  settled: Set<number>;
}

/** A mapping of a maps text whose file lives in memory. `anon`: shared anonymous memory
 * (MAP_SHARED|MAP_ANONYMOUS, /dev/zero) or a SysV segment, an object of the kernel's
 * internal shmem mount that only mappings hold; `extent`: how far into its object the
 * mapping reaches (offset + length). */
interface MemoryMapping {
  range: string;
  dev: string;
  ino: string;
  kind: MemoryKind;
  anon: boolean;
  extent: number;
}

/** The bytes of /proc text read in one step: about 2,500 lines of maps, 250 mappings of smaps. */
const TEXT_PART = 256 * 1024;

/**
 * The lines of a /proc file, read TEXT_PART bytes at a time on one open file (the kernel
 * goes on where the last read stopped; a reopen or a seek would walk the mappings again
 * from the start), yielding after each part. Returns the bytes read, -1 when it could not
 * be opened. The file is closed when the generator ends, is returned or throws.
 */
function* procLines(path: string, each: (line: string) => void): Generator<void, number> {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch {
    return -1;
  }
  try {
    const buf = Buffer.allocUnsafe(TEXT_PART);
    let total = 0;
    let rest = "";
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, buf, 0, TEXT_PART, null);
      } catch {
        n = 0; // the process went while it was read: what was read stands
      }
      if (n === 0) break;
      total += n;
      const lines = (rest + buf.toString("latin1", 0, n)).split("\n");
      rest = lines.pop()!;
      for (const line of lines) each(line);
      yield;
    }
    if (rest !== "") each(rest);
    return total;
  } finally {
    closeSync(fd);
  }
}

const MAPS_LINE = /^([0-9a-f]+)-([0-9a-f]+) \S+ ([0-9a-f]+) ([0-9a-f]+):([0-9a-f]+) (\d+)\s*(.*)$/;

/** The mapping of a maps line when its file lives in memory; null when it does not, or
 * is no file; undefined when its device is one no mount names (a mount namespace of the
 * sandbox's own): such a file may be memory-backed, and its shared pages stay the
 * process's to pay (RssShmem). */
function memoryMapping(line: string, known: ReadonlyMap<string, MemoryKind | null>): MemoryMapping | null | undefined {
  const m = MAPS_LINE.exec(line);
  if (m === null || m[6] === "0") return null;
  const dev = `${parseInt(m[4]!, 16)}:${parseInt(m[5]!, 16)}`;
  const kind = known.get(dev);
  if (kind === undefined) return undefined;
  if (kind === null) return null;
  const path = m[7] ?? "";
  const anon = path === "/dev/zero (deleted)" || path.startsWith("/SYSV");
  const extent = parseInt(m[2]!, 16) - parseInt(m[1]!, 16) + parseInt(m[3]!, 16);
  return { range: `${m[1]}-${m[2]}`, dev, ino: m[6]!, kind, anon, extent };
}

/**
 * The name map_files gives the mapping of a maps range: the same addresses without the
 * zeros maps pads them with to 8 digits ("00400000-00452000" is "400000-452000"). Looked
 * up by the padded name, every mapping below 0x10000000 read as having no size, and a
 * shared object mapped there by one page was charged that page (docs/security.md).
 */
export function mapFilesName(range: string): string {
  return range.replace(/^0+(?=[0-9a-f])/, "").replace(/-0+(?=[0-9a-f])/, "-");
}

/** Resident pages that are file pages (not private copies) per mapping range, from smaps
 * read in parts; null when smaps reads empty (the address space is gone). */
function* filePagesOf(task: number, ranges: ReadonlySet<string>): Generator<void, Map<string, number> | null> {
  const out = new Map<string, number>();
  let current: string | undefined;
  let rss = 0;
  const read = yield* procLines(`/proc/${task}/smaps`, (line) => {
    const head = /^([0-9a-f]+-[0-9a-f]+) /.exec(line);
    if (head !== null) {
      current = ranges.has(head[1]!) ? head[1]! : undefined;
      return;
    }
    if (current === undefined) return;
    const kv = /^(Rss|Anonymous):\s+(\d+) kB$/.exec(line);
    if (kv === null) return;
    if (kv[1] === "Rss") rss = Number(kv[2]) * 1024;
    else out.set(current, Math.max(0, rss - Number(kv[2]) * 1024));
  });
  return read === 0 ? null : out; // its address space went after its maps were read
}

/** A memfd the sandbox created (the supervisor made it: see the memfd_create handler). */
interface HeldMemfd {
  /** The supervisor's read-only probe file of it. */
  fd: number;
  unit: number;
}

export class MemoryFiles {
  private memfds = false;
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
   * (and closed) here. From now on the sandbox's descriptors are looked at too. */
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
  *measure(procs: ReadonlyMap<number, { unit: number; shmem: number; task: number }>, objects: readonly { unit: number; key: string; bytes: number }[] = []): Generator<void, FileCharges> {
    const files = new Map<number, number>();
    const mappedFilePages = new Map<number, number>();
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
    for (const [pid, { unit, shmem, task }] of procs) {
      if (this.memfds) yield* this.scanFds(task, unit, grantDevs, charge, visible);
      // Every process's mappings, every time: a shared anonymous object holds its pages
      // whether or not any process has them in its page tables (RssShmem).
      if (yield* this.scanMaps(pid, task, unit, shmem > 0, grantDevs, charge, mappedFilePages, charged, visible)) settled.add(pid);
      yield;
    }
    this.chargeHeld(charge, visible);
    return { files, mappedFilePages, settled };
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
    mappedFilePages: Map<number, number>, charged: Map<number, Set<string>>, visible: Set<string>,
  ): Generator<void, boolean> {
    const hits: MemoryMapping[] = [];
    const known = knownKinds();
    let settled = true;
    const read = yield* procLines(`/proc/${task}/maps`, (line) => {
      const h = memoryMapping(line, known);
      if (h === undefined) settled = false;
      else if (h !== null) hits.push(h);
    });
    if (read < 0) return false;
    // A live process always maps something (its stack, the vDSO): an empty read is one
    // whose address space is gone (exiting), and its RssShmem read before is stale.
    if (read === 0) return true;
    if (hits.length === 0) return settled;
    const pages = resident ? yield* filePagesOf(task, new Set(hits.map((h) => h.range))) : new Map<string, number>();
    if (pages === null) return true;
    const unknown = new Map<string, number>(); // inode -> resident bytes, size unknown
    const reach = new Map<string, number>(); // shared anonymous inode -> furthest extent
    for (const [i, h] of hits.entries()) {
      if (i % FD_SLICE === FD_SLICE - 1) yield;
      const inMapping = pages.get(h.range) ?? 0;
      if (h.kind === "shmem") mappedFilePages.set(pid, (mappedFilePages.get(pid) ?? 0) + inMapping);
      if (grantDevs.has(h.dev)) continue;
      const key = `${h.dev}:${h.ino}`;
      visible.add(key);
      if (charged.get(unit)?.has(key) || this.held.has(key)) continue; // a held memfd: its probe measures it
      let size: number | undefined;
      try {
        const st = statSync(`/proc/${task}/map_files/${mapFilesName(h.range)}`, { bigint: true, throwIfNoEntry: false });
        if (st !== undefined) size = Number(st.blocks) * 512;
      } catch {
        // EPERM without CAP_SYS_ADMIN
      }
      if (size !== undefined) {
        this.lastSize.set(key, size);
        charge(unit, key, size);
      } else {
        unknown.set(key, (unknown.get(key) ?? 0) + inMapping);
        if (h.anon) reach.set(key, Math.max(reach.get(key) ?? 0, h.extent));
      }
    }
    for (const [key, inMappings] of unknown) {
      const extent = reach.get(key);
      // A shared anonymous object has no other measure: what it was last seen to reach
      // stays charged while any mapping of it is left.
      if (extent !== undefined) this.lastSize.set(key, Math.max(this.lastSize.get(key) ?? 0, extent));
      charge(unit, key, Math.max(this.lastSize.get(key) ?? 0, inMappings));
    }
    return settled;
  }
}
