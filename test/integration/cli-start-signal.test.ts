// `sandlock run` installs its signal guard only when the sandbox is about to start: a
// SIGTERM while it is still resolving profiles, with JavaScript busy, ends it at once by
// the default action; a guard installed earlier would swallow it until the work ended.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { test } from "node:test";
import { ROOT } from "../helpers/system.js";

const MAIN = pathToFileURL(join(ROOT, "dist", "src", "cli", "main.js")).href;

// The CLI in-process, with lstatSync hooked at the point where `-p minimal` looks for a
// user's profile of that name (profile resolution, before the sandbox): it says so and,
// with SEND=1, sends itself SIGTERM and then never yields (JavaScript busy for good).
const CHILD = `
import fs from "node:fs";
import { syncBuiltinESMExports } from "node:module";
const real = fs.lstatSync;
fs.lstatSync = function (p, ...rest) {
  if (String(p).endsWith("/minimal.toml")) {
    process.stderr.write("resolving-profile\\n");
    if (process.env.SEND === "1") {
      process.kill(process.pid, "SIGTERM");
      for (;;) {}
    }
  }
  return real.call(this, p, ...rest);
};
syncBuiltinESMExports();
const { main } = await import(${JSON.stringify(MAIN)});
process.exitCode = await main(["run", "-p", "minimal", "-r", "/usr/bin", "--", "/bin/true"]);
`;

function runChild(send: boolean): { status: number | null; signal: NodeJS.Signals | null; stderr: string } {
  const env: NodeJS.ProcessEnv = { ...process.env, SEND: send ? "1" : "0" };
  delete env.NODE_EXTRA_CA_CERTS;
  // The timeout only bounds a hang (a swallowed signal): SIGKILL then, which fails the test.
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", CHILD], { env, encoding: "utf8", timeout: 60_000, killSignal: "SIGKILL" });
  return { status: r.status, signal: r.signal, stderr: r.stderr };
}

test("a SIGTERM while sandlock run resolves its profiles, JavaScript busy, ends it by that signal", () => {
  const r = runChild(true);
  assert.ok(r.stderr.includes("resolving-profile"), r.stderr);
  assert.deepEqual({ status: r.status, signal: r.signal }, { status: null, signal: "SIGTERM" }, r.stderr);
});

test("positive control: the same run without the signal passes the hook and runs the command", () => {
  const r = runChild(false);
  assert.ok(r.stderr.includes("resolving-profile"), r.stderr);
  assert.deepEqual({ status: r.status, signal: r.signal }, { status: 0, signal: null }, r.stderr);
});
