// Escapes tried in a sandbox without a supervisor (supervisor: false), each also run with
// the supervisor and unsandboxed (the controls), against host servers this script starts:
// a TCP echo server, unix stream servers inside the writable grant and outside every grant.
// Prints one JSON line: { mode: { attempt: answer } }.
// Usage: unsupervised-case.js PROBE

import { execFile } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo, type Server } from "node:net";
import { join } from "node:path";
import { Sandbox } from "../../src/index.js";

const probe = process.argv[2]!;
const base = mkdtempSync("/tmp/sandlock-unsup-");
chmodSync(base, 0o755);
const [RO, WRITE, OUT] = ["ro", "write", "out"].map((d) => {
  const p = join(base, d);
  mkdirSync(p);
  return p;
}) as [string, string, string];
for (const d of [RO, WRITE]) {
  writeFileSync(join(d, "f"), "x");
  symlinkSync(join(d, "f"), join(d, "l"));
}

function listen(server: Server, where: { path: string } | { host: string; port: number }): Promise<void> {
  return new Promise((resolve) => server.listen(where, resolve));
}

function echo(): Server {
  return createServer((s) => {
    s.on("data", (d) => s.end(d));
    s.on("error", () => undefined);
  });
}

const tcpOk = echo();
const tcpDenied = echo();
const unixIn = echo();
const unixOut = echo();
await listen(tcpOk, { host: "127.0.0.1", port: 0 });
await listen(tcpDenied, { host: "127.0.0.1", port: 0 });
await listen(unixIn, { path: join(WRITE, "in.sock") });
await listen(unixOut, { path: join(OUT, "out.sock") });
const portOk = String((tcpOk.address() as AddressInfo).port);
const portDenied = String((tcpDenied.address() as AddressInfo).port);

const ATTEMPTS: Record<string, string[]> = {
  "unix-out": ["unix-connect", join(OUT, "out.sock")],
  "unix-in": ["unix-connect", join(WRITE, "in.sock")],
  "dgram-out": ["pair-dgram-sendto", join(OUT, "out.sock")],
  "pair-stream": ["pair-stream"],
  "netlink": ["netlink"],
  "ifconf": ["ifconf"],
  "tcp-ok": ["connect-tcp", "127.0.0.1", portOk],
  "tcp-denied": ["connect-tcp", "127.0.0.1", portDenied],
  "kill-host": ["kill", String(process.pid), "0"],
  "pids": ["pids"],
  "meta-ro": ["meta-all", join(RO, "f"), join(RO, "l")],
  "meta-write": ["meta-all", join(WRITE, "f"), join(WRITE, "l")],
};

async function inSandbox(supervisor: boolean, args: string[]): Promise<string> {
  // "/" granted: the planner splits it around /proc (supervisor: false leaves /proc out).
  const policy = { fsReadable: ["/"], fsWritable: [WRITE], netAllow: [`tcp://*:${portOk}`], supervisor };
  const r = await Sandbox.run(policy, [probe, ...args], { timeout: 20_000 });
  return (r.stdoutText || r.stderrText).trim();
}

/** Unsandboxed, asynchronously: the servers above answer from this event loop. */
function bare(args: string[]): Promise<string> {
  return new Promise((resolve) => {
    execFile(probe, args, { encoding: "utf8", timeout: 20_000 }, (_e, stdout, stderr) => resolve((stdout || stderr).trim()));
  });
}

const out: Record<string, Record<string, string>> = { unsupervised: {}, supervised: {}, bare: {} };
try {
  for (const [name, args] of Object.entries(ATTEMPTS)) {
    out.unsupervised![name] = await inSandbox(false, args);
    out.supervised![name] = await inSandbox(true, args);
    out.bare![name] = await bare(args);
  }
} finally {
  for (const s of [tcpOk, tcpDenied, unixIn, unixOut]) s.close();
  rmSync(base, { recursive: true, force: true });
}
console.log(JSON.stringify({ root: process.getuid!() === 0, self: process.pid, ...out }));
