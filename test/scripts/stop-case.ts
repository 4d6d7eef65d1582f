// Graceful stops of the library: kill(signal, {forceAfter}) and the timeout's killSignal,
// on shell scripts that trap SIGTERM, ignore it, or leave a daemon in its own session
// behind (setsid). Checks files written by traps and whether daemon pids survive.
// Prints one JSON line. Usage: stop-case.js

import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, chmodSync } from "node:fs";
import { join } from "node:path";
import { Sandbox } from "../../src/index.js";

const dir = mkdtempSync("/tmp/sandlock-stop-");
chmodSync(dir, 0o755);
const policy = { fsReadable: ["/usr", "/lib", "/lib64", "/bin"], fsWritable: [dir, "/dev/null"] };
const FOREVER = 2 ** 31 - 1;
/** Long enough never to be what ends a case here, short enough to bound a lost signal. */
const MINUTE = 60_000;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A pid the sandbox printed, as this process names it: the same under the supervised view;
 * under the kernel view (a pid namespace of its own) the process of that namespace whose
 * NSpid ends with it. */
function hostPid(sb: Sandbox, inner: number): number {
  const ns = readlinkSync(`/proc/${sb.pid}/ns/pid`);
  if (ns === readlinkSync("/proc/self/ns/pid")) return inner;
  for (const name of readdirSync("/proc")) {
    if (!/^[0-9]+$/.test(name)) continue;
    try {
      if (readlinkSync(`/proc/${name}/ns/pid`) !== ns) continue;
      const m = /^NSpid:.*?([0-9]+)\s*$/m.exec(readFileSync(`/proc/${name}/status`, "latin1"));
      if (m !== null && Number(m[1]) === inner) return Number(name);
    } catch {
      // gone, or another user's
    }
  }
  throw new Error(`no process ${inner} in the sandbox's pid namespace`);
}

/** Until process `pid` runs `name`: a shell's child between fork and exec still has the
 * shell's trap handlers, and a signal caught there is lost to the program it execs. */
async function execed(pid: number, name: string): Promise<void> {
  for (;;) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, "utf8") === `${name}\n`) return;
    } catch {
      // not there yet
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Spawns the script and resolves with the sandbox once it printed `n` lines. */
async function started(script: string, n = 1): Promise<{ sb: Sandbox; lines: string[] }> {
  const sb = new Sandbox(policy);
  await sb.spawn(["/bin/sh", "-c", script], { stdout: "pipe" });
  let text = "";
  await new Promise<void>((resolve) => {
    const on = (c: Buffer): void => {
      text += c.toString();
      if (text.split("\n").length > n) {
        sb.stdout!.off("data", on);
        resolve();
      }
    };
    sb.stdout!.on("data", on);
  });
  return { sb, lines: text.split("\n").slice(0, n) };
}

const file = (name: string): string | null => (existsSync(join(dir, name)) ? readFileSync(join(dir, name), "utf8") : null);
const out: Record<string, unknown> = {};
const step = (name: string): void => void process.stderr.write(`stop-case: ${name}\n`);
try {
  // The root traps SIGTERM: its handler runs; `wait $!` is interrupted (or sleep, which got
  // SIGTERM too, ended first): sh ends with 143 either way.
  // "ready" comes after the fork: a signal during a supervised fork makes it fail (EINTR)
  // in a shell without SA_RESTART ("Cannot fork"), a race the test must not run into.
  {
    step("trap");
    const { sb, lines } = await started(`trap 'echo cleaned > ${dir}/trap' TERM; sleep 1000 & echo $!; wait $!`);
    await execed(hostPid(sb, Number(lines[0])), "sleep");
    await sb.kill("SIGTERM", { forceAfter: FOREVER });
    const r = await sb.wait();
    out.trap = { status: r.status, exitCode: r.exitCode, signal: r.signal, file: file("trap") };
  }
  // Control: kill() without a signal is SIGKILL at once; the trap never runs.
  {
    step("hard");
    const { sb, lines } = await started(`trap 'echo cleaned > ${dir}/hard' TERM; sleep 1000 & echo $!; wait $!`);
    await execed(hostPid(sb, Number(lines[0])), "sleep");
    await sb.kill();
    const r = await sb.wait();
    out.hard = { status: r.status, signal: r.signal, file: file("hard") };
  }
  // A daemon in its own session traps SIGTERM and takes a while to clean up; the root
  // exits at once on SIGTERM. The daemon got the signal too and may finish its cleanup.
  {
    step("daemon");
    const daemon = `trap 'sleep 0.3; echo daemon-cleaned > ${dir}/daemon; exit 0' TERM; echo $$; while :; do sleep 1; done`;
    const { sb, lines } = await started(`trap 'exit 0' TERM; setsid /bin/sh -c '${daemon.replaceAll("'", "'\\''")}' & wait`);
    const pid = hostPid(sb, Number(lines[0]));
    await sb.kill("SIGTERM", { forceAfter: MINUTE });
    const r = await sb.wait();
    out.daemon = { status: r.status, exitCode: r.exitCode, file: file("daemon"), aliveBefore: pid > 0, aliveAfter: alive(pid) };
  }
  // Everything ignores SIGTERM, a daemon in another session included: SIGKILL after the
  // grace period reaches them all.
  {
    step("ignored");
    const daemon = `trap "" TERM; echo $$; while :; do sleep 1; done`;
    const { sb, lines } = await started(`trap '' TERM; setsid /bin/sh -c '${daemon}' & while :; do sleep 1; done`);
    const pid = hostPid(sb, Number(lines[0]));
    const aliveBefore = alive(pid);
    await sb.kill("SIGTERM", { forceAfter: 200 });
    const r = await sb.wait();
    out.ignored = { status: r.status, signal: r.signal, aliveBefore, aliveAfter: alive(pid) };
  }
  // A second call forces at once: kill("SIGTERM") would wait for ever.
  {
    step("second");
    const { sb } = await started(`trap '' TERM; echo ready; while :; do sleep 1; done`);
    const first = sb.kill("SIGTERM", { forceAfter: Infinity });
    await sb.kill();
    await first;
    const r = await sb.wait();
    out.second = { status: r.status, signal: r.signal };
  }
  // The timeout with killSignal: the trap runs, the status is still "timeout".
  {
    step("timeout");
    const r = await Sandbox.run(policy, ["/bin/sh", "-c", "trap 'echo stopped; exit 0' TERM; sleep 1000 & wait"], { timeout: 200, killSignal: "SIGTERM", forceAfter: MINUTE });
    out.timeout = { status: r.status, exitCode: r.exitCode, stdout: r.stdoutText };
  }
  // Bad arguments.
  const errors: string[] = [];
  const sb = new Sandbox(policy);
  await sb.spawn(["/bin/sleep", "1000"]);
  for (const bad of [() => sb.kill("SIGNOPE" as NodeJS.Signals), () => sb.kill(99), () => sb.kill("SIGTERM", { forceAfter: -1 }), () => sb.kill("SIGTERM", { forceAfter: Number.NaN })]) {
    try {
      await bad();
      errors.push("no error");
    } catch (e) {
      errors.push(`${(e as Error).name}: ${(e as Error).message}`);
    }
  }
  try {
    await Sandbox.run(policy, ["/bin/true"], { killSignal: "TERMINATE" as NodeJS.Signals });
  } catch (e) {
    errors.push(`${(e as Error).name}: ${(e as Error).message}`);
  }
  await sb.kill("TERM" as NodeJS.Signals); // the name without SIG is accepted too
  const r = await sb.wait();
  out.byShortName = { status: r.status, signal: r.signal };
  out.errors = errors;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log(JSON.stringify(out));
