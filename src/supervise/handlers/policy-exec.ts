// policyFn's execve events (SPEC 6): the callback sees the path and argv the supervisor
// copied, and the program that then runs is checked against them at its exec stop, where
// the kernel's own copy is final (native/launcher/vclock.c holds it there).

import { crypto } from "../../lazy-crypto.js";
import { closeSync, constants, fstatSync, openSync, readFileSync, readSync, readlinkSync, realpathSync, statSync } from "node:fs";
import { isAbsolute, join, normalize } from "node:path";
import type { PolicyContext, PolicyFn } from "../../policy/policy-fn.js";
import { CONTINUE, deny, type Action } from "../action.js";
import type { HandlerTable, SupervisorContext } from "../handler.js";
import type { Notification } from "../notification.js";
import { callPolicyFn } from "../policy-call.js";
import { native } from "../../confine/native.js";
import { parentFromStat } from "../members.js";
import { readProcText } from "../../kernel/proc-text.js";

const EPERM = 1;
const EFAULT = 14;
const EACCES = 13;
const O_PATH = 0o10000000;
const E2BIG = 7;
const ENAMETOOLONG = 36;
const AT_FDCWD = -100;
const AT_EMPTY_PATH = 0x1000;
const PATH_MAX = 4096;
/** The kernel's bound on argv plus envp is a quarter of the stack limit; here the two
 * together may hold this much, and each this many strings (beyond: E2BIG, as the kernel
 * says past its). */
const ARGV_BYTES_MAX = 2 << 20;
const ARGV_MAX = 1 << 17;
/** Approvals kept for execs that failed in the kernel (no exec stop came to use them). */
const APPROVALS_KEPT = 4096;
/** Bytes of argument strings one sandbox's execs may hold in the supervisor while they
 * wait for policyFn's verdict (an async callback may take up to its deadline): past it an
 * exec fails with ENOMEM, as from a kernel short of memory. Without it, a sandbox's
 * threads each calling execve with 2 MiB of arguments (one buffer of its own, shared by
 * all) held 2 MiB of the supervisor's memory apiece for as long as the callback took. */
export const PENDING_ARGV_BYTES = 32 << 20;
const ENOMEM = 12;

/** A file by identity: what a path led to, whatever namespace it was looked up in. */
interface FileIdentity {
  readonly dev: bigint;
  readonly ino: bigint;
}

/** What the callback approved for one thread's execve. */
interface Approval {
  /** The path as execve got it (a #! script's interpreter gets it as an argument). */
  pathArg: string;
  /** The file it led to when checked, looked up in the caller's own root and mount
   * namespace; the exec stop's /proc/<pid>/exe must be the same file. */
  file: FileIdentity | undefined;
  /** The approved argv, and argv without its first string (what a #! script's
   * interpreter gets after the path), as digests (argvDigest): an approval is kept until
   * its exec stop, and for an exec that failed in the kernel until the table's bound, so
   * keeping the strings themselves let a sandbox park 2 MiB of the supervisor's memory per
   * pid (tenth review). */
  argv: string;
  rest: string;
  /** The approved environment, as a digest (argvDigest): what the program's dynamic loader
   * reads (LD_PRELOAD, LD_LIBRARY_PATH) is part of what runs. */
  env: string;
  /** For a #! script: the file its interpreter line led to when checked. */
  interp: FileIdentity | undefined;
}

/** A digest of a list of strings, each with its length, so no two lists share one. */
function argvDigest(list: readonly string[]): string {
  const h = crypto().createHash("sha256");
  const len = Buffer.alloc(8);
  for (const s of list) {
    const bytes = Buffer.from(s, "utf8");
    len.writeBigUInt64LE(BigInt(bytes.length));
    h.update(len).update(bytes);
  }
  return `${list.length}:${h.digest("hex")}`;
}

/**
 * The file `path` names for process `pid`, looked up by the kernel from that process's root
 * (/proc/<pid>/root): a sandbox with a mount namespace of its own (a copy-on-write workdir)
 * sees files the supervisor's namespace does not have, or has elsewhere. Compared by
 * device and inode, not by path text: a file renamed over the approved one between the
 * check and the exec is another file.
 */
function identityIn(pid: number, path: string | undefined): FileIdentity | undefined {
  if (path === undefined) return undefined;
  try {
    const st = statSync(path.startsWith("/proc/") ? path : `/proc/${pid}/root${path}`, { bigint: true });
    return { dev: st.dev, ino: st.ino };
  } catch {
    return undefined;
  }
}

/**
 * The file `path` names for `pid` (as identityIn looks it up), pinned once: its identity and
 * the kernel's path of that very pin, so a rule on paths (ctx.denyPath) and the identity the
 * exec stop compares are about the same file, whatever is renamed in between.
 */
function pinnedIn(pid: number, path: string | undefined): { file: FileIdentity; real: string | undefined } | undefined {
  if (path === undefined) return undefined;
  let fd = -1;
  try {
    fd = openSync(path.startsWith("/proc/") ? path : `/proc/${pid}/root${path}`, O_PATH);
    const st = fstatSync(fd, { bigint: true });
    const real = native().fdPath(fd);
    return { file: { dev: st.dev, ino: st.ino }, real: typeof real === "number" ? undefined : real.toString("utf8") };
  } catch {
    return undefined;
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

const sameFile = (a: FileIdentity | undefined, b: FileIdentity | undefined): boolean => a !== undefined && b !== undefined && a.dev === b.dev && a.ino === b.ino;

export interface PolicyExec {
  handlers: HandlerTable;
  /** The launcher's exec stop: true when what runs is what the callback approved. */
  verify(pid: number, tid: number): boolean;
}

/** Strings read before the event loop is let turn: a sandbox decides how many an exec has
 * (131,072 at most), and read in one step, an environment of 131,000 held the loop 120 to
 * 220 ms per exec (the thirteenth review). */
const STRINGS_PER_TURN = 4096;

/** The NUL-terminated strings of an argv or envp array at addr, at most `budget` bytes
 * of them, or an errno. A null envp is an empty list, as the kernel takes it; a null argv
 * is refused (EFAULT), as before envp was read (the kernel would run the program with an
 * argv of one empty string, pkexec's CVE-2021-4034). Read in turns of STRINGS_PER_TURN
 * (the caller stays blocked in its exec meanwhile); `hold` is told each string's bytes as
 * it is kept and may refuse it (false: ENOMEM), so that what a read holds is counted while
 * it reads, not only once done. */
async function readArgv(ctx: SupervisorContext, n: Notification, addr: number, hold: (bytes: number) => boolean, budget = ARGV_BYTES_MAX, nullIsEmpty = false): Promise<{ argv: string[]; bytes: number } | number> {
  const out: string[] = [];
  let bytes = 0;
  if (addr === 0 && nullIsEmpty) return { argv: out, bytes };
  const cString = ctx.memory.cStrings(n);
  for (let i = 0; ; i += 64) {
    const ptrs = ctx.memory.read(n, addr + i * 8, 64 * 8) ?? ctx.memory.read(n, addr + i * 8, 8);
    if (ptrs === null) return EFAULT;
    for (let k = 0; k + 8 <= ptrs.length; k += 8) {
      const p = ptrs.readBigUInt64LE(k);
      if (p === 0n) return { argv: out, bytes };
      if (out.length >= ARGV_MAX) return E2BIG;
      const s = cString(Number(p), budget - bytes);
      if (s === "fault") return EFAULT;
      if (s === "long") return E2BIG;
      if (!hold(s.length + 1)) return ENOMEM;
      bytes += s.length + 1;
      out.push(s.toString("utf8"));
      if (out.length % STRINGS_PER_TURN === 0) await new Promise((r) => setImmediate(r));
    }
  }
}

/** The absolute path execve(at) names, as the caller's cwd or dirfd places it. */
function absolutePath(tid: number, dirfd: number, path: string, flags: number): string | undefined {
  try {
    if (path === "" && (flags & AT_EMPTY_PATH) !== 0) return readlinkSync(`/proc/${tid}/fd/${dirfd}`);
    if (isAbsolute(path)) return normalize(path);
    const base = dirfd === AT_FDCWD ? readlinkSync(`/proc/${tid}/cwd`) : readlinkSync(`/proc/${tid}/fd/${dirfd}`);
    return normalize(join(base, path));
  } catch {
    return undefined;
  }
}

function realOf(path: string | undefined): string | undefined {
  if (path === undefined) return undefined;
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}

/** The interpreter of the #! script `path` names for `pid` (where its line leads now, in
 * that process's root), else undefined. Opened without blocking and read only when it is
 * a regular file (the kernel runs nothing else): the open of a FIFO the sandbox made and
 * then exec'd waited for a writer, with the whole supervising process stopped in it
 * (tenth review). */
function interpreterOf(pid: number, path: string | undefined): FileIdentity | undefined {
  if (path === undefined) return undefined;
  let fd = -1;
  try {
    fd = openSync(path.startsWith("/proc/") ? path : `/proc/${pid}/root${path}`, constants.O_RDONLY | constants.O_NONBLOCK); // libuv adds O_CLOEXEC
    if (!fstatSync(fd).isFile()) return undefined;
    const head = Buffer.alloc(256);
    const got = readSync(fd, head, 0, head.length, 0);
    const text = head.subarray(0, got).toString("latin1");
    if (!text.startsWith("#!")) return undefined;
    const name = text.slice(2).split("\n")[0]!.trim().split(/[ \t]/)[0];
    return name === undefined || !isAbsolute(name) ? undefined : identityIn(pid, normalize(name));
  } catch {
    return undefined;
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

/** The NUL-separated strings of a /proc/<pid>/cmdline or environ. */
function strings(raw: Buffer): string[] {
  if (raw.length === 0) return [];
  return raw.subarray(0, raw[raw.length - 1] === 0 ? raw.length - 1 : raw.length).toString("utf8").split("\0");
}

export function policyExec(fn: PolicyFn, granted: readonly string[], ctx: SupervisorContext, pctx: PolicyContext): PolicyExec {
  const approvals = new Map<number, Approval>();
  /** Argument bytes of the execs now being read or waiting for the callback
   * (PENDING_ARGV_BYTES). */
  let pendingBytes = 0;

  /** An exec whose strings would pass PENDING_ARGV_BYTES with what this sandbox's other
   * execs hold while they are read or wait for the callback: ENOMEM. */
  const refuseHeld = (name: string, path: Buffer): Action => {
    ctx.observe({ kind: "refused", syscall: name, errno: ENOMEM, target: path.toString("utf8"), why: `the supervisor already holds ${PENDING_ARGV_BYTES >> 20} MiB of this sandbox's exec arguments waiting for policyFn` });
    return deny(ENOMEM);
  };

  const check = async (n: Notification, name: "execve" | "execveat"): Promise<Action> => {
    const at = name === "execveat";
    const dirfd = at ? n.argI32(0) : AT_FDCWD;
    const flags = at ? n.argI32(4) : 0;
    const path = ctx.memory.readCString(n, n.argAddr(at ? 1 : 0), PATH_MAX - 1);
    if (path === "fault") return deny(EFAULT);
    if (path === "long") return deny(ENAMETOOLONG);
    // What this exec's strings hold of the supervisor's memory, counted as they are read
    // (PENDING_ARGV_BYTES bounds all of this sandbox's execs reading or waiting at once).
    let held = path.length;
    pendingBytes += held;
    const hold = (bytes: number): boolean => {
      if (pendingBytes + bytes > PENDING_ARGV_BYTES) return false;
      pendingBytes += bytes;
      held += bytes;
      return true;
    };
    try {
      return await decide(n, name, at, dirfd, flags, path, hold);
    } finally {
      pendingBytes -= held;
    }
  };

  const decide = async (n: Notification, name: "execve" | "execveat", at: boolean, dirfd: number, flags: number, path: Buffer, hold: (bytes: number) => boolean): Promise<Action> => {
    const read = await readArgv(ctx, n, n.argAddr(at ? 2 : 1), hold);
    if (read === ENOMEM) return refuseHeld(name, path);
    if (typeof read === "number") return deny(read);
    const argv = read.argv;
    const readEnv = await readArgv(ctx, n, n.argAddr(at ? 3 : 2), hold, ARGV_BYTES_MAX - read.bytes, true);
    if (readEnv === ENOMEM) return refuseHeld(name, path);
    if (typeof readEnv === "number") return deny(readEnv);
    const env = readEnv.argv;
    // What was read is the caller's only while it is still blocked in this call.
    if (!ctx.memory.stillValid(n)) return deny(EFAULT);
    const pathArg = path.toString("utf8");
    const abs = absolutePath(n.pid, dirfd, pathArg, flags);
    // fexecve and execveat(fd, ""): the descriptor itself, not the text of its path.
    // /proc/self and /proc/thread-self name the caller, not this process: looked up as
    // /proc/<tid> (a program run by its descriptor, `/proc/self/fd/7`, was looked up in
    // the supervisor's own table, so the callback saw another file, and the exec stop
    // killed it for not being the file approved).
    const mine = abs?.replace(/^\/proc\/(self|thread-self)(?=\/|$)/, `/proc/${n.pid}`);
    const lookup = pathArg === "" && (flags & AT_EMPTY_PATH) !== 0 ? `/proc/${n.pid}/fd/${dirfd}` : mine;
    const real = realOf(mine) ?? abs;
    let parentPid = 0;
    try {
      parentPid = parentFromStat(readProcText(`/proc/${n.pid}/stat`)) ?? 0;
    } catch {
      // Gone: the verdict no longer matters.
    }
    const denied = real === undefined || !granted.some((g) => real === g || real.startsWith(g.endsWith("/") ? g : `${g}/`));
    // ctx.denyPath: an exec reads the file as an open does (an ELF is mapped whole: a
    // preloaded library could copy it out), so a denied path is refused without asking the
    // callback. Decided on one pin of the file, by the kernel's path of that pin, and the
    // exec stop then requires that very file (approval.file below): a path swapped after
    // this look runs nothing else.
    const pinned = ctx.files !== undefined ? pinnedIn(n.pid, lookup) : undefined;
    if (ctx.files !== undefined && pinned?.real !== undefined && ctx.files.denied(pinned.real)) {
      ctx.observe({ kind: "refused", syscall: name, errno: EACCES, target: pinned.real, why: "denied by policyFn's ctx.denyPath" });
      return deny(EACCES);
    }
    const d = await callPolicyFn(fn, { syscall: name, category: "process", pid: n.pid, parentPid, path: abs ?? pathArg, argv, env, denied }, pctx);
    if (!d.allow) {
      ctx.observe({ kind: "refused", syscall: name, errno: d.errno, target: abs ?? pathArg, why: d.why });
      return deny(d.errno);
    }
    if (approvals.size >= APPROVALS_KEPT) approvals.delete(approvals.keys().next().value!);
    approvals.delete(n.pid);
    approvals.set(n.pid, { pathArg, file: pinned !== undefined ? pinned.file : identityIn(n.pid, lookup), argv: argvDigest(argv), rest: argvDigest(argv.slice(1)), env: argvDigest(env), interp: interpreterOf(n.pid, lookup) });
    // Not the final decision: the kernel reads path, argv and envp again after this, so a
    // sibling thread could change them. The launcher stops the new program before its
    // first instruction and verify() compares what the kernel executes with what was
    // approved; anything else is killed there. An exec that fails leaves no stop.
    return CONTINUE;
  };

  const verify = (pid: number, tid: number): boolean => {
    const a = approvals.get(tid);
    approvals.delete(tid);
    if (a === undefined) return false;
    let cmdline: string[];
    let env: string[] | undefined;
    let exe: FileIdentity | undefined;
    try {
      // The new program has not run: its argument and environment areas are what the
      // kernel copied.
      cmdline = strings(readFileSync(`/proc/${pid}/cmdline`));
      env = strings(readFileSync(`/proc/${pid}/environ`));
      exe = identityIn(pid, `/proc/${pid}/exe`);
    } catch {
      cmdline = [];
    }
    if (env === undefined || argvDigest(env) !== a.env) {
      ctx.observe({ kind: "refused", syscall: "execve", errno: EPERM, target: a.pathArg, why: "killed before its first instruction: the environment the kernel copied was not the one policyFn approved" });
      return false;
    }
    if (sameFile(exe, a.file) && argvDigest(cmdline) === a.argv) return true;
    // A #! script: the kernel runs its interpreter with [interpreter, optional argument,
    // the path as given, argv[1]...]. The path and the arguments are the approved ones,
    // and what runs is the interpreter the approved script named.
    const restLength = Number(a.rest.slice(0, a.rest.indexOf(":")));
    const extra = cmdline.length - 1 - restLength;
    if (sameFile(exe, a.interp) && (extra === 1 || extra === 2) && cmdline[extra] === a.pathArg && argvDigest(cmdline.slice(extra + 1)) === a.rest) return true;
    // Killed at the exec stop: said in the result, as a refusal is.
    ctx.observe({ kind: "refused", syscall: "execve", errno: EPERM, target: a.pathArg, why: "killed before its first instruction: what the kernel executed was not the program and arguments policyFn approved" });
    return false;
  };

  return {
    handlers: { execve: (n) => check(n, "execve"), execveat: (n) => check(n, "execveat") },
    verify,
  };
}
