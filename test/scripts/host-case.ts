// Runs a probe in a sandbox while something of the host stands beside it: a holder (an
// unsandboxed probe keeping a lock, a SysV segment or a terminal open, its first line
// becoming ${HELD}), and the same command run bare as the control. Prints one JSON line.
// Usage: host-case.js PROBE SPEC_JSON

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, chmodSync } from "node:fs";
import { Sandbox, type PolicyInput } from "../../src/index.js";

interface Spec {
  holder?: string[];
  policy: PolicyInput;
  cmd: string[];
  bare?: boolean;
}

const [probe, json] = process.argv.slice(2) as [string, string];
const spec = JSON.parse(json) as Spec;
const dir = mkdtempSync("/tmp/sandlock-host-");
chmodSync(dir, 0o700);
const vars: Record<string, string> = { PROBE: probe, DIR: dir };
const sub = <T>(v: T): T => JSON.parse(JSON.stringify(v).replace(/\$\{(\w+)\}/g, (_, k: string) => vars[k] ?? `\${${k}}`)) as T;

async function firstLine(child: ReturnType<typeof spawn>): Promise<string> {
  let out = "";
  for await (const c of child.stdout!) {
    out += (c as Buffer).toString();
    if (out.includes("\n")) break;
  }
  return out.split("\n")[0]!;
}

async function main(): Promise<void> {
  const out: Record<string, unknown> = {};
  let holder: ReturnType<typeof spawn> | undefined;
  try {
    if (spec.holder) {
      holder = spawn(probe, sub(spec.holder), { stdio: ["pipe", "pipe", "inherit"] });
      vars.HELD = await firstLine(holder);
      vars.HOLDER_PID = String(holder.pid);
      out.held = vars.HELD;
      out.holderPid = holder.pid;
    }
    const cmd = sub(spec.cmd);
    const r = await Sandbox.run(sub(spec.policy), cmd, { timeout: 20_000 });
    out.sandboxed = { status: r.status, exitCode: r.exitCode, stdout: r.stdout?.toString() ?? "", stderr: r.stderr?.toString() ?? "" };
    if (spec.bare) {
      const bare = spawn(cmd[0]!, cmd.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      bare.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
      await new Promise((r) => bare.once("close", r));
      out.bare = { stdout };
    }
  } catch (e) {
    out.error = `${(e as Error).name}: ${(e as Error).message}`;
  } finally {
    holder?.stdin?.end();
    holder?.kill();
    rmSync(dir, { recursive: true, force: true });
  }
  process.stdout.write(JSON.stringify(out) + "\n");
}

void main();
