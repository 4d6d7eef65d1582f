// `sandlock ps`, `sandlock inspect NAME`, `sandlock kill NAME` and `sandlock checkpoint NAME
// DIR`: the running named
// sandboxes of this user, asked through their owners (src/registry). Exit 0 on success,
// 1 when the sandbox is not found or did not answer, 125 for a usage error.

import { constants } from "node:os";
import { resolve } from "node:path";
import { ask, entriesOf, listEntries, replyNameMatches, type Outcome } from "../registry/client.js";
import type { Checkpointed, SandboxDetails, SandboxInfo, Stopped } from "../registry/protocol.js";
import type { Refusal } from "../registry/runtime-dir.js";
import { checkName } from "../policy/identity.js";
import { parseArgs, type FlagSpec } from "./args.js";
import { inspectText, printable, psTable } from "./manage-format.js";
import { UsageError, badValue } from "./usage-error.js";

export const EXIT_NOT_FOUND = 1;

const JSON_FLAG: FlagSpec = { long: "json", help: "print JSON instead of text" };
const HELP_FLAG: FlagSpec = { long: "help", short: "h", help: "show this help" };
export const PS_FLAGS: readonly FlagSpec[] = [JSON_FLAG, HELP_FLAG];
export const INSPECT_FLAGS: readonly FlagSpec[] = [JSON_FLAG, HELP_FLAG];
export const KILL_FLAGS: readonly FlagSpec[] = [
  { long: "signal", short: "s", arg: "SIG", help: "the signal sent first: a name (TERM, SIGINT) or a number (default TERM)" },
  { long: "kill-after", arg: "SECS", help: "SIGKILL whatever is left this many seconds later (default 5; 0: at once)" },
  HELP_FLAG,
];

export const CHECKPOINT_FLAGS: readonly FlagSpec[] = [HELP_FLAG];

export const DEFAULT_KILL_AFTER_MS = 5000;
const MAX_KILL_AFTER_MS = 2 ** 31 - 1;

function warnRefused(command: string, refused: readonly Refusal[]): void {
  for (const r of refused) process.stderr.write(`sandlock ${command}: ignoring registry directory ${printable(r.path)}: ${printable(r.why)}\n`);
}

/** "TERM", "sigterm", "SIGTERM", "15" -> 15. */
export function readSignal(text: string): number {
  const upper = text.toUpperCase();
  const signals = constants.signals as Record<string, number | undefined>;
  const named = signals[upper.startsWith("SIG") ? upper : `SIG${upper}`];
  if (named !== undefined) return named;
  if (/^\d+$/.test(text) && Number(text) >= 1 && Number(text) <= 64) return Number(text);
  throw badValue("--signal", text, "is not a signal name or number 1-64 (e.g. TERM, INT, HUP, KILL or 15)");
}

/** Decimal seconds >= 0 to milliseconds. */
export function readKillAfter(text: string): number {
  if (!/^(?:\d+(?:\.\d*)?|\.\d+)$/.test(text)) throw badValue("--kill-after", text, "is not a number of seconds (e.g. 10, 0.5 or 0)");
  const ms = Math.round(Number(text) * 1000);
  if (ms > MAX_KILL_AFTER_MS) throw badValue("--kill-after", text, `is above ${Math.floor(MAX_KILL_AFTER_MS / 1000)} seconds`);
  return ms;
}

function oneName(command: string, operands: readonly string[], hint: string): string {
  if (operands.length === 0) throw new UsageError(`sandlock ${command}: no sandbox name given (sandlock ps lists the running ones)`, hint);
  if (operands.length > 1) throw new UsageError(`sandlock ${command}: one name only (got ${operands.length}: ${operands.map((o) => JSON.stringify(o)).join(" ")})`, hint);
  const name = operands[0]!;
  try {
    checkName("name", name);
  } catch (e) {
    throw new UsageError(`sandlock ${command}: ${(e as Error).message.replace(/^name: /, "NAME: ")}`, hint);
  }
  return name;
}

/** The first entry of `name` that answers, asking each runtime directory in turn. */
async function askByName(command: string, name: string, op: "inspect" | "stop" | "checkpoint", extra: object, waitMs?: number): Promise<Outcome | undefined> {
  const { entries, refused } = entriesOf(name);
  warnRefused(command, refused);
  for (const e of entries) {
    const o = await ask(e.path, op, extra, waitMs);
    if (o.kind === "answered" || o.kind === "failed") return o;
  }
  return undefined;
}

/** The final reply, or a message and exit code for the user. */
function finalReply(command: string, name: string, o: Outcome | undefined): Record<string, unknown> | { exit: number } {
  const fail = (m: string): { exit: number } => {
    process.stderr.write(`sandlock ${command}: ${m}\n`);
    return { exit: EXIT_NOT_FOUND };
  };
  if (o === undefined) return fail(`no running sandbox named ${JSON.stringify(name)} (sandlock ps lists the running ones)`);
  if (o.kind !== "answered") return fail(`${JSON.stringify(name)} did not answer: ${o.kind === "failed" ? printable(o.why) : o.kind}`);
  const last = o.replies[o.replies.length - 1]!;
  if (last.ok !== true) return fail(`${JSON.stringify(name)}: ${printable(last.error)}`);
  return last;
}

async function helpFor(command: string): Promise<number> {
  const { manageHelp } = await import("./manage-help.js");
  process.stdout.write(manageHelp(command));
  return 0;
}

export async function psCommand(argv: readonly string[]): Promise<number> {
  const hint = `see "sandlock ps --help"`;
  const { uses, operands } = parseArgs(argv, PS_FLAGS, { command: "sandlock ps", hint });
  if (uses.some((u) => u.spec.long === "help")) return helpFor("ps");
  if (operands.length > 0) throw new UsageError(`sandlock ps: unexpected argument ${JSON.stringify(operands[0])} (to show one sandbox: sandlock inspect NAME)`, hint);
  const { entries, refused } = listEntries();
  warnRefused("ps", refused);
  const outcomes = await Promise.all(entries.map(async (e) => ({ e, o: await ask(e.path, "info") })));
  const rows: SandboxInfo[] = [];
  for (const { e, o } of outcomes) {
    if (o.kind === "failed") process.stderr.write(`sandlock ps: entry ${printable(e.path)} did not answer: ${printable(o.why)}\n`);
    if (o.kind !== "answered") continue;
    const r = o.replies[o.replies.length - 1]!;
    if (r.ok === true && replyNameMatches(e.path, r)) rows.push(r as unknown as SandboxInfo);
    else process.stderr.write(`sandlock ps: entry ${printable(e.path)} answered wrongly: ${printable(r.error ?? "its name does not match the entry")}\n`);
  }
  rows.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const now = Date.now();
  if (uses.some((u) => u.spec.long === "json")) {
    process.stdout.write(`${JSON.stringify(rows.map((r) => ({ ...r, ageSeconds: Math.max(0, (now - r.startedAt) / 1000) })))}\n`);
  } else {
    process.stdout.write(psTable(rows, now));
  }
  return refused.length > 0 ? EXIT_NOT_FOUND : 0;
}

export async function inspectCommand(argv: readonly string[]): Promise<number> {
  const hint = `see "sandlock inspect --help"`;
  const { uses, operands } = parseArgs(argv, INSPECT_FLAGS, { command: "sandlock inspect", hint });
  if (uses.some((u) => u.spec.long === "help")) return helpFor("inspect");
  const name = oneName("inspect", operands, hint);
  const r = finalReply("inspect", name, await askByName("inspect", name, "inspect", {}));
  if ("exit" in r) return r.exit as number;
  const d = r as unknown as SandboxDetails;
  process.stdout.write(uses.some((u) => u.spec.long === "json") ? `${JSON.stringify(d, null, 2)}\n` : inspectText(d, Date.now()));
  return 0;
}

export async function killCommand(argv: readonly string[]): Promise<number> {
  const hint = `see "sandlock kill --help"`;
  const { uses, operands } = parseArgs(argv, KILL_FLAGS, { command: "sandlock kill", hint });
  if (uses.some((u) => u.spec.long === "help")) return helpFor("kill");
  let signal = constants.signals.SIGTERM;
  let killAfterMs = DEFAULT_KILL_AFTER_MS;
  for (const u of uses) {
    if (u.spec.long === "signal") signal = readSignal(u.value!);
    if (u.spec.long === "kill-after") killAfterMs = readKillAfter(u.value!);
  }
  const name = oneName("kill", operands, hint);
  // The answer comes once every process is gone: the grace period, then the teardown.
  const r = finalReply("kill", name, await askByName("kill", name, "stop", { signal, killAfterMs }, killAfterMs + 30_000));
  if ("exit" in r) return r.exit as number;
  const s = r as unknown as Stopped;
  const sigName = Object.entries(constants.signals).find(([, n]) => n === signal)?.[0] ?? `signal ${signal}`;
  const ending = s.signal !== null ? `ended by ${printable(s.signal)}` : `exited with code ${printable(s.exitCode)}`;
  const how = s.forced
    ? signal === constants.signals.SIGKILL || killAfterMs === 0
      ? "killed at once (SIGKILL)"
      : `still running ${killAfterMs / 1000}s after ${sigName}, killed (SIGKILL)`
    : signal === constants.signals.SIGKILL
      ? "killed (SIGKILL)"
      : `stopped after ${sigName} (sent to ${s.signalled} process${s.signalled === 1 ? "" : "es"})`;
  process.stdout.write(`${printable(name)}: ${how}; the command ${ending}\n`);
  return 0;
}

export async function checkpointCommand(argv: readonly string[]): Promise<number> {
  const hint = `see "sandlock checkpoint --help"`;
  const { uses, operands } = parseArgs(argv, CHECKPOINT_FLAGS, { command: "sandlock checkpoint", hint });
  if (uses.some((u) => u.spec.long === "help")) return helpFor("checkpoint");
  if (operands.length !== 2) {
    throw new UsageError(`sandlock checkpoint: give a sandbox name and a directory to save to (got ${operands.length} argument${operands.length === 1 ? "" : "s"})`, hint);
  }
  const name = oneName("checkpoint", operands.slice(0, 1), hint);
  if (operands[1] === "") throw new UsageError("sandlock checkpoint: DIR is empty", hint);
  const dir = resolve(operands[1]!);
  // No time limit: the capture of a large sandbox takes as long as its memory takes to read.
  const r = finalReply("checkpoint", name, await askByName("checkpoint", name, "checkpoint", { dir }, 0));
  if ("exit" in r) return r.exit as number;
  const c = r as unknown as Checkpointed;
  const mib = (c.memoryBytes / 2 ** 20).toFixed(1);
  process.stdout.write(`${name}: ${c.processes} process${c.processes === 1 ? "" : "es"}, ${mib} MiB of memory, saved to ${printable(c.dir)}\n`);
  if (typeof c.unsealed === "string") process.stderr.write(`sandlock checkpoint: warning: saved without a seal (${c.unsealed}); sandlock restore will need a policy for it (-p NAME or --profile-file PATH)\n`);
  return 0;
}
