// Text of `sandlock ps` and `sandlock inspect`: a table and a report. Everything shown came
// from another process and is escaped: no control character or bidi override reaches the
// terminal of whoever lists sandboxes.

import type { ProcessRow, SandboxDetails, SandboxInfo } from "../registry/protocol.js";
import { sizeText } from "./report.js";
import { printable } from "../printable.js";

export { printable };

/** 42 -> "42s", 192 -> "3m12s", 7500 -> "2h05m", 273600 -> "3d04h". */
export function ageText(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const two = (n: number): string => String(n).padStart(2, "0");
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${two(s % 60)}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${two(Math.floor((s % 3600) / 60))}m`;
  return `${Math.floor(s / 86400)}d${two(Math.floor((s % 86400) / 3600))}h`;
}

const count = (v: unknown): number => (Array.isArray(v) ? v.length : 0);

/** A policy in a few words: "read 5, write 1, no network, memory 512 MiB". */
export function policySummary(p: Record<string, unknown>): string {
  const parts: string[] = [];
  if (count(p.fsReadable) > 0) parts.push(`read ${count(p.fsReadable)}`);
  if (count(p.fsWritable) > 0) parts.push(`write ${count(p.fsWritable)}`);
  if (count(p.netDeny) > 0) parts.push(`network except ${count(p.netDeny)}`);
  else if (count(p.netAllow) > 0) parts.push(`network ${count(p.netAllow)} rule${count(p.netAllow) > 1 ? "s" : ""}`);
  else parts.push("no network");
  if (typeof p.maxMemory === "string" && /^\d+$/.test(p.maxMemory)) parts.push(`memory ${sizeText(Number(p.maxMemory))}`);
  if (typeof p.maxCpu === "number") parts.push(`cpu ${p.maxCpu}%`);
  if (typeof p.maxProcesses === "number") parts.push(`processes ${p.maxProcesses}`);
  return parts.join(", ");
}

function table(rows: readonly string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join("  ").trimEnd() + "\n").join("");
}

export function psTable(rows: readonly SandboxInfo[], now: number): string {
  const head = ["NAME", "PID", "AGE", "STATE", "POLICY"];
  return table([
    head,
    ...rows.map((r) => [printable(r.name), r.pid === null ? "-" : String(r.pid), ageText((now - r.startedAt) / 1000), printable(r.state), printable(policySummary(r.policy))]),
  ]);
}

/** One policy field as text; env shows names only (values are in --json). */
function fieldText(key: string, v: unknown): string {
  if (key === "env" && typeof v === "object" && v !== null) return `${Object.keys(v).map(printable).join(" ")} (values: inspect --json)`;
  if (Array.isArray(v)) return v.map((x) => printable(typeof x === "string" ? x : JSON.stringify(x))).join(" ");
  return printable(typeof v === "string" ? v : JSON.stringify(v));
}

function processTable(procs: readonly ProcessRow[]): string {
  if (procs.length === 0) return "  (none)\n";
  return table([["PID", "PPID", "STATE", "COMMAND"], ...procs.map((p) => [String(p.pid), String(p.ppid), printable(p.state), printable(p.command)])])
    .split("\n").filter((l) => l !== "").map((l) => `  ${l}\n`).join("");
}

function usageText(d: SandboxDetails): string {
  const u = d.usage;
  const of = (limit: string | null, field: string): string => (limit === null ? "no limit" : `of ${limit} (${field})`);
  const seconds = (now: number): number => Math.max((now - d.startedAt) / 1000, 0.001);
  const avg = (u.cpuSeconds / seconds(Date.now())) * 100;
  return `  processes  ${u.processes} of ${u.maxProcesses} (maxProcesses)\n` +
    `  memory     ${sizeText(u.memoryBytes)} anonymous, ${of(u.maxMemory === null ? null : sizeText(u.maxMemory), "maxMemory")}\n` +
    `  cpu        ${u.cpuSeconds.toFixed(2)} s of live processes, ${avg.toFixed(1)}% of one core on average, ${of(u.maxCpu === null ? null : `${u.maxCpu}%`, "maxCpu")}\n`;
}

export function inspectText(d: SandboxDetails, now: number): string {
  const policy = Object.entries(d.policy);
  const width = Math.max(12, ...policy.map(([k]) => k.length));
  const enforcement = d.enforcement === null ? "(not started yet)" : Object.entries(d.enforcement).map(([k, v]) => `${printable(k)} ${printable(v)}`).join(", ");
  return `name       ${printable(d.name)}\n` +
    `state      ${printable(d.state)}\n` +
    `pid        ${d.pid ?? "-"} (launcher ${d.launcherPid ?? "-"}, owner process ${d.ownerPid})\n` +
    `started    ${new Date(d.startedAt).toISOString()} (${ageText((now - d.startedAt) / 1000)} ago)\n` +
    `command    ${d.command.map(printable).join(" ")}\n` +
    `\npolicy\n${policy.length === 0 ? "  (defaults)\n" : policy.map(([k, v]) => `  ${printable(k).padEnd(width)}  ${fieldText(k, v)}\n`).join("")}` +
    `\nenforcement\n  ${enforcement}\n` +
    `\nprocesses (${d.processes.length})\n${processTable(d.processes)}` +
    `\nusage\n${usageText(d)}`;
}
