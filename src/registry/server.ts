// The owner's side of the registry: a named sandbox claims its name by binding a unix
// socket in the user's runtime directory, and the process that spawned it answers info,
// inspect and stop requests there, without blocking its event loop, until it ends.

import { timingSafeEqual, randomBytes } from "node:crypto";
import { closeSync, constants, fstatSync, linkSync, lstatSync, openSync, unlinkSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { dirname, join } from "node:path";
import { native } from "../confine/native.js";
import { SandboxError } from "../errors.js";
import type { Enforcement } from "../plan/features.js";
import type { Policy } from "../policy/policy.js";
import { LOCK_WAIT_MS, listenerOf, tryUnderLock, underLock, unlinkSocket, type Locked } from "./lock.js";
import { sandboxProcesses } from "./processes.js";
import { PROTOCOL_VERSION, TOKEN_BYTES, entryFile, readLines, sendLine, socketFd, type Request, type SandboxDetails, type SandboxInfo } from "./protocol.js";
import { forgetRegistrationDir, registrationDir } from "./runtime-dir.js";
import { stopGracefully, type Stoppable } from "./stop.js";

/** An idle client is dropped after this long (a stop in progress is not idle). */
const IDLE_MS = 10_000;
const MAX_CONNECTIONS = 16;
/** open(2)'s O_PATH (not among node:fs's constants): a descriptor that only names a file. */
const O_PATH = 0o10000000;

/** What the registry reads of a running sandbox. */
export interface RegisteredSandbox {
  readonly sandbox: Stoppable & {
    readonly policy: Policy;
    readonly pid: number | undefined;
    checkpoint(): Promise<{ readonly processes: readonly unknown[]; readonly memoryBytes: number; save(dir: string): Promise<{ sealed: boolean; dir: string; why?: string }> }>;
  };
  readonly launcherPid: number;
  readonly command: readonly string[];
  readonly enforcement: Enforcement;
}

// ---- warnings: a registry that cannot be used never fails a spawn ----

let warn: (message: string) => void = (message) => process.emitWarning(message, { code: "SANDLOCK_REGISTRY" });
let warned = false;

/** Where registry warnings go (the CLI prints them as "sandlock: warning: ..."). */
export function setRegistryWarning(fn: (message: string) => void): void {
  warn = fn;
}

function warnOnce(message: string): void {
  if (warned) return;
  warned = true;
  warn(message);
}

// ---- the token: proof that a client may act on this process ----

/**
 * A client must read this process's token from /proc/<pid>/fd/<tokenFd>. Opening another
 * process's fd link needs ptrace read access to it (same user, and Landlock forbids it from
 * inside a sandbox to a process outside its domain), so a sandboxed process of the same
 * user that reaches the socket (a writable grant over /tmp covers /tmp/sandlock-<uid>, and
 * its supervisor performs the connect) cannot stop or inspect its neighbours, or itself.
 */
let token: { bytes: Buffer; fd: number } | undefined;

function theToken(): { bytes: Buffer; fd: number } {
  if (token === undefined) {
    const bytes = randomBytes(TOKEN_BYTES);
    token = { bytes, fd: native().memfd(bytes) }; // close-on-exec; kept for the process's life
  }
  return token;
}

// ---- claiming a name ----

function listenAt(path: string): Promise<Server> {
  const server = createServer();
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    // exclusive: a cluster worker binds itself rather than asking the primary to.
    server.listen({ path, exclusive: true, backlog: MAX_CONNECTIONS }, () => {
      server.off("error", reject);
      resolve(server);
    });
  });
}

/** What a claim found at its entry's name, holding the lock. */
type Claimed = { claimed: true; ino: bigint } | { claimed: false; owner: number | undefined } | { claimed: false; inTheWay: string };

/**
 * Links the listening socket bound at `bound` to the entry's name `path`, holding the
 * registry's lock (lock.ts): a stale socket there is replaced, a live one or anything else
 * is left. The entry is never seen before it listens: bind() creates the file and listen()
 * follows it, and a client connecting in between got ECONNREFUSED, which means "stale"
 * (`sandlock ps` run while a named sandbox started left it unlisted for good, a CI run).
 */
function linkEntry(bound: string, path: string): Claimed {
  for (let attempt = 0; ; attempt++) {
    try {
      linkSync(bound, path);
      return { claimed: true, ino: lstatSync(path, { bigint: true }).ino };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST" || attempt > 0) throw e;
    }
    // (looked at under the lock: what it finds holds until the lock is let go)
    const l = listenerOf(path);
    if (l === "gone") continue;
    if (l !== "stale") return "pid" in l ? { claimed: false, owner: l.pid } : { claimed: false, inTheWay: `connect: ${l.errno}` };
    if (!unlinkSocket(path)) return { claimed: false, inTheWay: "it is not a socket" };
  }
}

/**
 * Claims the entry `path`: a socket listening under a private name (`.claim-PID-RANDOM`,
 * which no client lists) linked to `path` under the lock. Returns the server and the
 * entry's inode number, by which close() removes it: exact while the server is open (the
 * bound socket holds its inode, which no other file can then have). A process killed
 * between its bind and the unlink of its private name leaves that name behind.
 */
async function listen(path: string): Promise<{ server: Server; claimed: Claimed | { lockFailed: string; code: string | undefined } }> {
  const bound = join(dirname(path), `.claim-${process.pid}-${randomBytes(8).toString("hex")}`);
  const server = await listenAt(bound);
  let r: Locked<Claimed>;
  try {
    r = await underLock(dirname(path), () => linkEntry(bound, path));
  } catch (e) {
    server.close(); // (libuv unlinks the name it bound)
    throw e;
  }
  try {
    unlinkSync(bound);
  } catch {
    // removed by hand meanwhile: nothing of ours is lost
  }
  if (!r.ok || !r.value.claimed) server.close();
  return { server, claimed: r.ok ? r.value : { lockFailed: r.why, code: r.code } };
}

/**
 * Claims `name` for a sandbox about to start: resolves with its Registration, or with
 * undefined (and one warning per process) when the runtime directory cannot be used.
 * Rejects with a SandboxError when a sandbox of this user runs under that name already.
 */
export async function claimName(name: string): Promise<Registration | undefined> {
  const notRegistered = `sandbox ${JSON.stringify(name)} runs without a registry entry (sandlock ps, inspect and kill will not see it)`;
  for (let attempt = 0; attempt < 2; attempt++) {
    const { dir, refused } = registrationDir();
    if (dir === undefined) {
      warnOnce(`${notRegistered}: ${refused.map((r) => `${r.path} ${r.why}`).join("; ")}`);
      return undefined;
    }
    const path = join(dir, entryFile(name));
    let claim;
    try {
      claim = await listen(path);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOENT" && attempt === 0) {
        forgetRegistrationDir(); // the directory was removed: make it again
        continue;
      }
      warnOnce(`${notRegistered}: claiming ${path}: ${code ?? String(e)}`);
      return undefined;
    }
    const c = claim.claimed;
    if ("lockFailed" in c) {
      if (c.code === "ENOENT" && attempt === 0) {
        forgetRegistrationDir(); // as above
        continue;
      }
      warnOnce(`${notRegistered}: ${c.lockFailed}`);
      return undefined;
    }
    if (c.claimed) return new Registration(name, path, claim.server, c.ino);
    if ("inTheWay" in c) {
      warnOnce(`${notRegistered}: ${path} is in the way (${c.inTheWay})`);
      return undefined;
    }
    throw new SandboxError(`spawn: name ${JSON.stringify(name)} is in use by a running sandbox of this user (owner process ${c.owner ?? "?"}); choose another name, or stop that one first: sandlock kill ${name}`);
  }
  warnOnce(`${notRegistered}: its runtime directory kept being removed`);
  return undefined;
}

// ---- serving one entry ----

export class Registration {
  private target: RegisteredSandbox | undefined;
  private readonly startedAt = Date.now();
  private closed = false;
  private readonly sockets = new Set<Socket>();
  /** Clients waiting for a stop to complete: they get their answer after close(). */
  private readonly stopping = new Set<Socket>();

  constructor(
    readonly name: string,
    readonly path: string,
    private readonly server: Server,
    /** The entry's inode number: close() removes the entry only while it is still this one. */
    private readonly ino: bigint,
  ) {
    server.maxConnections = MAX_CONNECTIONS;
    server.unref(); // the registry never keeps the owner's process alive
    server.on("connection", (s) => this.serve(s));
    server.on("error", () => undefined);
    theToken();
  }

  /** The sandbox has exec'd its command: requests now reach it. */
  attach(target: RegisteredSandbox): void {
    this.target = target;
  }

  /** The sandbox ended (or never started): the entry goes, clients still connected are
   * dropped. The entry is removed, holding the lock, only while it is this one: its inode
   * number tells, exact while the server holds the inode (no other file can have the number
   * then). When the lock is busy the server closes at once all the same (the name is free
   * again: the entry is stale until removed) and an O_PATH descriptor keeps the inode for
   * the removal made once the lock is had. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.sockets) if (!this.stopping.has(s)) s.destroy();
    const dir = dirname(this.path);
    const removeOwn = (): void => {
      try {
        const st = lstatSync(this.path, { bigint: true });
        if (st.isSocket() && st.ino === this.ino) unlinkSync(this.path);
      } catch {
        // removed meanwhile
      }
    };
    if (tryUnderLock(dir, removeOwn) !== "busy") return void this.server.close();
    let pin: number | undefined;
    try {
      pin = openSync(this.path, O_PATH | constants.O_NOFOLLOW);
      if (fstatSync(pin, { bigint: true }).ino !== this.ino) {
        closeSync(pin);
        pin = undefined; // another entry's (this one was removed, the name claimed again)
      }
    } catch {
      pin = undefined;
    }
    this.server.close();
    if (pin !== undefined) {
      const kept = pin;
      void underLock(dir, removeOwn, LOCK_WAIT_MS, true).finally(() => closeSync(kept));
    }
  }

  private serve(s: Socket): void {
    s.unref();
    this.sockets.add(s);
    s.on("close", () => this.sockets.delete(s));
    s.on("error", () => undefined);
    s.setTimeout(IDLE_MS, () => s.destroy());
    // Same user only. The directory (0700) already keeps other users out; root passes its
    // permission check, and is refused here.
    const fd = socketFd(s);
    const cred = fd === undefined ? -1 : native().peerCred(fd);
    if (typeof cred === "number" || cred[1] !== process.geteuid?.()) {
      s.destroy();
      return;
    }
    sendLine(s, { sandlock: PROTOCOL_VERSION, tokenFd: theToken().fd });
    let answered = false;
    readLines(s, (line) => {
      if (answered) return;
      answered = true;
      void this.answer(s, line).catch((e: unknown) => sendLine(s, { ok: false, error: String((e as Error).message ?? e) }));
    });
  }

  private async answer(s: Socket, line: string): Promise<void> {
    let req: Request;
    try {
      req = JSON.parse(line) as Request;
    } catch {
      sendLine(s, { ok: false, error: "malformed request" });
      return void s.end();
    }
    const given = typeof req?.token === "string" ? Buffer.from(req.token, "hex") : Buffer.alloc(0);
    const mine = theToken().bytes;
    if (given.length !== mine.length || !timingSafeEqual(given, mine)) {
      sendLine(s, { ok: false, error: "refused: the token does not match (the client could not read this process's token)" });
      return void s.end();
    }
    switch (req.op) {
      case "info":
        sendLine(s, { ok: true, ...this.info() });
        break;
      case "inspect":
        sendLine(s, { ok: true, ...(await this.details()) });
        break;
      case "stop": {
        const t = this.target;
        if (t === undefined || t.sandbox.state === "stopped") {
          sendLine(s, { ok: false, error: "not running" });
          break;
        }
        const signal = Number.isInteger(req.signal) && req.signal! > 0 && req.signal! < 65 ? req.signal! : 15;
        const killAfterMs = Number.isFinite(req.killAfterMs) && req.killAfterMs! >= 0 ? req.killAfterMs! : 5000;
        s.setTimeout(0); // a stop in progress is not idle
        this.stopping.add(s);
        try {
          sendLine(s, { ok: true, ...(await stopGracefully(t.sandbox, t.launcherPid, signal, killAfterMs)) });
        } finally {
          this.stopping.delete(s);
        }
        break;
      }
      case "checkpoint": {
        // `sandlock checkpoint NAME DIR`: this process takes it (it is the sandbox's
        // parent, which ptrace needs) and saves it where the client asked. Same user only
        // (the peer check and the token above): it writes nothing that user could not.
        const t = this.target;
        if (t === undefined || t.sandbox.state === "stopped") {
          sendLine(s, { ok: false, error: "not running" });
          break;
        }
        if (typeof req.dir !== "string" || !req.dir.startsWith("/")) {
          sendLine(s, { ok: false, error: "checkpoint: the directory must be an absolute path" });
          break;
        }
        s.setTimeout(0); // a capture of a large sandbox is not idle
        try {
          const cp = await t.sandbox.checkpoint();
          const saved = await cp.save(req.dir);
          sendLine(s, { ok: true, dir: saved.dir, processes: cp.processes.length, memoryBytes: cp.memoryBytes, ...(saved.sealed ? {} : { unsealed: saved.why }) });
        } catch (e) {
          sendLine(s, { ok: false, error: (e as Error).message });
        }
        break;
      }
      default:
        sendLine(s, { ok: false, error: `unknown request ${JSON.stringify(String(req.op))}` });
    }
    s.end();
  }

  private info(): SandboxInfo {
    const t = this.target;
    return {
      name: this.name,
      state: t === undefined ? "starting" : t.sandbox.state,
      pid: t?.sandbox.pid ?? null,
      launcherPid: t?.launcherPid ?? null,
      ownerPid: process.pid,
      startedAt: this.startedAt,
      command: t?.command ?? [],
      policy: (t?.sandbox.policy.toJSON() ?? {}) as Record<string, unknown>,
    };
  }

  private async details(): Promise<SandboxDetails> {
    const info = this.info();
    const t = this.target;
    const procs = t === undefined || t.sandbox.state === "stopped" ? [] : await sandboxProcesses(t.launcherPid, t.sandbox);
    const policy = t?.sandbox.policy;
    return {
      ...info,
      enforcement: t === undefined ? null : { ...t.enforcement },
      processes: procs.map(({ pid, ppid, state, command }) => ({ pid, ppid, state, command })),
      usage: {
        processes: procs.length,
        maxProcesses: policy?.maxProcesses ?? 0,
        memoryBytes: procs.reduce((a, p) => a + p.rssAnonBytes, 0),
        maxMemory: policy?.maxMemory === undefined ? null : Number(policy.maxMemory),
        cpuSeconds: procs.reduce((a, p) => a + p.cpuSeconds, 0),
        maxCpu: policy?.maxCpu ?? null,
      },
    };
  }
}
