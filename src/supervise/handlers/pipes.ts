// The sandbox's pipe pages (the twentieth review). fs.pipe-user-pages-soft is counted per
// user (user_struct: the kernel view's namespaces have no level of their own), charged to
// the uid of the pipe's maker; past it every new pipe of the uid gets 2 pages instead of 16
// (8 KiB), root's processes without CAP_SYS_RESOURCE included, and F_SETPIPE_SZ past a
// pipe's pages is EPERM. A sandbox took the uid there with 1,100 pipes, and with none: a
// thread's first sendfile between two files (or copy_file_range that the filesystem does
// not do itself) makes the pipe the kernel copies through (the task's splice pipe, 16
// pages, kept until the thread exits), which no descriptor shows. Here a sandbox holds at
// most its budget (features.ts pipeBudget: a quarter of the limit, in pipes of 16 pages;
// F_SETPIPE_SZ may not grow one past 16: seccomp-kmem.ts), counting
//
// - pipes: every pipe and pipe2 adds one; at the budget the pipes in the sandbox's
//   descriptor tables are counted, held still (count-still.ts, as epoll's watches: a pipe
//   moved by dup2 from a table not yet read onto one already read would hide), each pipe
//   once however many descriptors and processes hold it (its inode), and the count restarts
//   from that;
// - pipes that left the tables without closing: each one the sandbox passes in SCM_RIGHTS
//   (every send with descriptors is the supervisor's: refuseRight) counts for the sandbox's
//   life, once by its inode however often it is passed (what is queued cannot be seen; a
//   queue may outlive the sandbox);
// - FIFOs: each mknod of a FIFO counts for the sandbox's life (a FIFO's pipe is made at its
//   first open, which no call of ours sees; the FIFO outlives its descriptors);
// - threads with a splice pipe: a thread's first sendfile or copy_file_range adds one (its
//   thread id kept; a thread gone frees its slot at the next decision at the budget).
//
// A call at the budget waits for a count (no sooner than the gap after the last one:
// count-still.ts); one the count's freeze interrupted is answered by that count when it
// enters the call again.
// Past the budget: pipe and pipe2 ENFILE (what the kernel answers at the hard limit),
// mknod of a FIFO ENOSPC, sendfile EINVAL and copy_file_range EXDEV from a thread without
// a splice pipe (what a file the kernel cannot splice gives: programs fall back to read
// and write, coreutils' cp, libuv and Python's shutil among them); a pipe in SCM_RIGHTS
// EPERM once what was passed away fills the budget. A fork group's clones' output pipes
// (two a clone, made by the zygote) are allowed on top of the budget, and those the
// supervisor received are no longer counted as passed away. Every decision rests on the supervisor's counts and the registers (the mode of a
// mknod, the caller's thread id), never on the caller's memory, so an allowed call is
// CONTINUEd (DESIGN 6).

import { statSync } from "node:fs";
import { pipeInode } from "../../kernel/proc-text.js";
import { StillCount } from "../count-still.js";
import { CONTINUE, deny, type Action } from "../action.js";
import { fdObjectPartsOffLoop } from "../fd-objects.js";
import type { HandlerTable, SupervisorContext } from "../handler.js";
import type { Notification } from "../notification.js";
import type { Step } from "../slices.js";
import { chargeOf } from "./memory.js";

const EPERM = 1;
const ENFILE = 23;
const ENOSPC = 28;
const EINVAL = 22;
const EXDEV = 18;
/** The kernel enters the call again (the caller never sees it): linux/errno.h. */
const ERESTARTNOINTR = 513;
const S_IFMT = 0o170000;
/** The least gap between two counts of the tables (count-still.ts; its ratio to the count's
 * work still holds). Calls at the budget wait for the next count, and a program making and
 * closing pipes in a loop reaches the budget every 256 pipes: at the shared 100 ms it made
 * at most about 2,600 pipes a second here (370 us a pipe, against 5 bare and 31-40 under
 * the budget); at 10 ms, 44-55 us a pipe over 5,000. Each pipe is a round trip to this
 * handler but within the fast path's credit (below). */
const PIPE_COUNT_GAP_MS = 10;
const S_IFIFO = 0o010000;
/** Pipes one grant lets C continue (native/proccredit.h SL_PROCS_CREDIT_MAX). */
const CREDIT_MAX = 256;

/**
 * The pipes in the descriptor tables of a frozen sandbox (processes `pids`, every thread
 * stopped), each once by its inode; undefined when a table could not be read.
 */
export function* pipesFrozen(owner: object, pids: Iterable<number>): Generator<Step, number | undefined> {
  const inodes = new Set<number>();
  let unreadable = false;
  for (const pid of pids) {
    const c = chargeOf(pid);
    if (c === null) continue;
    yield* fdObjectPartsOffLoop(owner, c.task, ["pipe"], (_kind, inode) => void inodes.add(inode), () => void (unreadable = true));
    if (unreadable) return undefined;
  }
  return inodes.size;
}

/** Whether thread `tid` still exists. */
function alive(tid: number): boolean {
  try {
    statSync(`/proc/${tid}`);
    return true;
  } catch {
    return false;
  }
}

export interface PipeBudget {
  readonly handlers: HandlerTable;
  /** For a send the supervisor performs: whether it must refuse to pass `dup` (its
   * duplicate of a descriptor named in SCM_RIGHTS): a pipe past the budget. A pipe it
   * passes counts for the sandbox's life. */
  readonly refuseRight: (dup: number) => boolean;
}

/** `chained`: the names' handlers come after these for mknod (they make nodes themselves). */
export function pipeHandlers({ budget, traced }: { budget: number; traced: boolean }, ctx: SupervisorContext, chained: boolean): PipeBudget {
  const owner = {}; // this sandbox's turn on Node's pool (fd-objects.ts offLoop)
  // The pipes the sandbox may hold in its tables: the last count's, plus every one made since.
  let held = 0;
  // Counts done, and for a thread whose call at the budget the count's freeze interrupted
  // (it enters the call again), the count it waited for: that count answers it.
  let countsDone = 0;
  const waitingFor = new Map<number, number>();
  // Counted for the sandbox's life: FIFOs made, and the pipes passed in SCM_RIGHTS (each
  // once by its inode, however often it is passed: a pipe passed back and forth is one).
  let fifos = 0;
  const passed = new Set<number>();
  // Threads that made their splice pipe.
  const spliced = new Set<number>();
  const used = (): number => held + fifos + passed.size + spliced.size;
  // A fork group's clones each have a pipe for stdout and one for stderr, made by the zygote
  // and read by the supervisor (fork/zygote.ts): as many clones as the host asked for, each
  // pipe counted in the clone's table until it ends. They are allowed on top of the budget;
  // the read ends the supervisor received count no more as passed away (pipesReceived).
  const limit = (): number => budget + ctx.forkPipes();
  ctx.limits.pipesReceived = (inodes) => {
    for (const inode of inodes) passed.delete(inode);
    grant();
  };

  // The fast path (native/proccredit.c): pipes within a credit of the room left under the
  // budget (the fork group's allowance is decided here), taken into the count before every
  // decision here; and the sendfile and copy_file_range of threads counted as spliced.
  const credit = ctx.pipesCredit;
  const fastThreads = ctx.spliceThreads;
  const settle = (): void => {
    held += credit?.take().length ?? 0;
  };
  const grant = (): void => {
    if (credit !== undefined && !counts.running) credit.grant(Math.min(CREDIT_MAX, Math.max(0, budget - used())));
  };
  const prune = (): void => {
    let gone = false;
    for (const tid of spliced) if (!alive(tid)) gone = spliced.delete(tid);
    if (gone && fastThreads !== undefined) {
      fastThreads.grant(0);
      for (const tid of spliced) fastThreads.grant(tid);
    }
  };
  const why = (e: unknown): void => ctx.observe({ kind: "refused", syscall: "pipe2", errno: ENFILE, target: "count", why: `the sandbox's pipes could not be counted: ${(e as Error)?.message ?? String(e)}` });
  // Not counted (the sandbox could not be held still, a table could not be read): the
  // budget stands as reached.
  const counted = (total: number | undefined): void => {
    held = total ?? budget;
    countsDone++;
    // (threads that never came back: their entries go once two counts have passed them)
    if (waitingFor.size > 1024) for (const [tid, want] of waitingFor) if (want < countsDone - 1) waitingFor.delete(tid);
    grant();
  };
  // settle as a count starts: the credit ends there, no pipe is made until the count is done.
  const counts = new StillCount(ctx, traced, (pids) => pipesFrozen(owner, pids), why, counted, settle, PIPE_COUNT_GAP_MS);
  const refusal = (n: Notification, syscall: string, errno: number): Action => {
    ctx.observe({ kind: "refused", syscall, errno, target: `thread ${n.pid}`, why: `the sandbox holds its pipe budget (${budget} pipes of 16 pages, a quarter of fs.pipe-user-pages-soft: the uid's other processes keep the rest)` });
    return deny(errno);
  };

  /** Whether one more fits, after a count (held still; a count not due yet is waited for,
   * the gap since the last one, rather than the call refused: a program making and closing
   * pipes in a loop reaches the budget every 256 pipes): `false` when not, "restart" when a
   * freeze interrupted the caller meanwhile. */
  const room = async (n: Notification): Promise<boolean | "restart"> => {
    settle();
    prune();
    if (used() < limit()) {
      waitingFor.delete(n.pid);
      return true;
    }
    // A call the count's freeze interrupted comes back here, and is answered by that count:
    // waiting for the next one, whose freeze interrupts it again, would never end.
    const want = waitingFor.get(n.pid);
    if (want !== undefined && countsDone >= want) {
      waitingFor.delete(n.pid);
      return false;
    }
    waitingFor.set(n.pid, countsDone + 1);
    if (await counts.parkUntilCounted(n)) return "restart";
    waitingFor.delete(n.pid);
    settle();
    prune();
    return used() < limit();
  };
  const take = (n: Notification, syscall: string, errno: number, count: () => void): Action | Promise<Action> => {
    settle();
    if (used() < limit()) {
      // (a thread whose interrupted call the count answered has its call decided: the next
      // one at the budget waits for a count of its own)
      if (waitingFor.size > 0) waitingFor.delete(n.pid);
      count();
      grant();
      return CONTINUE;
    }
    return room(n).then((r) => {
      if (r === "restart") return deny(ERESTARTNOINTR);
      if (!r) return refusal(n, syscall, errno);
      count();
      grant();
      return CONTINUE;
    });
  };

  const pipe = (n: Notification): Action | Promise<Action> =>
    take(n, n.nr === 22 ? "pipe" : "pipe2", ENFILE, () => void held++);
  // A FIFO's mknod counts. Where the names' handlers make nodes themselves (protectedFiles)
  // it then goes on to them, so it is decided at once: at the limit without a count
  // (threads gone are pruned; pipes closed since the last count are not seen until the
  // next pipe at the limit makes one). Elsewhere it waits for a count as pipe2 does. Any
  // other mknod is not ours.
  const fifo = (mode: number) => (n: Notification): Action | Promise<Action> | undefined => {
    if ((n.argU32(mode) & S_IFMT) !== S_IFIFO) return undefined;
    const syscall = mode === 1 ? "mknod" : "mknodat";
    if (!chained) return take(n, syscall, ENOSPC, () => void fifos++);
    settle();
    if (used() >= limit()) prune();
    if (used() >= limit()) return refusal(n, syscall, ENOSPC);
    fifos++;
    grant();
    return undefined;
  };
  // A thread counted comes here again only when the fast path forgot it (a prune) or had no
  // room to keep it: it is taught again.
  const splice = (syscall: string, errno: number) => (n: Notification): Action | Promise<Action> => {
    if (!spliced.has(n.pid)) {
      return take(n, syscall, errno, () => {
        spliced.add(n.pid);
        fastThreads?.grant(n.pid);
      });
    }
    fastThreads?.grant(n.pid);
    return CONTINUE;
  };

  // A send makes no pipe: what it passes was counted when made (or came from outside), and
  // stays counted (passed) when its descriptors close, so the next count cannot forget it.
  // A pipe not passed before is refused only once what was passed, with the FIFOs and the
  // spliced threads, fills the limit; the stale count of the tables is not held against it
  // (the call cannot wait for a count).
  const refuseRight = (dup: number): boolean => {
    const inode = pipeInode(dup);
    if (inode === undefined || passed.has(inode)) return false;
    settle();
    if (fifos + passed.size + spliced.size >= limit()) {
      ctx.observe({ kind: "refused", syscall: "sendmsg", errno: EPERM, target: "SCM_RIGHTS", why: `a pipe in a socket's queue counts against the sandbox's pipe budget (${budget}), which it holds` });
      return true;
    }
    passed.add(inode);
    grant();
    return false;
  };

  return {
    handlers: {
      pipe,
      pipe2: pipe,
      mknod: fifo(1),
      mknodat: fifo(2),
      sendfile: splice("sendfile", EINVAL),
      copy_file_range: splice("copy_file_range", EXDEV),
    },
    refuseRight,
  };
}
