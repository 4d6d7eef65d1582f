// wrap() as whoever runs this: a wrapped command started by child_process and by script(1)
// (a pty), SIGTERM to the started process (the command's trap runs), SIGKILL to it (nothing
// of the sandbox survives), a stranger on the socket, a second start, a command that is not
// there. Prints one JSON line. (The signal is sent once the background sleep exists: a
// fork interrupted by a signal fails in dash, a known limit of the suite's interrupted-fork
// case.) Usage: wrap-case.js STAGE
import { spawn } from "node:child_process";
import { connect } from "node:net";
import { join } from "node:path";
import { descendantNamed } from "../helpers/proc.js";

const [stage] = process.argv.slice(2) as [string];
const { wrap } = (await import(join(stage, "dist", "src", "index.js"))) as typeof import("../../src/index.js");
const POLICY = { fsReadable: ["/usr", "/lib", "/lib64", "/bin"], fsWritable: ["/dev/null"] };

interface Started { out: string; err: string; code: number | null; signal: string | null }

function start(file: string, args: readonly string[], env: Record<string, string>, onOut?: (text: string, kill: (s: NodeJS.Signals) => void) => void): Promise<Started> {
  return new Promise((resolve) => {
    const c = spawn(file, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    c.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      onOut?.(out, (s) => c.kill(s));
    });
    c.stderr.on("data", (d: Buffer) => (err += d.toString()));
    c.on("exit", (code, signal) => resolve({ out, err, code, signal }));
  });
}

const settled = async (p: Promise<unknown>): Promise<unknown> => p.then((r) => ({ ok: (r as { toJSON(): object }).toJSON() }), (e: Error) => ({ error: e.message }));
const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const out: Record<string, unknown> = {};

{
  const w = await wrap(POLICY, ["/bin/sh", "-c", "echo hello; cat /etc/hostname 2>/dev/null || echo no-etc; exit 7"]);
  out.basic = { run: await start(w.file, w.args, w.env), result: await settled(w.result) };
}
{
  const w = await wrap(POLICY, ["/bin/sh", "-c", "test -t 1 && echo is-a-tty"]);
  const line = [w.file, ...w.args].map((a) => `'${a}'`).join(" ");
  out.pty = { run: await start("script", ["-qec", line, "/dev/null"], w.env), result: await settled(w.result) };
}
{
  const w = await wrap(POLICY, ["/bin/sh", "-c", "trap 'echo got-term; exit 3' TERM; sleep 30 & echo ready; wait"]);
  let sent = false;
  const run = await start(w.file, w.args, w.env, (text, kill) => {
    if (!sent && text.includes("ready")) {
      sent = true;
      kill("SIGTERM");
    }
  });
  out.term = { run, result: await settled(w.result) };
}
{
  const w = await wrap(POLICY, ["/bin/sh", "-c", "echo $$; sleep 300 & echo $!; wait"]);
  let pids: number[] = [];
  const run = await start(w.file, w.args, w.env, (text, kill) => {
    const got = text.trim().split("\n").map(Number).filter((n) => n > 0);
    if (got.length === 2 && pids.length === 0) {
      // As this process names them (the kernel view's sandbox prints its namespace's pids).
      pids = got.map(descendantNamed);
      kill("SIGKILL");
    }
  });
  let left = pids.filter(alive);
  for (let i = 0; i < 50 && left.length > 0; i++) {
    await new Promise((r) => setTimeout(r, 100));
    left = pids.filter(alive);
  }
  out.killed = { signal: run.signal, pids: pids.length, left: left.length, result: await settled(w.result) };
}
{
  const w = await wrap(POLICY, ["/bin/echo", "real"]);
  const stranger = await new Promise<string>((resolve) => {
    const s = connect(w.args[1]!);
    let got = "";
    s.on("data", (d) => (got += d.toString()));
    s.on("close", () => resolve(got === "" ? "refused" : `got ${got}`));
    s.on("error", () => resolve("error"));
    s.write(`${JSON.stringify({ token: "00".repeat(24) })}\n`);
  });
  const first = await start(w.file, w.args, w.env);
  const second = await start(w.file, w.args, w.env);
  out.stranger = { stranger, first, second, result: await settled(w.result) };
}
{
  const w = await wrap(POLICY, ["/nonexistent/program"]);
  out.missing = { run: await start(w.file, w.args, w.env), result: await settled(w.result) };
}
out.badPolicy = await wrap({ fsReadable: ["relative/path"] }, ["true"]).then(() => "accepted", (e: Error) => `${e.name}: ${e.message}`);
out.badArgv = await wrap(POLICY, []).then(() => "accepted", (e: Error) => `${e.name}: ${e.message}`);
console.log(JSON.stringify(out));
