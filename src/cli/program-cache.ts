// The CLI's on-disk cache of assembled seccomp programs, beside the bundle: a `sandlock run`
// whose policy needs a program an earlier run assembled reads it instead of assembling it
// cold (about 2 to 6 ms of a start). Trusted exactly as the V8 code cache of bin/sandlock.cjs.

import { chmodSync, closeSync, constants, fstatSync, lstatSync, openSync, readSync, readdirSync, renameSync, rmSync, statSync, writeFileSync, type Stats } from "node:fs";
import { dirname, join } from "node:path";
import type { ProgramStore } from "../plan/plan.js";

/** Where the bin found the bundle and the build id it carries (bin/sandlock.cjs). */
export interface BundleInfo {
  readonly bundle: string;
  readonly buildId: string;
}

/** Files written: one per distinct filter (they hold no path: a few dozen at most). */
const FILE = /^sandlock\.seccomp\.[0-9a-f]+\.cache(\.\d+\.tmp)?$/;
/** BPF_MAXINSNS instructions of 8 bytes, and the key's two lines. */
const MAX_BYTES = 4096 * 8 + 64 * 1024;
const MONTH_MS = 30 * 24 * 3600 * 1000;

/** Owned by the bundle's owner and writable by nobody else. */
function trusted(st: Stats, owner: number): boolean {
  return st.uid === owner && (st.mode & 0o022) === 0;
}

/** FNV-1a of the text: the file's name only (the whole key is compared inside). */
function fnv(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16);
}

/**
 * Why beside the bundle and not in ~/.cache: a cached filter is what confines the next
 * sandbox, read by an unsandboxed `sandlock run`. A sandbox granted write access to
 * ~/.cache (build tools keep caches there) could plant an empty filter and escape every
 * later run of that user; owner and mode checks cannot tell its file from the user's, since
 * it runs as the user. Beside the bundle a file is trusted exactly as the bundle is: owned
 * by the bundle's owner, writable by nobody else, in a directory of that owner that nobody
 * else can write. Whoever can plant one there could replace the bundle itself. It is read
 * without following a link or blocking on a FIFO, must be a regular file with one name, and
 * must hold the whole key: the build id (the assembler's code), the architecture and the
 * filter's spec, compared as text.
 */
export class ProgramCache implements ProgramStore {
  readonly dir: string;
  private readonly owner: number;
  private readonly head: string;
  /** The directory's check, made once (undefined: not yet). */
  private dirOk: boolean | undefined;

  constructor(info: BundleInfo) {
    this.dir = dirname(info.bundle);
    this.owner = statSync(info.bundle).uid;
    this.head = `sandlock-seccomp ${info.buildId} ${process.arch}\n`;
  }

  private dirTrusted(): boolean {
    if (this.dirOk === undefined) {
      try {
        const st = lstatSync(this.dir);
        this.dirOk = st.isDirectory() && trusted(st, this.owner);
      } catch {
        this.dirOk = false;
      }
    }
    return this.dirOk;
  }

  private fileOf(specKey: string): string {
    return join(this.dir, `sandlock.seccomp.${fnv(`${process.arch}\n${specKey}`)}.cache`);
  }

  /** The program stored under exactly this key, or undefined (absent, untrusted, other key). */
  get(specKey: string): Buffer | undefined {
    if (!this.dirTrusted()) return undefined;
    const data = readTrusted(this.fileOf(specKey), this.owner);
    if (data === undefined) return undefined;
    const key = Buffer.from(`${this.head}${specKey}\n`);
    if (data.length <= key.length || !data.subarray(0, key.length).equals(key)) return undefined;
    const program = data.subarray(key.length);
    return program.length % 8 === 0 && program.length <= 4096 * 8 ? program : undefined;
  }

  /** Stored by the bundle's owner only (so that it is trusted when read), readable by all.
   * Any failure (a read-only install, a full disk) leaves the next run to assemble again. */
  put(specKey: string, program: Buffer): void {
    if (process.geteuid?.() !== this.owner || !this.dirTrusted()) return;
    const file = this.fileOf(specKey);
    const tmp = `${file}.${process.pid}.tmp`;
    try {
      // wx: O_CREAT|O_EXCL, which never follows a link at the name.
      writeFileSync(tmp, Buffer.concat([Buffer.from(`${this.head}${specKey}\n`), program]), { mode: 0o644, flag: "wx" });
      chmodSync(tmp, 0o644); // whatever the umask: every user of this copy reads it
      renameSync(tmp, file); // concurrent runs each write whole files; the last one stays
      this.prune(file);
    } catch {
      rmSync(tmp, { force: true });
    }
  }

  /** Files untouched for 30 days go when one is written (one still in use is written once more). */
  private prune(kept: string): void {
    const old = Date.now() - MONTH_MS;
    for (const name of readdirSync(this.dir)) {
      if (!FILE.test(name)) continue;
      const file = join(this.dir, name);
      try {
        if (file !== kept && lstatSync(file).mtimeMs < old) rmSync(file, { force: true });
      } catch {
        // removed by a concurrent run
      }
    }
  }
}

/** The file's bytes when it is a regular file with one name, owned by `owner`, writable by
 * nobody else and small; opened without following a link and without blocking. */
function readTrusted(file: string, owner: number): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK); // libuv adds O_CLOEXEC
  } catch {
    return undefined;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || !trusted(st, owner) || st.nlink !== 1 || st.size > MAX_BYTES) return undefined;
    const buf = Buffer.allocUnsafe(st.size);
    let n = 0;
    while (n < buf.length) {
      const got = readSync(fd, buf, n, buf.length - n, n);
      if (got === 0) return undefined; // shrank under us
      n += got;
    }
    return buf;
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}
