// Declares an integration case that runs twice against the real kernel: as root and as an
// unprivileged user created for the tests. Each run happens in a fresh case-runner
// process started as that user; the check asserts on what the runner observed.

import { execFile } from "node:child_process";
import { test } from "node:test";
import type { CaseOutcome, CaseSpec } from "./case-types.js";
import { ensureTestUser, isRoot, stagePackage } from "./stage.js";

export type Who = "root" | "user";

const RUNNER_TIMEOUT_MS = 60_000;

export function runCase(spec: CaseSpec, who: Who): Promise<CaseOutcome> {
  const stage = stagePackage();
  const input = JSON.stringify({ ...spec, vars: { PROBE: stage.probe, ...spec.vars } });
  let file = process.execPath;
  let args = [stage.runner];
  if (who === "user" && isRoot) {
    const u = ensureTestUser();
    file = "setpriv";
    args = [`--reuid=${u.uid}`, `--regid=${u.gid}`, "--clear-groups", "--", process.execPath, stage.runner];
  }
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      { cwd: "/", env: { PATH: process.env.PATH ?? "/usr/bin:/bin" }, timeout: RUNNER_TIMEOUT_MS, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        const line = stdout.trim().split("\n").pop() ?? "";
        try {
          resolve(JSON.parse(line) as CaseOutcome);
        } catch {
          reject(new Error(`case runner (${who}) failed: ${err?.message ?? ""}\nstdout: ${stdout}\nstderr: ${stderr}`));
        }
      },
    );
    child.stdin!.end(input);
  });
}

/** Registers `name [root]` and `name [user]`. Not running as root, the first is skipped
 * (and says why) and the second runs as the current, already unprivileged, user. */
export function securityCase(name: string, spec: CaseSpec, check: (o: CaseOutcome, who: Who) => void): void {
  test(`${name} [root]`, { skip: isRoot ? false : "tests are not running as root" }, async () => {
    check(await runCase(spec, "root"), "root");
  });
  test(`${name} [user]`, async () => {
    check(await runCase(spec, "user"), "user");
  });
}

/** The probe's answer: first line of stdout. */
export function answer(o: CaseOutcome): string {
  if (o.error) throw new Error(`case failed before running: ${o.error.name}: ${o.error.message}`);
  return (o.result?.stdout ?? "").split("\n")[0] ?? "";
}
