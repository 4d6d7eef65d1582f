// The client side of the registry, used by `sandlock ps|inspect|kill`: finds the entries
// of this user, proves to each owner it may act on it (its token, read from /proc), asks,
// and removes entries whose owner is gone. Replies are treated as untrusted input.

import { closeSync, constants, fstatSync, openSync, readSync, readdirSync } from "node:fs";
import { createConnection, type Socket } from "node:net";
import { join } from "node:path";
import { native } from "../confine/native.js";
import { checkName } from "../policy/identity.js";
import { removeStale } from "./lock.js";
import { ENTRY_FILE, PROTOCOL_VERSION, TOKEN_BYTES, entryFile, readLines, sendLine, socketFd, type Hello, type Request } from "./protocol.js";
import { lookupDirs, type Refusal } from "./runtime-dir.js";

/** How long an owner has to answer (a stop waits for its grace period on top). */
export const ANSWER_MS = 5000;

export type Outcome =
  /** The owner answered: every line it sent (the last one is the final answer). */
  | { readonly kind: "answered"; readonly replies: Record<string, unknown>[] }
  /** Nobody listens: the owner died without removing its entry (removed now). */
  | { readonly kind: "stale" }
  /** The entry vanished (its sandbox ended meanwhile). */
  | { readonly kind: "gone" }
  /** Something answered wrongly, too late, or not at all. */
  | { readonly kind: "failed"; readonly why: string };

/**
 * This process's copy of the owner's token, read through /proc/<pid>/fd/<fd>. `pid` is the
 * listener's as the kernel reports it (SO_PEERCRED), never one the other side claimed, so
 * a socket planted by someone else yields only its planter's own token. O_NONBLOCK: a fifo
 * there must not hang us; a regular file of exactly TOKEN_BYTES is read, nothing else.
 */
function readToken(pid: number, fd: number): Buffer | string {
  let tfd: number;
  try {
    tfd = openSync(`/proc/${pid}/fd/${fd}`, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (e) {
    return `cannot read its token (/proc/${pid}/fd/${fd}: ${(e as NodeJS.ErrnoException).code ?? String(e)})`;
  }
  try {
    const st = fstatSync(tfd);
    if (!st.isFile() || st.size !== TOKEN_BYTES) return "its token is not what an owner holds";
    const buf = Buffer.alloc(TOKEN_BYTES);
    if (readSync(tfd, buf, 0, TOKEN_BYTES, 0) !== TOKEN_BYTES) return "its token is short";
    return buf;
  } finally {
    closeSync(tfd);
  }
}

function isHello(v: unknown): v is Hello {
  const h = v as Hello;
  return typeof h === "object" && h !== null && h.sandlock === PROTOCOL_VERSION && Number.isInteger(h.tokenFd) && h.tokenFd >= 0;
}

/**
 * Sends one request to the entry at `path` and collects the replies until the owner
 * closes. `waitMs`: how long the answer may take (0: no limit, for a stop, which ends
 * when the sandbox has).
 */
export function ask(path: string, op: Request["op"], extra: Partial<Request> = {}, waitMs = ANSWER_MS): Promise<Outcome> {
  return new Promise((resolve) => {
    const replies: Record<string, unknown>[] = [];
    let outcome: Outcome | undefined;
    const finish = (o: Outcome): void => {
      outcome ??= o;
      s.destroy();
    };
    const s: Socket = createConnection({ path });
    s.setTimeout(ANSWER_MS, () => finish({ kind: "failed", why: `no answer within ${ANSWER_MS / 1000}s (the owner process is busy or stopped)` }));
    s.once("error", (e: NodeJS.ErrnoException) => {
      if (e.code === "ECONNREFUSED") {
        removeStale(path); // if it still is, looked at again under the registry's lock
        finish({ kind: "stale" });
      } else if (e.code === "ENOENT") finish({ kind: "gone" });
      else finish({ kind: "failed", why: `${e.code ?? e.message}` });
    });
    s.once("close", () => resolve(outcome ?? (replies.length > 0 ? { kind: "answered", replies } : { kind: "failed", why: "the owner closed the connection without an answer" })));
    let hello = false;
    readLines(s, (line) => {
      let v: unknown;
      try {
        v = JSON.parse(line);
      } catch {
        return finish({ kind: "failed", why: "it sent something that is not JSON" });
      }
      if (hello) {
        if (typeof v !== "object" || v === null) return finish({ kind: "failed", why: "it sent something that is not an object" });
        replies.push(v as Record<string, unknown>);
        return;
      }
      hello = true;
      if (!isHello(v)) return finish({ kind: "failed", why: "it does not speak this version of the registry protocol" });
      const fd = socketFd(s);
      const cred = fd === undefined ? -1 : native().peerCred(fd);
      if (typeof cred === "number") return finish({ kind: "failed", why: "SO_PEERCRED failed" });
      if (cred[1] !== process.geteuid?.()) return finish({ kind: "failed", why: `its owner is uid ${cred[1]}, not this user` });
      const token = readToken(cred[0], v.tokenFd);
      if (typeof token === "string") return finish({ kind: "failed", why: token });
      s.setTimeout(waitMs);
      sendLine(s, { ...extra, op, token: token.toString("hex") });
    });
  });
}

export interface EntryRef {
  readonly dir: string;
  readonly path: string;
}

/** The entries of this user in every usable runtime directory, and the refused directories. */
export function listEntries(): { entries: EntryRef[]; refused: Refusal[] } {
  const { dirs, refused } = lookupDirs();
  const entries: EntryRef[] = [];
  for (const dir of dirs) {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      continue; // removed meanwhile
    }
    for (const f of names.sort()) if (ENTRY_FILE.test(f)) entries.push({ dir, path: join(dir, f) });
  }
  return { entries, refused };
}

/** Where the entry of `name` would be, in every usable runtime directory. */
export function entriesOf(name: string): { entries: EntryRef[]; refused: Refusal[] } {
  const { dirs, refused } = lookupDirs();
  return { entries: dirs.map((dir) => ({ dir, path: join(dir, entryFile(name)) })), refused };
}

/** Whether a reply names a valid sandbox name that matches the entry it came from (an entry
 * planted under another name's file is not believed). */
export function replyNameMatches(path: string, reply: Record<string, unknown>): boolean {
  const name = reply.name;
  if (typeof name !== "string") return false;
  try {
    checkName("name", name);
  } catch {
    return false;
  }
  return path.endsWith(`/${entryFile(name)}`);
}
