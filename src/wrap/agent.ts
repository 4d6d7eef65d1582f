// The program wrap() hands to other spawners: `node agent.js SOCKET KEY`. It connects to
// the caller, proves it holds the key, receives the policy and command sealed with it, runs
// the command confined with this process's stdio (a pty, pipes, whatever the spawner gave),
// forwards SIGTERM, SIGINT and SIGHUP to the sandbox, reports the result sealed, and exits
// as the command did. If this process dies, so does the sandbox (its launcher's control
// pipe closes).

import { connect } from "node:net";
import { constants } from "node:os";
import { ConfinementError } from "../errors.js";
import { Policy } from "../policy/policy.js";
import { Sandbox } from "../sandbox.js";
import type { RunResult } from "../result.js";
import { helloProof, lineReader, open, seal, type Job, type Report } from "./protocol.js";

const [socketPath, keyHex] = process.argv.slice(2);

function exitCodeOf(r: RunResult): number {
  if (r.status === "exited") return r.exitCode;
  if (r.status === "timeout") return 124;
  const n = r.signal === null ? undefined : constants.signals[r.signal as NodeJS.Signals];
  return n === undefined ? 1 : 128 + n;
}

function fail(text: string): never {
  process.stderr.write(`sandlock wrap: ${text}\n`);
  process.exit(125);
}

if (socketPath === undefined || keyHex === undefined || !/^[0-9a-f]{64}$/.test(keyHex)) fail("usage: agent.js SOCKET KEY (made by wrap())");
const key = Buffer.from(keyHex!, "hex");

const sock = connect(socketPath!);
sock.on("error", (e) => fail(`cannot reach the process that called wrap() (${(e as NodeJS.ErrnoException).code ?? e.message})`));
const send = (msg: object): Promise<void> => new Promise((resolve) => sock.write(`${JSON.stringify(msg)}\n`, () => resolve()));

let started = false;
sock.on("data", lineReader((text) => {
  if (started) return;
  started = true;
  let job: Job | undefined;
  try {
    job = open(key, "job", JSON.parse(text)) as Job | undefined;
  } catch {
    job = undefined;
  }
  // What a process that put its own socket at the path would send: a policy and a command
  // of its choosing, to be run outside its own sandbox. Nothing runs unless it was sealed
  // with the key wrap() made.
  if (job === undefined) fail(`what came back on ${socketPath} was not sealed with this wrap's key (another process may have put its own socket at that path): nothing was run`);
  void run(job!);
}, () => fail(`what came back on ${socketPath} is not a message of wrap(): nothing was run`)));
sock.on("close", () => {
  if (!started) fail("the process that called wrap() refused this one (a wrong key, or it already ran)");
});
void send({ hello: helloProof(key) });

async function run(job: Job): Promise<void> {
  let code = 125;
  let report: Report;
  try {
    const sb = new Sandbox(Policy.fromJSON(job.policy));
    for (const sig of ["SIGTERM", "SIGINT", "SIGHUP"] as const) {
      let seen = false;
      process.on(sig, () => {
        // The first asks every process to stop (SIGKILL 5 s later); a second kills at once.
        void (seen ? sb.kill() : sb.kill(sig, { forceAfter: 5000 })).catch(() => undefined);
        seen = true;
      });
    }
    await sb.spawn(job.argv, { stdin: "inherit", stdout: "inherit", stderr: "inherit", foreground: job.foreground, ...(job.timeout !== undefined ? { timeout: job.timeout } : {}) });
    const r = await sb.wait();
    code = exitCodeOf(r);
    report = { result: r.toJSON() };
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    // The CLI's codes: 127 for a command that is not there, 126 for confinement that failed.
    if (e instanceof ConfinementError) code = e.step?.startsWith("execve") === true && e.errno === "ENOENT" ? 127 : 126;
    process.stderr.write(`sandlock: ${err.message}\n`);
    report = { error: { name: err.name, message: err.message } };
  }
  await send(seal(key, "report", report));
  sock.end(() => process.exit(code));
}
