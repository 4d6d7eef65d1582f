// The supervised view's inotify broker (src/supervise/handlers/inotify-init.ts) leaves no
// process behind: a sandbox that made instances is killed (its broker ends with it), and
// the supervising process is killed while its sandbox holds instances (the broker dies
// with it, PR_SET_PDEATHSIG, as the sandbox does). Prints one JSON line.
// Usage: inotify-broker-case.js RT20            (the test)
//        inotify-broker-case.js RT20 child DIR  (a supervising process to be killed)

import { spawn } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { Sandbox } from "../../src/index.js";
import { gone } from "../helpers/proc.js";
import { scriptMain, sharedDir } from "../helpers/script-main.js";

const [rt20, mode, childDir] = process.argv.slice(2) as [string, string | undefined, string | undefined];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The brokers whose parent is `ppid`: processes whose argv[0] is sandlock-inotify (their
 * comm is the launcher's file name). */
function brokersOf(ppid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${d}/stat`, "latin1");
    } catch {
      continue;
    }
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(fields[1]) !== ppid || fields[0] === "Z") continue;
    let argv0 = "";
    try {
      argv0 = readFileSync(`/proc/${d}/cmdline`, "latin1").split("\0")[0]!;
    } catch {
      continue;
    }
    if (argv0 === "sandlock-inotify") out.push(Number(d));
  }
  return out;
}


async function untilReady(dir: string): Promise<boolean> {
  for (let i = 0; i < 500 && !existsSync(join(dir, "ready")); i++) await sleep(10);
  return existsSync(join(dir, "ready"));
}

const policy = (dir: string) => ({ fsReadable: [rt20], fsWritable: [dir], procView: "supervised" as const });

if (mode === "child") {
  // The supervising process the test kills: it starts a sandbox that takes inotify
  // instances and holds them, and says its sandbox's pid once they are taken.
  const sb = new Sandbox(policy(childDir!));
  await sb.spawn([rt20, "inotify-inst", childDir!, "30000"], { stdout: "ignore" });
  await untilReady(childDir!);
  console.log(JSON.stringify({ sandbox: sb.pid, brokers: brokersOf(process.pid) }));
  await sb.wait();
} else {
  scriptMain("/tmp/sl-inotify-broker-", async (base) => {
    // 1. A sandbox killed while it holds instances: its broker goes with it.
    const dir = sharedDir(base, "killed");
    const sb = new Sandbox(policy(dir));
    await sb.spawn([rt20, "inotify-inst", dir, "30000"], { stdout: "pipe" });
    const ready = await untilReady(dir);
    const brokers = brokersOf(process.pid);
    await sb.kill();
    const r = await sb.wait();
    const killed = { ready, brokers: brokers.length, procView: r.procView, left: await gone(brokers) };

    // 2. The supervising process killed while its sandbox holds instances: the broker and
    // the sandbox go with it.
    const dir2 = sharedDir(base, "crash");
    const child = spawn(process.execPath, [process.argv[1]!, rt20, "child", dir2], { stdio: ["ignore", "pipe", "inherit"] });
    const line = await new Promise<string>((resolve) => {
      let text = "";
      child.stdout!.on("data", (d: Buffer) => {
        text += d.toString();
        if (text.includes("\n")) resolve(text.split("\n")[0]!);
      });
      child.on("exit", () => resolve(text));
    });
    let seen: { sandbox?: number; brokers?: number[] } = {};
    try {
      seen = JSON.parse(line) as typeof seen;
    } catch {
      // the child ended without its line: reported below
    }
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    const crash = { brokers: seen.brokers?.length ?? 0, sandbox: seen.sandbox !== undefined, left: await gone([...(seen.brokers ?? []), ...(seen.sandbox !== undefined ? [seen.sandbox] : [])]) };
    return { killed, crash };
  });
}
