// `sandlock check`: the kernel release, the Landlock ABI, every protection of SPEC 7 with
// the ABI it needs and whether this kernel has it, and seccomp. Exit 0 when ABI >= 1.

import { readFileSync } from "node:fs";
import { arch, release } from "node:os";
import { PROTECTIONS, PROTECTION_ABI, PROTECTION_LABEL, type Protection } from "../policy/types.js";
import { parseArgs, type FlagSpec } from "./args.js";
import { UsageError } from "./usage-error.js";

const CHECK_FLAGS: readonly FlagSpec[] = [
  { long: "json", help: "print the same as one JSON object" },
  { long: "help", short: "h", help: "show this help" },
];
const HINT = `see "sandlock check --help"`;

export interface CheckReport {
  kernel: string;
  arch: string;
  landlockAbi: number;
  seccomp: boolean;
  protections: { name: Protection; requiredAbi: number; label: string; available: boolean }[];
  ok: boolean;
}

/** A kernel built with seccomp shows a "Seccomp:" line in /proc/<pid>/status. */
function hasSeccomp(): boolean {
  try {
    return /^Seccomp:/m.test(readFileSync("/proc/self/status", "utf8"));
  } catch {
    return false;
  }
}

export function checkReport(landlockAbi: number): CheckReport {
  return {
    kernel: release(),
    arch: arch(),
    landlockAbi,
    seccomp: hasSeccomp(),
    protections: PROTECTIONS.map((name) => ({
      name,
      requiredAbi: PROTECTION_ABI[name],
      label: PROTECTION_LABEL[name],
      available: landlockAbi >= PROTECTION_ABI[name],
    })),
    ok: landlockAbi >= 1,
  };
}

export function formatReport(r: CheckReport): string {
  const abi = r.landlockAbi > 0 ? `ABI ${r.landlockAbi}` : "not available (sandlock needs Landlock ABI 1 or later)";
  const width = Math.max("protection".length, ...r.protections.map((p) => p.name.length));
  const rows = r.protections.map((p) => `${p.name.padEnd(width)}  ABI ${p.requiredAbi}  ${(p.available ? "yes" : "no").padEnd(4)}  ${p.label}\n`);
  return `kernel    ${r.kernel} (${r.arch})\nlandlock  ${abi}\nseccomp   ${r.seccomp ? "yes" : "no"}\n\n` +
    `${"protection".padEnd(width)}  needs  here  what\n${rows.join("")}`;
}

export async function checkCommand(argv: readonly string[]): Promise<number> {
  const { uses, operands } = parseArgs(argv, CHECK_FLAGS, { command: "sandlock check", hint: HINT });
  if (uses.some((u) => u.spec.long === "help")) {
    const { checkHelp } = await import("./help.js");
    process.stdout.write(checkHelp());
    return 0;
  }
  if (operands.length > 0) throw new UsageError(`sandlock check: unexpected argument ${JSON.stringify(operands[0])}`, HINT);
  const { probeHost } = await import("../kernel/probe.js");
  const report = checkReport(probeHost().landlockAbi);
  const json = uses.some((u) => u.spec.long === "json");
  process.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
  return report.ok ? 0 : 1;
}
