// The parent's side of a fork group: starts the confined zygote (node --single-threaded
// zygote-main.cjs) through the sandbox's own launcher, sends it init and fork requests on
// a SOCK_SEQPACKET socket, and turns what it reports into Clone handles.

import { closeSync, constants, existsSync, fstatSync, openSync, readSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { SandboxError } from "../errors.js";
import { printableShort } from "../printable.js";
import { errnoName } from "../confine/errno.js";
import { fileKind } from "../kernel/file-kind.js";
import { pipeInode } from "../kernel/proc-text.js";
import { addonPath, native } from "../confine/native.js";
import type { Enforcement } from "../plan/features.js";
import { Policy } from "../policy/policy.js";
import type { RunResult, LimitExceeded } from "../result.js";
import { monotonicMs } from "../sandbox.js";
import { Clone } from "./clone.js";
import { CloneAdopter } from "./adopt.js";
import { forkMaxBuffer, type ZygoteSpec } from "./fns.js";

const EAGAIN = 11;
const EPIPE = 32;
const ECONNRESET = 104;
const EMSGSIZE = 90;
const SIGKILL = 9;
/** Anonymous regions at least this large, mostly resident, become huge pages before forking. */
const COLLAPSE_MIN = 4 << 20;

/** What the fork group needs of the Sandbox that owns it. */
export interface ZygoteHost {
  readonly policy: Policy;
  /** Starts the zygote command with stdin = stdinFd, under launchPolicy; resolves once it has exec'd. */
  launch(cmd: string[], stdinFd: number, launchPolicy: Policy): Promise<void>;
  rootPid(): number;
  countProcesses(): Promise<number>;
  /** The zygote sandbox's result (resolves when it is gone). */
  result(): Promise<RunResult>;
  /** Whether the zygote keeps Node's event loop alive. */
  setRef(ref: boolean): void;
  /** Tell the supervisor the zygote's pid (memory is accounted per clone). */
  setForkParent(pid: number): void;
  /** Where the supervisor reports a limit that killed a process of a clone (its pid). */
  onCloneLimit(fn: (clonePid: number, hit: LimitExceeded) => void): void;
  /** Where the supervisor's pipe budget asks how many pipes the clones' outputs take. */
  setClonePipes(fn: () => number): void;
  /** Tell the supervisor's pipe budget which pipes (inodes) the zygote passed arrived here. */
  pipesReceived(inodes: readonly number[]): void;
  enforcement(): Enforcement;
  /** SIGKILL every process of the sandbox (zygote and clones). */
  kill(): void;
}

const ZYGOTE_MAIN = fileURLToPath(new URL("./zygote-main.cjs", import.meta.url));

/** The zygote's command line: one thread of JavaScript and no V8 worker threads, whose
 * stacks every clone would otherwise inherit dead and write to (docs/fork.md). */
export function zygoteCommand(flags: readonly string[] = []): string[] {
  return [process.execPath, "--single-threaded", "--v8-pool-size=0", ...flags, ZYGOTE_MAIN, addonPath()];
}

/**
 * Variables for the zygote's start: the addon preloaded (LD_PRELOAD), so that its
 * constructor (native/zygote-preload.c) prepares the layout before node starts: V8's heap
 * in a few regions instead of one per page (about 200 KiB of page tables less per clone)
 * and, with `hugeText`, node's machine code in anonymous huge pages, which fork copies
 * (a clone no longer faults it in from the file: about 90 faults each; the zygote holds
 * 24 MiB more). `inherited` is the LD_PRELOAD the zygote would have had; it is kept after
 * ours (the constructor puts it back). Unless the zygote would have it anyway
 * (`bindNow`), LD_BIND_NOW is set too: every symbol is resolved in the zygote, not again
 * in each clone; the constructor removes it. An addon path LD_PRELOAD cannot hold (a
 * space or colon) is not preloaded: the zygote then works as before.
 */
export function zygoteEnv(inherited: string | undefined, bindNow: string | undefined, hugeText: boolean): Record<string, string> {
  const addon = addonPath();
  if (/[\s:]/.test(addon)) return {};
  const env: Record<string, string> = { LD_PRELOAD: inherited ? `${addon} ${inherited}` : addon };
  const words: string[] = [];
  if (bindNow === undefined || bindNow === "") {
    env.LD_BIND_NOW = "1";
    words.push("bind-now");
  }
  if (hugeText) words.push("huge-text");
  env.SANDLOCK_ZYGOTE_PRELOAD = words.length > 0 ? words.join(" ") : "1";
  return env;
}

/** Files the zygote must read to start, granted read-only on top of the policy. */
function runtimeGrants(spec: ZygoteSpec): string[] {
  const grants = [process.execPath, ZYGOTE_MAIN, addonPath()];
  if (spec.modulePath !== undefined) {
    grants.push(spec.modulePath);
    // Node reads the nearest package.json to know whether a .js file is an ES module.
    for (let dir = dirname(spec.modulePath); ; dir = dirname(dir)) {
      if (existsSync(join(dir, "package.json"))) {
        grants.push(join(dir, "package.json"));
        break;
      }
      if (dirname(dir) === dir) break;
    }
  }
  // Node reads its OpenSSL configuration at start-up and gives up when that is refused.
  const openssl = process.env.OPENSSL_CONF ?? "/etc/ssl/openssl.cnf";
  if (openssl !== "" && existsSync(openssl)) grants.push(openssl);
  return grants;
}

/** The most of the zygote's smaps read (a Node zygote's is about 150 KiB). The zygote runs
 * the sandbox's code, which decides how many mappings it has: 60,000 made a 43 MB smaps
 * that took the parent's event loop 1.3 s to read and parse. Beyond it nothing is collapsed. */
const SMAPS_MAX = 4 << 20;

/** The zygote's smaps, or undefined when unreadable or longer than SMAPS_MAX. */
function smapsOf(pid: number): string | undefined {
  let fd: number;
  try {
    fd = openSync(`/proc/${pid}/smaps`, "r");
  } catch {
    return undefined;
  }
  try {
    const buf = Buffer.allocUnsafe(SMAPS_MAX + 1);
    let len = 0;
    for (let got = 1; got > 0 && len <= SMAPS_MAX; len += got) got = readSync(fd, buf, len, buf.length - len, null);
    return len > SMAPS_MAX ? undefined : buf.toString("latin1", 0, len);
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** The regions worth collapsing into huge pages, from the zygote's smaps. */
function collapsible(pid: number): [number, number][] {
  const smaps = smapsOf(pid);
  if (smaps === undefined) return [];
  const out: [number, number][] = [];
  for (const block of smaps.split(/\n(?=[0-9a-f]+-[0-9a-f]+ )/)) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \S+[ \t]*(.*)$/m.exec(block);
    if (!head) continue;
    const [, a, b, perms, name] = head;
    if (perms![1] !== "w" || perms![3] !== "p" || (name !== "" && name !== "[heap]")) continue;
    const start = parseInt(a!, 16);
    const size = parseInt(b!, 16) - start;
    const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(block)?.[1] ?? 0) * 1024;
    if (size < COLLAPSE_MIN || / nh\b/.test(/^VmFlags:.*$/m.exec(block)?.[0] ?? "")) continue;
    if (kb("Rss") * 2 < size || kb("AnonHugePages") * 2 >= kb("Rss")) continue;
    out.push([start, size]);
  }
  return out;
}

/** Text of the zygote's (a stack, the end of its stderr) made printable line by line: at
 * most 100 lines of at most 1024 characters each. */
function printableLines(text: string): string {
  const lines = text.split("\n");
  const shown = lines.slice(0, 100).map((l) => printableShort(l, 1024));
  return lines.length > 100 ? `${shown.join("\n")}\n... (${lines.length - 100} more lines)` : shown.join("\n");
}

/** Clones the zygote reports per message (zygote-main.cts: BATCH). */
const BATCH_MAX = 64;

const isInt = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v);
const isText = (v: unknown): v is string => typeof v === "string";
const optional = <T>(v: unknown, is: (v: unknown) => v is T): boolean => v === undefined || is(v);

/** The message if it is one the parent knows, with the fields it uses of the types it
 * uses them as (the zygote runs the sandbox's code: any of them may be anything). */
function wellFormed(v: unknown, fds: number): Message | undefined {
  if (typeof v !== "object" || v === null) return undefined;
  const m = v as Record<string, unknown>;
  switch (m.op) {
    case "ready":
      return { op: "ready" };
    case "failed":
      if (!isText(m.message) || !optional(m.name, isText) || !optional(m.stack, isText)) return undefined;
      return { op: "failed", message: m.message, name: m.name as string | undefined, stack: m.stack as string | undefined };
    case "forked":
      if (!Array.isArray(m.pids) || m.pids.length > BATCH_MAX || !m.pids.every(isInt) || fds > 2 * BATCH_MAX) return undefined;
      return { op: "forked", pids: m.pids };
    case "forkFailed":
      if (!isInt(m.forked) || !optional(m.errno, isInt) || !optional(m.syscall, isText) || !isText(m.message)) return undefined;
      return { op: "forkFailed", forked: m.forked, errno: m.errno as number | undefined, syscall: m.syscall as string | undefined, message: m.message };
    case "exits":
      if (!Array.isArray(m.rows) || !m.rows.every((r) => Array.isArray(r) && r.length === 3 && r.every(isInt))) return undefined;
      return { op: "exits", rows: m.rows as [number, number, number][] };
    default:
      return undefined;
  }
}

/**
 * The parent's own read ends for the pipes the zygote passed (each opened anew through
 * /proc/self/fd, non-blocking), or what one of them was when it is not a pipe. The
 * descriptors passed are the sandbox's choice: a device such as /dev/zero cannot be
 * polled (libuv's error was thrown in this callback and ended the parent), and a pipe's
 * file description is shared with whoever else holds it: the zygote kept a copy, cleared
 * its O_NONBLOCK (a child spawned with it as stdin: libuv makes a child's stdio blocking),
 * and the parent's next read of the empty pipe blocked its event loop for good. A
 * description opened here has flags only the parent sets. The caller closes the passed ones.
 */
function pipeReaders(fds: readonly number[]): number[] | string {
  const opened: number[] = [];
  const failed = (what: string): string => {
    for (const fd of opened) closeSync(fd);
    return what;
  };
  for (const fd of fds) {
    let st;
    try {
      st = fstatSync(fd);
    } catch (e) {
      return failed(`a descriptor that cannot be examined (${(e as NodeJS.ErrnoException).code})`);
    }
    if (!st.isFIFO()) return failed(`${fileKind(st)}, not a pipe`);
    let own: number;
    try {
      own = openSync(`/proc/self/fd/${fd}`, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
    } catch (e) {
      return failed(`a pipe the parent cannot open for reading (${(e as NodeJS.ErrnoException).code})`);
    }
    opened.push(own);
    let again;
    try {
      again = fstatSync(own);
    } catch (e) {
      return failed(`a pipe that cannot be examined once opened (${(e as NodeJS.ErrnoException).code})`);
    }
    if (!again.isFIFO() || again.ino !== st.ino || again.dev !== st.dev) return failed("a pipe that changed when opened");
  }
  return opened;
}

type Message =
  | { op: "ready" }
  | { op: "failed"; message: string; name?: string; stack?: string }
  | { op: "forked"; pids: number[] }
  | { op: "forkFailed"; forked: number; errno?: number; syscall?: string; message: string }
  | { op: "exits"; rows: [number, number, number][] };

interface PendingFork {
  n: number;
  /** Bytes kept of each clone's stdout and stderr. */
  maxBuffer: number;
  clones: Clone[];
  startedAt: number;
  resolve(clones: Clone[]): void;
  reject(e: Error): void;
}

export class ForkGroup {
  private readonly ctl: number;
  private readonly handle: object;
  private readonly live = new Map<number, Clone>();
  private pendingReady: { resolve(): void; reject(e: Error): void } | undefined;
  private pendingFork: PendingFork | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private gone: Error | undefined;
  /** The zygote's large regions were collapsed into huge pages (with the first fork). */
  private collapsed = false;
  private readonly buf = Buffer.alloc(1 << 20);
  /** Opens each clone's pidfd, from the parent (fork/adopt.ts). */
  private readonly adopter: CloneAdopter;

  private constructor(
    private readonly host: ZygoteHost,
    ctl: number,
  ) {
    this.ctl = ctl;
    this.adopter = new CloneAdopter(host.rootPid());
    this.handle = native().pollFd(ctl, () => this.onReadable());
  }

  /** Starts the zygote and runs init; resolves once it is ready to fork. */
  static async start(spec: ZygoteSpec, host: ZygoteHost): Promise<ForkGroup> {
    const n = native();
    const [mine, theirs] = n.seqpacketPair();
    const inheritedVar = (name: string): string | undefined => host.policy.env[name] ?? (host.policy.cleanEnv ? undefined : process.env[name]);
    const launchPolicy = Policy.fromJSON({
      ...host.policy.toJSON(),
      fsReadable: [...host.policy.fsReadable, ...runtimeGrants(spec)],
      env: { ...host.policy.env, ...zygoteEnv(inheritedVar("LD_PRELOAD"), inheritedVar("LD_BIND_NOW"), !host.policy.noHugePages) },
    });
    try {
      await host.launch(zygoteCommand(), theirs, launchPolicy);
    } catch (e) {
      closeSync(mine);
      throw new SandboxError(`fork: the zygote (${process.execPath}) could not start under this policy: ${(e as Error).message}`, { cause: e });
    } finally {
      closeSync(theirs);
    }
    return ForkGroup.attach(spec, host, mine);
  }

  /** Takes over the control socket of a zygote already started by the host, and runs init. */
  static async attach(spec: ZygoteSpec, host: ZygoteHost, ctl: number): Promise<ForkGroup> {
    const group = new ForkGroup(host, ctl);
    host.setForkParent(host.rootPid());
    host.onCloneLimit((pid, hit) => group.live.get(pid)?.limitHit(hit));
    // Each clone's stdout and stderr are pipes the zygote makes (native/fork.c forkBatch).
    host.setClonePipes(() => 2 * (group.live.size + (group.pendingFork === undefined ? 0 : group.pendingFork.n - group.pendingFork.clones.length)));
    void host.result().then((r) => group.onZygoteGone(r));
    await group.init(spec);
    return group;
  }

  private init(spec: ZygoteSpec): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pendingReady = { resolve, reject };
      this.send({ op: "init", module: spec.moduleUrl, init: spec.init, work: spec.work });
    });
  }

  private send(msg: object): void {
    const rc = native().sendFds(this.ctl, Buffer.from(JSON.stringify(msg)), []);
    if (rc >= 0 || this.gone !== undefined) return;
    // EPIPE/ECONNRESET: the zygote is gone; its sandbox's result will say how.
    if (rc === -EPIPE || rc === -ECONNRESET) this.closeChannel();
    else this.fail(new SandboxError(`fork: cannot reach the zygote: ${errnoName(-rc)}`));
  }

  /** Forks n clones (one request at a time: a second fork waits for the first). */
  fork(n: number, maxBuffer = forkMaxBuffer(n, {})): Promise<Clone[]> {
    const run = this.queue.then(() => this.forkNow(n, maxBuffer));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async forkNow(n: number, maxBuffer: number): Promise<Clone[]> {
    if (this.gone) throw this.gone;
    const max = this.host.policy.maxProcesses;
    // (a launcher command keeps the event loop alive while it waits for its answer)
    let live: number;
    try {
      live = await this.host.countProcesses();
    } catch (e) {
      // The launcher ended without answering: the zygote died meanwhile, and its result
      // (onZygoteGone, registered first) says how.
      await this.host.result().then(
        () => undefined,
        () => undefined,
      );
      throw this.gone ?? e;
    }
    if (live + n > max) {
      throw new SandboxError(
        `fork(${n}): ${n} clones would exceed maxProcesses ${max}: ${live} process${live === 1 ? " is" : "es are"} already running in this fork group (the zygote counts); raise maxProcesses to at least ${live + n}`,
      );
    }
    if (this.gone) throw this.gone;
    const collapse = this.collapsed || this.host.policy.noHugePages ? [] : collapsible(this.host.rootPid());
    this.collapsed = true;
    return new Promise<Clone[]>((resolve, reject) => {
      this.pendingFork = { n, maxBuffer, clones: [], startedAt: monotonicMs(), resolve, reject };
      this.updateRef();
      this.send({ op: "fork", n, collapse });
    });
  }

  private onReadable(): void {
    for (;;) {
      const got = native().recvFds(this.ctl, this.buf);
      if (typeof got === "number") {
        if (got === -EAGAIN) return;
        // A message cut short (longer than the parent's 1 MiB buffer, or with more
        // descriptors than one message carries): malformed.
        if (got === -EMSGSIZE) this.fail(new SandboxError("fork: the zygote sent a malformed message (cut short)"));
        else this.closeChannel();
        return;
      }
      const [len, fds] = got;
      // Passed by the zygote, now here: no longer the sandbox's pipes in a queue.
      const pipes = fds.map(pipeInode).filter((inode) => inode !== undefined);
      if (pipes.length > 0) this.host.pipesReceived(pipes);
      if (len === 0) {
        this.closeChannel();
        return;
      }
      // The zygote runs the sandbox's code: what it sends is checked before anything is
      // done with it, and nothing it sends may throw here (a throw in this callback would
      // end the parent process, and with it every sandbox it supervises).
      let msg: Message | undefined;
      try {
        msg = wellFormed(JSON.parse(this.buf.toString("utf8", 0, len)), fds.length);
      } catch {
        msg = undefined;
      }
      if (msg === undefined) {
        for (const fd of fds) closeSync(fd);
        this.fail(new SandboxError("fork: the zygote sent a malformed message"));
        return;
      }
      try {
        this.onMessage(msg, fds);
      } catch (e) {
        this.fail(new SandboxError(`fork: the zygote's message could not be handled: ${(e as Error).message}`, { cause: e }));
        return;
      }
      if (this.gone !== undefined) return;
    }
  }

  private onMessage(msg: Message, fds: number[]): void {
    if (msg.op !== "forked") {
      // Only a batch of clones carries descriptors: any other message's are closed (kept,
      // they were the parent's for good: a flood of them exhausted its descriptor table,
      // and a memfd among them held memory after the sandbox was gone).
      for (const fd of fds) closeSync(fd);
      if (fds.length > 0) {
        this.fail(new SandboxError(`fork: the zygote sent descriptors with a "${msg.op}" message; the fork group was ended`));
        return;
      }
    }
    switch (msg.op) {
      case "ready":
        this.pendingReady?.resolve();
        this.pendingReady = undefined;
        this.updateRef();
        break;
      case "failed": {
        // (the zygote's words, as printable text: an error is often printed on a terminal)
        const e = new SandboxError(`fork: init failed in the zygote: ${msg.name ? `${printableShort(msg.name)}: ` : ""}${printableShort(msg.message, 4096)}`);
        if (msg.stack) e.stack = `${e.name}: ${e.message}\n--- in the zygote ---\n${printableLines(msg.stack)}`;
        this.fail(e);
        break;
      }
      case "forked":
        this.onForked(msg.pids, fds);
        break;
      case "forkFailed": {
        const p = this.pendingFork;
        this.pendingFork = undefined;
        if (!p) break;
        for (const c of p.clones) void c.kill().catch(() => undefined);
        const why =
          msg.errno === EAGAIN && msg.syscall === "fork"
            ? "the process limit was reached (maxProcesses)"
            : msg.errno
              ? `${printableShort(msg.syscall, 64)}: ${errnoName(msg.errno)}`
              : printableShort(msg.message, 1024);
        p.reject(new SandboxError(`fork(${p.n}): clone ${msg.forked} could not be created: ${why}; the ${p.clones.length} clone(s) already made were killed`));
        this.updateRef();
        break;
      }
      case "exits":
        for (const [pid, code, signal] of msg.rows) {
          const c = this.live.get(pid);
          if (!c) continue;
          this.live.delete(pid);
          c.exited(code >= 0 ? code : null, signal > 0 ? signal : null);
        }
        this.updateRef();
        break;
    }
  }

  private onForked(pids: number[], fds: number[]): void {
    const p = this.pendingFork;
    // The read ends come from the zygote: each must be a pipe, and is read through a file
    // description of the parent's own (pipeReaders), whose flags the sandbox cannot change.
    if (p && (fds.length !== pids.length * 2 || pids.length > p.n - p.clones.length || new Set(pids).size !== pids.length || pids.some((pid) => this.live.has(pid)))) {
      // (a pid already held by a live clone's handle would take that handle's place: its
      // exit would never be reported to it, and its wait() would never settle)
      for (const fd of fds) closeSync(fd);
      this.fail(new SandboxError(`fork: the zygote reported ${pids.length} clone(s) with ${fds.length} descriptor(s) for a fork that awaits ${p.n - p.clones.length} new clone(s); the fork group was ended`));
      return;
    }
    const readers = p ? pipeReaders(fds) : undefined;
    for (const fd of fds) closeSync(fd);
    if (typeof readers === "string") {
      this.fail(new SandboxError(`fork: a clone's output from the zygote is ${readers}; the fork group was ended`));
      return;
    }
    if (!p || readers === undefined) {
      // A batch no fork asked for (or malformed): its clones are ended through pidfds,
      // never by the reported numbers, which are the sandbox's word.
      for (const a of this.adopter.adopt(pids)) {
        if (a instanceof Error) continue;
        native().pidfdSendSignal(a.pidfd, SIGKILL);
        closeSync(a.pidfd);
      }
      this.send({ op: "pidsRead" });
      return;
    }
    // The pidfds, opened here on the reported pids while the zygote holds off reaping them
    // (fork/adopt.ts says why each names that clone and nothing outside the sandbox); a
    // clone not held keeps pid 0 and no pidfd.
    const held = this.adopter.adopt(pids);
    this.send({ op: "pidsRead" });
    pids.forEach((pid, i) => {
      const a = held[i]!;
      const clone = new Clone(this.host.policy, {
        id: p.clones.length,
        pid: a instanceof Error ? 0 : a.pid,
        pidfd: a instanceof Error ? -1 : a.pidfd,
        stdoutFd: readers[2 * i]!,
        stderrFd: readers[2 * i + 1]!,
        enforcement: this.host.enforcement(),
        startedAt: p.startedAt,
        maxBuffer: p.maxBuffer,
        forget: () => {
          if (this.live.get(pid) !== clone) return;
          this.live.delete(pid);
          this.updateRef();
        },
      });
      p.clones.push(clone);
      this.live.set(pid, clone);
    });
    if (p.clones.length === p.n) {
      this.pendingFork = undefined;
      p.resolve(p.clones);
    }
  }

  /** The zygote keeps Node alive while init or a fork runs or a clone lives, not when idle. */
  private updateRef(): void {
    const ref = this.live.size > 0 || this.pendingFork !== undefined || this.pendingReady !== undefined;
    this.host.setRef(ref);
    if (this.gone === undefined) native().pollRef(this.handle, ref);
  }

  /** End of the channel: the zygote is gone; the sandbox result says how. */
  private closeChannel(): void {
    if (this.gone) return;
    void this.host.result().then((r) => this.onZygoteGone(r));
  }

  private onZygoteGone(r: RunResult): void {
    if (this.gone) return;
    this.onReadable(); // exit reports still queued on the socket come first
    const how = r.signal !== null ? `killed by ${r.signal}` : `exit code ${r.exitCode}`;
    const tail = !r.stderr ? undefined : printableLines(r.stderr.toString("utf8").trim().split("\n").slice(-5).join("\n"));
    this.fail(new SandboxError(`fork: the zygote exited (${how})${tail ? `; its stderr ends with:\n${tail}` : ""}`));
  }

  private fail(e: SandboxError): void {
    if (this.gone) return;
    this.gone = e;
    this.host.kill(); // a no-op when the zygote is already gone
    native().pollClose(this.handle);
    closeSync(this.ctl);
    this.adopter.close();
    this.pendingReady?.reject(e);
    this.pendingReady = undefined;
    const p = this.pendingFork;
    this.pendingFork = undefined;
    p?.reject(e);
    // The launcher kills every process of the sandbox when its root (the zygote) is gone;
    // that includes the clones of a fork in progress, which are in live too.
    for (const c of this.live.values()) c.lost();
    this.live.clear();
  }
}
