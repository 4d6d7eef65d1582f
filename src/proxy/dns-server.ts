// The sandbox's DNS (docs/agents.md): a TCP connect to port 53 is steered here, and each
// question is answered by the supervisor: names a domain rule covers resolve (with the
// proxy's resolver), every other name is NXDOMAIN.

import type { Socket } from "node:net";
import { parseIp } from "../plan/net-address.js";
import { RCODE_NXDOMAIN, RCODE_REFUSED, TYPE_A, TYPE_AAAA, addressAnswer, errorAnswer, readQuestion } from "./dns-message.js";
import { validName } from "./rules.js";
import type { Original } from "./proxy.js";
import { narrowedNow, type Session } from "./session.js";

/** Bytes of queries buffered before the connection is dropped. */
const PENDING_MAX = 64 * 1024 + 2;
/** Names whose answers are remembered for the proxy's address check. */
const ANSWERED_MAX = 4096;
/** Addresses remembered for all those names together (a few MiB at most). */
export const ANSWERED_ADDRESSES_MAX = 65_536;

/** How many addresses each `answered` map holds, kept beside it. */
const held = new WeakMap<Map<string, Set<string>>, number>();

/**
 * Remembers that the sandbox was told `addresses` for `name`, for the proxy's address check.
 * A name keeps the union of its answers (a connection may use an address of an earlier
 * answer), so a zone that answers each question with other addresses grew one name's set
 * without end, a few thousand addresses per question (eighth review, noticed; now bounded):
 * past ANSWERED_MAX names or ANSWERED_ADDRESSES_MAX addresses everything is forgotten but
 * this answer. Forgetting only sends the address check to the host's resolver again.
 */
export function rememberAnswer(answered: Map<string, Set<string>>, name: string, addresses: readonly string[]): void {
  let seen = answered.get(name);
  let count = held.get(answered) ?? 0;
  const fresh = addresses.filter((a) => seen === undefined || !seen.has(a)).length;
  if ((seen === undefined && answered.size >= ANSWERED_MAX) || count + fresh > ANSWERED_ADDRESSES_MAX) {
    answered.clear();
    seen = undefined;
    count = 0;
  }
  if (seen === undefined) answered.set(name, (seen = new Set()));
  for (const a of addresses) {
    if (seen.has(a)) continue;
    seen.add(a);
    count++;
  }
  held.set(answered, count);
}

async function answer(p: Session, msg: Buffer, reg: Original): Promise<Buffer | undefined> {
  const q = readQuestion(msg);
  if (q === undefined) return undefined;
  // The connection was allowed when it was made; its questions come later. A narrowing
  // since (policyFn's ctx.restrictNetwork, restrictPidNetwork for the thread that
  // connected) that leaves out the DNS server's address refuses them: a connection opened
  // before a revocation otherwise kept carrying names (data, to the allowed zones'
  // servers) after it (the eighth review's noticed item).
  const narrowed = narrowedNow(p, reg.pid, reg.address);
  if (narrowed !== undefined) {
    p.refuse("dns", q.name, narrowed);
    return errorAnswer(q, RCODE_REFUSED);
  }
  // Labels may hold any byte; the host's resolver reads a C string, so the name checked
  // must be one it reads whole ("localhost\0.example.test" was "localhost" to it).
  if (!validName(q.name)) {
    p.refuse("dns", q.name, "not a valid host name");
    return errorAnswer(q, RCODE_NXDOMAIN);
  }
  if (!p.rules.knowsName(q.name)) {
    p.refuse("dns", q.name, "name not covered by netAllow");
    return errorAnswer(q, RCODE_NXDOMAIN);
  }
  if (q.type !== TYPE_A && q.type !== TYPE_AAAA) return addressAnswer(q, []);
  let addresses: readonly string[];
  try {
    addresses = await p.resolve(q.name);
  } catch {
    return errorAnswer(q, RCODE_NXDOMAIN);
  }
  // What the sandbox was told is what the proxy's address check accepts for the name.
  rememberAnswer(p.answered, q.name, addresses);
  return addressAnswer(q, addresses.flatMap((a) => {
    const ip = parseIp(a);
    return ip === undefined ? [] : [ip.bytes];
  }));
}

/** Questions of one connection being answered at once; beyond, reading pauses. */
const IN_FLIGHT_MAX = 16;
/** Bytes of answers the sandbox has not read yet; beyond, reading pauses. */
const UNREAD_MAX = 64 * 1024;

/**
 * Answers the queries of one DNS-over-TCP connection. Reading pauses while
 * IN_FLIGHT_MAX questions are being answered or UNREAD_MAX bytes of answers wait for the
 * sandbox to read them, and resumes as they go: a program that writes queries and never
 * reads its answers fills its own socket, not the supervisor's memory. Every complete
 * message is taken from what was read before the bound on unparsed bytes applies.
 */
export async function serveDns(p: Session, s: Socket, reg: Original): Promise<void> {
  let pending: Buffer = Buffer.alloc(0);
  let inFlight = 0;
  let ended = false;
  const busy = (): boolean => inFlight >= IN_FLIGHT_MAX || s.writableLength >= UNREAD_MAX;
  const complete = (): boolean => pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0);
  const pump = (): void => {
    while (!s.destroyed && !busy() && complete()) {
      const msg = Buffer.from(pending.subarray(2, 2 + pending.readUInt16BE(0)));
      pending = pending.subarray(2 + msg.length);
      inFlight++;
      // A throw in here would be an unhandled rejection, which ends the whole host
      // process: anything unexpected ends this connection only.
      void answer(p, msg, reg).then((a) => {
        inFlight--;
        if (a === undefined || a.length > 0xffff) return void s.destroy();
        const len = Buffer.alloc(2);
        len.writeUInt16BE(a.length);
        if (!s.destroyed) s.write(Buffer.concat([len, a]));
        pump();
      }).catch(() => {
        s.destroy();
      });
    }
    if (s.destroyed) return;
    // The sandbox half-closed: the connection ends once the last question is answered.
    if (ended && inFlight === 0 && !complete()) return void s.end();
    // Paused, nothing more is read: what is pending is at most what one read brought.
    if (busy()) s.pause();
    else if (pending.length > PENDING_MAX) s.destroy();
    else s.resume();
  };
  s.on("data", (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    pump();
  });
  s.on("drain", pump);
  s.on("end", () => {
    ended = true;
    pump();
  });
  s.resume();
}
