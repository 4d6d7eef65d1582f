// The few messages between wrap() and its agent, one JSON object per line on a unix socket
// in a directory only the caller's user can enter: the agent proves it holds the key wrap()
// made (without sending it), receives what to run, and reports how the run ended; the job
// and the report are sealed with that key, so a process that put its own socket at the path
// (ninth review: another sandbox of the same user that may write the directory's parent)
// can neither read nor change them.

import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { PolicyJSON } from "../policy/types.js";

/** agent -> caller, first: HMAC of a fixed label under the key (the key never travels). */
export interface Hello {
  hello: string;
}

/** caller -> agent: what to run (sealed). */
export interface Job {
  policy: PolicyJSON;
  argv: string[];
  foreground: boolean;
  timeout?: number;
}

/** agent -> caller, last: the result (RunResult.toJSON(), without output) or why none (sealed). */
export type Report = { result: Record<string, unknown> } | { error: { name: string; message: string } };

/** A sealed message on the wire: AES-256-GCM, base64 of iv | tag | ciphertext. */
export interface Sealed {
  sealed: string;
}

/** The most a line may hold before its newline: a hello is about 80 bytes, a job is a
 * policy and an argv, a report a RunResult without output (its refusals capped); anything
 * longer is not a message of this protocol, and reading it on would grow the reader's
 * memory for as long as the writer goes on. */
export const MAX_LINE = 16 << 20;

const sub = (key: Buffer, label: string): Buffer => createHmac("sha256", key).update(label).digest();

/** The proof an agent sends: it holds the key, which stays unknown to whoever reads this. */
export function helloProof(key: Buffer): string {
  return sub(key, "sandlock-wrap hello").toString("hex");
}

export function helloMatches(key: Buffer, given: unknown): boolean {
  const want = Buffer.from(helloProof(key), "hex");
  const got = Buffer.from(typeof given === "string" ? given : "", "hex");
  return got.length === want.length && timingSafeEqual(got, want);
}

/** `what` ("job", "report") is bound in as associated data: a job cannot be passed off as a report. */
export function seal(key: Buffer, what: string, msg: object): Sealed {
  const iv = randomBytes(12);
  const c = createCipheriv("aes-256-gcm", sub(key, "sandlock-wrap seal"), iv);
  c.setAAD(Buffer.from(what));
  const body = Buffer.concat([c.update(JSON.stringify(msg), "utf8"), c.final()]);
  return { sealed: Buffer.concat([iv, c.getAuthTag(), body]).toString("base64") };
}

/** The message sealed as `what` under the key, or undefined when it was not (a forgery, a
 * changed byte, another kind of message). */
export function open(key: Buffer, what: string, msg: unknown): unknown {
  const text = (msg as Partial<Sealed> | null)?.sealed;
  if (typeof text !== "string") return undefined;
  const raw = Buffer.from(text, "base64");
  if (raw.length < 28) return undefined;
  try {
    const d = createDecipheriv("aes-256-gcm", sub(key, "sandlock-wrap seal"), raw.subarray(0, 12));
    d.setAAD(Buffer.from(what));
    d.setAuthTag(raw.subarray(12, 28));
    return JSON.parse(Buffer.concat([d.update(raw.subarray(28)), d.final()]).toString("utf8"));
  } catch {
    return undefined;
  }
}

/** Splits a stream into lines (UTF-8, a character may be split between chunks) and hands
 * each to `line`; past `max()` bytes without a newline it calls `tooLong` once and reads
 * nothing more. An unfinished line is kept as the chunks it came in and only each new chunk
 * is searched for its end: a line of megabytes comes in many chunks, and a search of all of
 * it at each one (or of a string grown by each) cost the square of its length. */
export function lineReader(line: (text: string) => void, tooLong: () => void = () => undefined, max: () => number = () => MAX_LINE): (chunk: Buffer) => void {
  let parts: Buffer[] = [];
  let size = 0;
  let over = false;
  return (chunk) => {
    if (over) return;
    for (let nl = chunk.indexOf(0x0a); nl >= 0; nl = chunk.indexOf(0x0a)) {
      parts.push(chunk.subarray(0, nl));
      const text = Buffer.concat(parts).toString("utf8");
      parts = [];
      size = 0;
      chunk = chunk.subarray(nl + 1);
      line(text);
    }
    parts.push(chunk);
    size += chunk.length;
    if (size > max()) {
      over = true;
      parts = [];
      tooLong();
    }
  };
}
