// protectedFiles by the supervisor, for opens: an open that may write or create (its flags
// register says so) is performed by the supervisor on what it pinned and proved, and the
// descriptor injected (ADDFD); read-only opens never come here (plan/seccomp-names.ts).

import { closeSync } from "node:fs";
import { native } from "../../confine/native.js";
import { SYSCALLS } from "../../kernel/syscalls.js";
import { deny, type Action } from "../action.js";
import { openat2Bytes } from "../caller-path.js";
import { isType, S_IF, type FileId } from "../grant-proof.js";
import type { Handler, HandlerTable } from "../handler.js";
import type { Notification } from "../notification.js";
import { AT_FDCWD, O } from "../paths.js";
import { privateObject, type CallerCredentials } from "./fs-meta.js";
import { withCall, type Call } from "./names.js";
import { ENFILE, FifoWaits, NO_ROOM } from "./names-fifo.js";
import { E, copyPath, createMode, deniedByCallback, holdsProtected, isDot, isProtected, partsOf, pinPath, protectedInode, realPath, sitePath, splitPath, type NameEnv } from "./names-site.js";
import { WRITE_OPEN_FLAGS } from "../../plan/seccomp-names.js";

const NR = SYSCALLS as Readonly<Record<string, number>>;
/** Flags openat2 accepts (it refuses unknown bits where open and openat ignore them). */
const VALID_FLAGS = 0o37777703;
const NOCTTY = 0o400;
const OPEN_HOW_BYTES = 24;
/** Attempts when the name appears or goes between the supervisor's look and its create. */
const ATTEMPTS = 3;

/** openat2 with a mode, as the caller (caps); the descriptor or -errno. */
function openHow(dirfd: number, path: Buffer, flags: number, mode: number, caps: bigint): number {
  const how = Buffer.alloc(OPEN_HOW_BYTES);
  how.writeBigUInt64LE(BigInt(flags), 0);
  how.writeBigUInt64LE(BigInt(mode), 8);
  return native().nameSyscallAs(NR.openat2!, caps, dirfd, Buffer.concat([path, Buffer.alloc(1)]), how, OPEN_HOW_BYTES);
}

const via = (fd: number): Buffer => Buffer.from(`/proc/self/fd/${fd}`);
const inject = (fd: number, flags: number): Action => ({ kind: "inject", fd, cloexec: (flags & O.CLOEXEC) !== 0, close: true });

/**
 * What an existing file may be opened for writing as: a pipe, socket or memfd of the
 * sandbox's (/dev/stdout) wherever it came from (fs-meta.ts privateObject); anything else
 * only beneath a writable grant (EACCES otherwise, Landlock's answer) and at no protected
 * position nor as a protected inode reached by a second name.
 */
function writableExisting(c: Call, fd: number, st: FileId): boolean {
  if (privateObject(fd, st)) return true;
  const parts = c.env.grants.position(fd, st, c.root);
  return parts !== undefined && !isProtected(parts, c.env) && !holdsProtected(parts, c.env) && !protectedInode(c.env, st);
}

/** What a read open may reach (policyFn's file events): what Landlock would let the caller
 * read, proved as writes are, beneath any grant; or the sandbox's own pipes and memfds. */
function readableExisting(c: Call, fd: number, st: FileId): boolean {
  return privateObject(fd, st) || c.env.readGrants.position(fd, st, c.root) !== undefined;
}

/**
 * The last word before the supervisor acts: policyFn's ctx.denyPath rules, then (with
 * policyFnFiles) the callback, asked with the real path the supervisor pinned and will
 * open, and whether the static policy refuses it (`denied`: it is refused then whatever
 * the verdict). The caller waits in its call meanwhile; the pins stay open (names.ts
 * withCall), so whatever the caller's memory says after the copy changes nothing.
 */
function gated(c: Call, syscall: string, path: string, denied: boolean, act: () => Action | Promise<Action>): Action | Promise<Action> {
  if (deniedByCallback(c.env, syscall, path)) return deny(E.EACCES);
  const gate = c.env.gate;
  if (gate === undefined) return denied ? deny(E.EACCES) : act();
  return gate(c.n, syscall, path, denied).then((errno) => {
    if (errno !== undefined) return deny(errno);
    if (denied) return deny(E.EACCES);
    return c.valid() ? act() : deny(E.EPERM);
  });
}

/**
 * Reopens the pinned file through /proc/self/fd/N (which reaches that inode, never a name
 * again) with the caller's flags and capabilities, O_NOCTTY added: a terminal must never
 * become the supervisor's. A FIFO opened for reading or writing without O_NONBLOCK waits
 * for its other end: held by names-fifo.ts within the sandbox's budget (NO_ROOM beyond).
 */
function reopen(c: Call, fd: number, st: FileId, flags: number): Action | Promise<Action> {
  const want = (flags & VALID_FLAGS & ~(O.CREAT | O.EXCL | O.NOFOLLOW)) | NOCTTY | O.CLOEXEC;
  // A FIFO's blocking open (for writing: until a reader comes; for reading, which policyFn's
  // file events bring here: until a writer does) would block the supervisor's thread.
  const blocking = isType(st, S_IF.FIFO) && (flags & O.NONBLOCK) === 0 ? flags & O.ACCMODE : -1;
  if (c.fifos !== undefined && blocking === 0 /* O_RDONLY */) return c.fifos.holdReader(c.n, c.caps, fd, want, (got) => inject(got, flags));
  // Any other open the caller wants blocking is made without blocking and held while it
  // would wait: a FIFO writer until a reader comes (ENXIO), a file under another's lease
  // until the lease is broken (EWOULDBLOCK: the kernel waits up to fs.lease-break-time,
  // 45 s, and a sandbox can take a lease on its own file, so a blocking open here froze
  // the host's event loop for that long, again at every open).
  if (c.fifos !== undefined && (flags & O.NONBLOCK) === 0) return c.fifos.hold(c.n, c.caps, fd, want, (got) => inject(got, flags));
  const got = openHow(AT_FDCWD, via(fd), want, 0, c.caps);
  return got < 0 ? deny(-got) : inject(got, flags);
}

/**
 * One write or create open, decided on the supervisor's copy of the path. The path is
 * pinned as the caller's lookup would resolve it; an existing file is reopened from the
 * pin (writableExisting); a missing one is created in the pinned, proved parent with
 * O_EXCL|O_NOFOLLOW (so the supervisor knows it made it, and a symlink swapped in is never
 * followed), with the caller's umask; the new descriptor is injected. A sibling thread
 * rewriting the path or swapping a component afterwards changes nothing: no name is
 * looked up again.
 */
function performOpen(c: Call, syscall: string, dirfd: number, path: Buffer, flags: number, mode: number, attempts: number): Action | Promise<Action> {
  if (path.length === 0) return deny(E.ENOENT);
  const tmpfile = (flags & O.TMPFILE) !== 0;
  const excl = (flags & (O.CREAT | O.EXCL)) === (O.CREAT | O.EXCL);
  const follow = (flags & O.NOFOLLOW) === 0 && !excl;
  const fd = c.own(pinPath(c.n, { dirfd, path, follow, emptyPath: false }, c.caps, c.root));
  if (tmpfile) {
    // An unnamed file in a directory: it can only get a name by link(), which names.ts
    // checks. The directory must be beneath a writable grant and unprotected.
    if (fd < 0) return deny(-fd);
    const st = native().fileId(fd);
    if (typeof st === "number") return deny(-st);
    const dir: FileId = { dev: st[0], ino: st[1], mode: st[2], nlink: st[3] };
    const m = createMode(c.n, mode);
    if (typeof m === "number") return deny(m);
    if (!c.valid()) return deny(E.EPERM);
    const parts = c.env.grants.position(fd, dir, c.root);
    if (parts !== undefined && isProtected(parts, c.env)) return deny(E.EACCES);
    return gated(c, syscall, realPath(fd), parts === undefined, () => {
      const got = openHow(AT_FDCWD, via(fd), (flags & VALID_FLAGS) | NOCTTY | O.CLOEXEC, m.mode, c.caps);
      if (got >= 0 && m.fix) native().nameSyscallAs(NR.fchmod!, c.caps, got, m.mode);
      return got < 0 ? deny(-got) : inject(got, flags);
    });
  }
  if (fd >= 0) {
    if (excl) return deny(E.EEXIST);
    const r = native().fileId(fd);
    if (typeof r === "number") return deny(-r);
    const st: FileId = { dev: r[0], ino: r[1], mode: r[2], nlink: r[3] };
    if (isType(st, S_IF.LNK)) return deny(E.ELOOP);
    if (!c.valid()) return deny(E.EPERM);
    const writes = (flags & WRITE_OPEN_FLAGS) !== 0;
    const ok = writes ? writableExisting(c, fd, st) : readableExisting(c, fd, st);
    // A protected file is refused before any event: the callback cannot allow it.
    if (!ok && writes && c.env.protect && c.env.grants.position(fd, st, c.root) !== undefined) return deny(E.EACCES);
    return gated(c, syscall, realPath(fd), !ok, () => reopen(c, fd, st, flags));
  }
  if (fd !== -E.ENOENT || (flags & O.CREAT) === 0) return deny(-fd);
  const split = splitPath(path);
  if (split.trailing || isDot(split.name)) return deny(E.EISDIR);
  const site = c.parent(dirfd, split);
  if (typeof site === "number") return deny(-site);
  const m = createMode(c.n, mode);
  if (typeof m === "number") return deny(m);
  if (!c.valid()) return deny(E.EPERM);
  const parts = partsOf(site, split.name);
  // A `.git` file would point git at a directory of the sandbox's (names.ts createAllowed).
  if (isProtected(parts, c.env) || holdsProtected(parts, c.env)) return deny(E.EACCES);
  return gated(c, syscall, sitePath(site, split.name), false, () => createIn(c, syscall, site, split.name, dirfd, path, flags, mode, m, attempts));
}

/** The create itself, in the pinned and proved parent (see performOpen). */
function createIn(c: Call, syscall: string, site: { fd: number }, name: Buffer, dirfd: number, path: Buffer, flags: number, mode: number, m: { mode: number; fix: boolean }, attempts: number): Action | Promise<Action> {
  const excl = (flags & (O.CREAT | O.EXCL)) === (O.CREAT | O.EXCL);
  const split = { name };
  const want = (flags & VALID_FLAGS) | O.CREAT | O.EXCL | O.NOFOLLOW | NOCTTY | O.CLOEXEC;
  const got = openHow(site.fd, split.name, want, m.mode, c.caps);
  if (got === -E.EEXIST && !excl) {
    // Made (or swapped in) by someone else since the look: decide again from the start. A
    // dangling symlink stays EEXIST here, never followed: the supervisor does not create
    // through a link (docs/security.md, "Protected files").
    const again = openat2Bytes(site.fd, split.name, O.PATH | O.NOFOLLOW | O.CLOEXEC, 0, c.caps);
    const link = again >= 0 && (() => { const q = native().fileId(again); return typeof q !== "number" && (q[2] & 0o170000) === S_IF.LNK; })();
    if (again >= 0) closeSync(again);
    if (link) return deny(E.EACCES);
    if (attempts > 1) return performOpen(c, syscall, dirfd, path, flags, mode, attempts - 1);
  }
  if (got < 0) return deny(-got);
  if (m.fix) native().nameSyscallAs(NR.fchmod!, c.caps, got, m.mode);
  return inject(got, flags);
}

interface OpenArgs {
  dirfd: number;
  pathArg: number;
  flags: number;
  mode: number;
}

function decode(n: Notification): OpenArgs | undefined {
  if (n.nr === NR.open) return { dirfd: AT_FDCWD, pathArg: 0, flags: n.argU32(1), mode: n.argU32(2) };
  if (n.nr === NR.openat) return { dirfd: n.argI32(0), pathArg: 1, flags: n.argU32(2), mode: n.argU32(3) };
  if (n.nr === NR.creat) return { dirfd: AT_FDCWD, pathArg: 0, flags: O.CREAT | O.WRONLY | O.TRUNC, mode: n.argU32(1) };
  return undefined;
}

/**
 * `events` (policyFnFiles): every open is performed here, reads included, and is an event;
 * otherwise only the opens that may write or create (protectedFiles).
 */
export function namesOpenHandlers(env: NameEnv, creds: CallerCredentials, events: boolean, onClose: (fn: () => void) => void): HandlerTable {
  const fifos = new FifoWaits(env.memory, openHow, onClose);
  const open: Handler = (n) => {
    const a = decode(n);
    if (a === undefined) return undefined;
    // An O_PATH handle (whatever else its flags say: the kernel drops them) reads and
    // writes nothing, and a read-only open without file events has nothing to decide here:
    // both go on in the kernel. This rests on the flags register alone, which no other
    // thread can change, never on the caller's memory.
    if ((a.flags & O.PATH) !== 0 || (!events && (a.flags & WRITE_OPEN_FLAGS) === 0)) return undefined;
    const syscall = n.nr === NR.open ? "open" : n.nr === NR.creat ? "creat" : "openat";
    const run = (): Action | Promise<Action> => {
      const out = withCall(n, env, creds, (c) => {
        c.fifos = fifos;
        const path = copyPath(n, env.memory, a.pathArg);
        if (typeof path === "number") return deny(path);
        return performOpen(c, syscall, a.dirfd, path, a.flags, a.mode & 0o7777, ATTEMPTS);
      });
      // A FIFO open the budget had no room to hold: its pins are closed now (withCall);
      // it waits holding nothing and is made again from the start (the path copied and
      // pinned anew: the call is still pending, nothing was decided on the old copy).
      const retry = (r: Action): Action | Promise<Action> => r !== NO_ROOM ? r : fifos.room(n).then((ok) => {
        if (!ok) return deny(ENFILE);
        // The room reserved is taken by the new attempt's hold (after policyFn's verdict,
        // when there is one); what it did not take is given back once it is answered.
        let again: Action | Promise<Action>;
        try {
          again = run();
        } catch (e) {
          fifos.drop(n);
          throw e;
        }
        if (again instanceof Promise) return again.finally(() => fifos.drop(n));
        fifos.drop(n);
        return again;
      });
      return out instanceof Promise ? out.then(retry) : retry(out);
    };
    return run();
  };
  // openat2's flags are in memory, which another thread can rewrite after any look: the
  // filter refuses it with ENOSYS (plan/seccomp-names.ts); if another concern routes it
  // here, the answer is the same. libc and language runtimes fall back to openat.
  return { open, openat: open, creat: open, openat2: () => deny(E.ENOSYS) };
}
