// The ninth review, part A: wrap() attacked by another sandbox of the same user. One
// scenario per run, printing one JSON line (test/integration/redteam9a.test.ts asserts):
// - mitm: a sandbox granted writes to /tmp (where wrap() makes its socket's directory)
//   moves the socket aside and listens at its path; the started process then talks to it:
//   the attacker relays the hello, reads the job, sends a job of its own (a policy that
//   grants a directory outside the attacker's own sandbox, and a command writing there)
//   and hands the caller a result of its choosing;
// - flood: the same sandbox connects to the wrap's socket and writes without a newline;
// - late: a connection made before the started process, refused after the wrap was taken;
// - hold: the same sandbox opens 300 connections to the wrap's socket and holds them.
// Usage: red9a-case.js mitm|flood|late|hold

import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { Policy, Sandbox, wrap } from "../../src/index.js";

const scenario = process.argv[2];

interface Started { out: string; err: string; code: number | null }

function start(file: string, args: readonly string[], env: Record<string, string>): Promise<Started> {
  return new Promise((resolve) => {
    const c = spawn(file, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    c.stdout.on("data", (d: Buffer) => (out += d.toString()));
    c.stderr.on("data", (d: Buffer) => (err += d.toString()));
    c.on("exit", (code) => resolve({ out, err, code }));
  });
}

const settled = (p: Promise<{ toJSON(): object }>, ms = 20_000): Promise<unknown> =>
  Promise.race([
    p.then((r) => ({ ok: r.toJSON() }), (e: Error) => ({ error: e.message })),
    new Promise((resolve) => setTimeout(() => resolve({ pending: true }), ms).unref()),
  ]);

/** The attacker, run with node -e inside its sandbox: SOCKET EVIL_JOB FORGED_REPORT OUTSIDE. */
const MITM = String.raw`
const net = require("net"), fs = require("fs"), readline = require("readline");
const [sock, evil, forged, outside] = process.argv.slice(1);
const out = { direct: "", gotHello: false, jobReadable: false, agentReported: false, sentToCaller: "" };
try { fs.writeFileSync(outside + "/direct", "x"); out.direct = "wrote"; } catch (e) { out.direct = e.code; }
function reader(s) {
  const it = readline.createInterface({ input: s, crlfDelay: Infinity })[Symbol.asyncIterator]();
  return async () => { const r = await it.next(); return r.done ? undefined : r.value; };
}
fs.renameSync(sock, sock + ".real");
const srv = net.createServer(async (a) => {
  a.on("error", () => {});
  const fromAgent = reader(a);
  const hello = await fromAgent();
  out.gotHello = hello !== undefined;
  const r = net.connect(sock + ".real");
  r.on("error", () => {});
  const fromReal = reader(r);
  r.write(hello + "\n");
  const job = await fromReal();
  out.jobReadable = job !== undefined && job.includes('"argv"');
  a.write(evil + "\n");
  const report = await Promise.race([fromAgent(), new Promise((res) => setTimeout(res, 8000))]);
  out.agentReported = report !== undefined;
  // The caller gets the agent's own report of the attacker's run when it is readable,
  // else one made up here.
  const toCaller = report !== undefined && report.startsWith('{"result"') ? report : forged;
  out.sentToCaller = toCaller.slice(0, 60);
  r.write(toCaller + "\n");
  r.end(() => { console.log(JSON.stringify(out)); srv.close(); a.destroy(); });
});
srv.listen(sock, () => console.log("ready"));
`;

/** Writes to SOCKET without a newline until the other side closes or LIMIT bytes went. */
const FLOOD = String.raw`
const net = require("net");
const [sock, limit] = process.argv.slice(1);
const chunk = Buffer.alloc(1 << 20, 97);
let written = 0, done = false;
const s = net.connect(sock);
const finish = (why) => { if (done) return; done = true; console.log(JSON.stringify({ written, why })); s.destroy(); };
s.on("error", (e) => finish(e.code));
s.on("close", () => finish("closed"));
s.on("connect", function pump() {
  while (written < Number(limit)) {
    written += chunk.length;
    if (!s.write(chunk)) return s.once("drain", pump);
  }
  finish("all written");
});
`;

/** Opens N connections to SOCKET and holds them; prints how many are open after 1 s, then
 * holds them 1 s more (while the caller counts its descriptors, as soon as it reads the
 * line) and exits. */
const HOLD = String.raw`
const net = require("net");
const [sock, n] = process.argv.slice(1);
let open = 0;
for (let i = 0; i < Number(n); i++) {
  const s = net.connect(sock);
  s.on("connect", () => open++);
  s.on("error", () => {});
  s.on("close", (hadErr) => { open--; });
}
setTimeout(() => console.log("held " + open), 1000);
setTimeout(() => process.exit(0), 2000);
`;

const ATTACKER_POLICY = { fsReadable: ["/"], fsWritable: [tmpdir()] };

async function mitm(): Promise<object> {
  // Outside the attacker's grants (it may write /tmp only): /var/tmp.
  const outside = mkdtempSync("/var/tmp/sandlock-red9a-");
  try {
    const w = await wrap({ fsReadable: ["/usr", "/lib", "/lib64", "/bin"] }, ["/bin/echo", "real"]);
    const sock = w.args[1]!;
    const evil = JSON.stringify({ policy: new Policy({ fsReadable: ["/usr", "/lib", "/lib64", "/bin"], fsWritable: [outside] }).toJSON(), argv: ["/bin/sh", "-c", `echo pwned > ${outside}/marker`], foreground: false });
    const forged = JSON.stringify({ result: { status: "exited", exitCode: 0, signal: null, durationMs: 1, enforcement: {}, refused: [] } });
    const sb = new Sandbox(ATTACKER_POLICY);
    let attackerOut = "";
    let ready!: () => void;
    const isReady = new Promise<void>((r) => (ready = r));
    await sb.spawn([process.execPath, "-e", MITM, sock, evil, forged, outside], { stdout: "pipe", stderr: "pipe", timeout: 30_000 });
    sb.stdout!.on("data", (d: Buffer) => {
      attackerOut += d.toString();
      if (attackerOut.includes("ready")) ready();
    });
    let attackerErr = "";
    sb.stderr!.on("data", (d: Buffer) => (attackerErr += d.toString()));
    const waited = sb.wait();
    await Promise.race([isReady, waited]);
    const agent = await start(w.file, w.args, w.env);
    const ar = await waited;
    const lines = attackerOut.trim().split("\n");
    const result = await settled(w.result);
    w.close();
    return {
      attacker: { status: ar.status, exitCode: ar.exitCode, said: lines[lines.length - 1], stderr: attackerErr.slice(-2000) },
      agent,
      result,
      marker: existsSync(join(outside, "marker")),
      direct: existsSync(join(outside, "direct")),
      dirGone: !existsSync(dirname(sock)),
    };
  } finally {
    rmSync(outside, { recursive: true, force: true });
  }
}

async function flood(): Promise<object> {
  const w = await wrap({ fsReadable: ["/usr", "/lib", "/lib64", "/bin"] }, ["/bin/echo", "real"]);
  const before = process.memoryUsage().rss;
  let peak = before;
  const sample = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  const r = await Sandbox.run(ATTACKER_POLICY, [process.execPath, "-e", FLOOD, w.args[1]!, String(256 << 20)], { timeout: 60_000 });
  clearInterval(sample);
  peak = Math.max(peak, process.memoryUsage().rss);
  // Control: the wrap still runs for the real started process.
  const agent = await start(w.file, w.args, w.env);
  return { flood: JSON.parse(r.stdoutText.trim() || "{}"), stderr: r.stderrText.slice(-1000), grewMiB: Math.round((peak - before) / (1 << 20)), agent, result: await settled(w.result) };
}

/** The attacker holding n connections: what it says, and how many more descriptors this
 * process has meanwhile than before it started (its own supervision's included). */
async function holding(sock: string, n: number): Promise<{ said: string; fds: number }> {
  const fds = (): number => readdirSync("/proc/self/fd").length;
  const before = fds();
  const sb = new Sandbox(ATTACKER_POLICY);
  await sb.spawn([process.execPath, "-e", HOLD, sock, String(n)], { stdout: "pipe", stderr: "pipe", timeout: 30_000 });
  let said = "";
  const heard = new Promise<void>((resolve) => sb.stdout!.on("data", (d: Buffer) => {
    said += d.toString();
    if (said.includes("\n")) resolve();
  }));
  const waited = sb.wait();
  await Promise.race([heard, waited]);
  const during = fds();
  await waited;
  return { said: said.trim(), fds: during - before };
}

async function hold(): Promise<object> {
  const w = await wrap({ fsReadable: ["/usr", "/lib", "/lib64", "/bin"] }, ["/bin/echo", "real"]);
  const none = await holding(w.args[1]!, 0); // the attacker's sandbox alone
  const many = await holding(w.args[1]!, 300);
  // Control: the real started process still gets in once the attacker is gone.
  const agent = await start(w.file, w.args, w.env);
  return { said: many.said, heldByCaller: many.fds - none.fds, agent, result: await settled(w.result) };
}

async function late(): Promise<object> {
  const w = await wrap({ fsReadable: ["/usr", "/lib", "/lib64", "/bin"] }, ["/bin/sh", "-c", "sleep 1; echo real"]);
  // A connection accepted before the wrap was taken, which speaks only once it has been.
  const early = connect(w.args[1]!);
  early.on("error", () => undefined);
  await new Promise((r) => early.once("connect", r));
  const agentDone = start(w.file, w.args, w.env);
  await new Promise((r) => setTimeout(r, 500));
  early.end(`${JSON.stringify({ hello: "00".repeat(32) })}\n`);
  const agent = await agentDone;
  return { agent, result: await settled(w.result) };
}

const scenarios: Record<string, () => Promise<object>> = { mitm, flood, late, hold };
const fn = scenarios[scenario ?? ""];
if (fn === undefined) throw new Error(`usage: red9a-case.js ${Object.keys(scenarios).join("|")}`);
try {
  console.log(JSON.stringify(await fn()));
} catch (e) {
  console.log(JSON.stringify({ error: `${(e as Error).name}: ${(e as Error).message}\n${(e as Error).stack ?? ""}` }));
}
