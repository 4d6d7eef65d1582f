// No set-user-ID or set-group-ID bit in the mode of a file the sandbox creates (eighth
// review). The supervisor refuses chmod to these bits (fs-meta.ts), and a write, truncate or
// fallocate by a process without CAP_FSETID clears them, so a file created with them stays
// empty while the sandbox holds it. But a privileged writer keeps them: host root's
// `cp prog f`, `cat > f` or `curl -o f` into an empty 04755 file a sandbox left in its
// writable grant (it opens the file with O_TRUNC and writes it: the inode, owner and mode
// stay) made a set-user-ID program of the sandbox's owner, root's under a root caller.
// The mode is an argument in a register for open, openat, creat, mknod and mknodat, which the
// kernel copied at entry: the filter refuses the bits there with EPERM, as fs-meta.ts
// answers a chmod to them, before any other concern's route. openat2 keeps its mode in
// memory, where no filter can read it and another thread can rewrite it after any look:
// it stays allowed (ENOSYS would break sandlock inside a sandbox, whose launcher and
// supervisor need its RESOLVE flags), an open limit (docs/security.md, "Known limits").

import { type BpfAssembler, Ret, SeccompData } from "./bpf/assembler.js";

/** S_ISUID | S_ISGID. */
export const SET_ID_BITS = 0o6000;
/** O_CREAT | __O_TMPFILE: the flags with which open and openat read their mode. */
export const CREATE_FLAGS = 0o100 | 0o20000000;

/** Each create call and where its flags (undefined: it always creates) and mode are. */
export const SET_ID_CREATES: readonly (readonly [name: string, flags: number | undefined, mode: number])[] = [
  ["open", 1, 2],
  ["openat", 2, 3],
  ["creat", undefined, 1],
  ["mknod", undefined, 1],
  ["mknodat", undefined, 2],
];

type Handler = (b: BpfAssembler, p: string) => void;

/**
 * Puts `check` before syscall n's handler (or the plain allow when it has none): `check`
 * refuses what it must and jumps to `ok` for everything else, which the inner handler, or
 * the allow, then decides as before.
 */
function guardFirst(handlers: Map<number, Handler>, n: number, check: (b: BpfAssembler, ok: string) => void): void {
  const inner = handlers.get(n);
  handlers.set(n, (b, p) => {
    check(b, `${p}guard-ok`);
    b.label(`${p}guard-ok`);
    if (inner === undefined) b.ret(Ret.ALLOW);
    else inner(b, `${p}in.`);
  });
}

/**
 * Wraps each create call's handler (or the plain allow when it has none) with the check of
 * its mode. mkdir needs none: the kernel keeps only the permission bits and the sticky bit
 * of its mode (set-group-ID comes from the parent directory alone). The registers are ints
 * the kernel truncates to 32 bits, so the low half is the whole value.
 */
function setIdCreateFilters(nr: (name: string) => number, handlers: Map<number, Handler>): void {
  const EPERM = Ret.errno(1);
  for (const [name, flags, mode] of SET_ID_CREATES) {
    guardFirst(handlers, nr(name), (b, ok) => {
      if (flags !== undefined) b.load(SeccompData.argLow(flags)).jset(CREATE_FLAGS, 0, ok);
      b.load(SeccompData.argLow(mode)).jset(SET_ID_BITS, 0, ok).ret(EPERM);
    });
  }
}

/** renameat2's RENAME_WHITEOUT flag. */
export const RENAME_WHITEOUT = 4;

/**
 * No whiteout (a character device 0:0) left by a rename (the eighteenth review): since Linux
 * 5.8 renameat2(RENAME_WHITEOUT) needs no capability, and Landlock checks the rename, not
 * the device node it leaves at the old name, so a sandbox made one in a writable grant in
 * both views (SPEC 10: no device nodes). The flags are a register (the fifth argument, an
 * unsigned int): refused with EPERM, what the call gave without CAP_MKNOD before 5.8,
 * before any other concern's route (protectedFiles performs renames itself).
 */
function whiteoutFilter(nr: (name: string) => number, handlers: Map<number, Handler>): void {
  guardFirst(handlers, nr("renameat2"), (b, ok) => {
    b.load(SeccompData.argLow(4)).jset(RENAME_WHITEOUT, 0, ok).ret(Ret.errno(1));
  });
}

/** fcntl's F_NOTIFY (dnotify). */
export const F_NOTIFY = 1026;

/**
 * No dnotify (the nineteenth review): fcntl(F_NOTIFY) on a directory the sandbox may read
 * signals each access to its entries, the ones the policy withholds included (the parent of
 * a denied path: the host's every open and write of it). Obsolete since inotify, which the
 * supervisor proves (handlers/watches.ts); EINVAL, what the kernel answers with dnotify
 * turned off (fs.dir-notify-enable 0). The command is a register. Wraps fcntl's other routes.
 */
function dnotifyFilter(nr: (name: string) => number, handlers: Map<number, Handler>): void {
  guardFirst(handlers, nr("fcntl"), (b, ok) => {
    b.load(SeccompData.argLow(1)).jeq(F_NOTIFY, 0, ok).ret(Ret.errno(22));
  });
}

/** The guards the filesystem protection puts before any route of their calls: set-id create
 * modes, whiteouts, dnotify (each above). */
export function fsGuardFilters(nr: (name: string) => number, handlers: Map<number, Handler>): void {
  setIdCreateFilters(nr, handlers);
  whiteoutFilter(nr, handlers);
  dnotifyFilter(nr, handlers);
}
