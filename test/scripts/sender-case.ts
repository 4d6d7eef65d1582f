// The sender (native/launcher/sender.c): a supervised sandbox's sends with descriptors, made
// by one process of the supervising process's under a low RLIMIT_NOFILE. Prints one JSON
// line: the shapes of send it carries (test/fixtures/rights.c), in both views; the bound
// (maxOpenFiles, else 256); what the sender process is (its parent, argv[0], limits,
// capabilities); a new one after it was killed; and none left once the supervising
// process is killed.
// Usage: sender-case.js RIGHTS            (the test)
//        sender-case.js RIGHTS child DIR  (a supervising process to be killed)

import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { native } from "../../src/confine/native.js";
import { Sandbox } from "../../src/index.js";
import { lines } from "../helpers/fixture-output.js";
import { gone } from "../helpers/proc.js";
import { scriptMain, sharedDir } from "../helpers/script-main.js";

const [rights, mode, childDir] = process.argv.slice(2) as [string, string | undefined, string | undefined];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const VIEWS = ["supervised", "kernel"] as const;


/** What /proc says of the sender: parent, argv[0], RLIMIT_NOFILE, capability sets. */
function describe(pid: number): Record<string, unknown> {
  const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
  const status = readFileSync(`/proc/${pid}/status`, "latin1");
  const limits = readFileSync(`/proc/${pid}/limits`, "latin1");
  const nofile = /^Max open files\s+(\S+)\s+(\S+)/m.exec(limits);
  const cap = (name: string): string => new RegExp(`^${name}:\\s+(\\S+)`, "m").exec(status)?.[1] ?? "";
  return {
    ppid: Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]),
    argv0: readFileSync(`/proc/${pid}/cmdline`, "latin1").split("\0")[0],
    nofile: nofile === null ? null : [nofile[1], nofile[2]],
    capEff: cap("CapEff"),
    capPrm: cap("CapPrm"),
  };
}

const run = (dir: string, view: (typeof VIEWS)[number], args: readonly string[], extra: Record<string, unknown> = {}) =>
  Sandbox.run({ fsReadable: [rights], fsWritable: [dir], procView: view, ...extra }, [rights, ...args], { timeout: 20_000 }).then((r) => ({
    procView: r.procView,
    exitCode: r.exitCode,
    got: lines(r.stdoutText),
    ...(r.exitCode !== 0 ? { stderr: r.stderrText.slice(-600) } : {}),
  }));

if (mode === "child") {
  // The supervising process the test kills: a sandbox holding descriptors in flight (sent
  // through the sender), waiting on its stdin.
  const sb = new Sandbox({ fsReadable: [rights], fsWritable: [childDir!], procView: "supervised" });
  await sb.spawn([rights, "held", "10"], { stdin: "pipe", stdout: "pipe" });
  let out = "";
  sb.stdout!.on("data", (b: Buffer) => {
    out += b.toString();
    if (out.includes("\n")) console.log(JSON.stringify({ sandbox: sb.pid, sender: native().senderPid(), held: out.trim() }));
  });
  await sb.wait();
} else {
  scriptMain("/tmp/sl-sender-", async (base) => {
    const dir = sharedDir(base, "shapes");
    const shapes: Record<string, unknown> = {};
    for (const view of VIEWS) {
      shapes[view] = {
        named: await run(dir, view, ["named", dir]),
        blocked: await run(dir, view, ["blocked"]),
        big: await run(dir, view, ["big"]),
        many: await run(dir, view, ["many"]),
      };
    }
    const bound = {
      default: await run(dir, "supervised", ["held", "600"]),
      maxOpenFiles: await run(dir, "supervised", ["held", "600"], { maxOpenFiles: 64 }),
      // Eight threads at once, 253 descriptors a message: the sender makes one send at a
      // time, so together they pass the bound by one message at most.
      race: await run(dir, "supervised", ["race", "8"]),
      // Another call with the same effect, in the other view.
      sendmmsg: await run(dir, "kernel", ["held", "600", "mmsg"]),
    };
    // A fork group's zygote passes each batch's pipes (128 descriptors) as the parent reads
    // them: while another sandbox of the uid holds the count at its bound, its sends wait
    // (they got ETOOMANYREFS and the zygote exited before), and the fork completes once
    // that sandbox ends 600 ms later.
    const forkWait = await (async () => {
      const holder = new Sandbox({ fsReadable: [rights], procView: "supervised" });
      await holder.spawn([rights, "held", "600"], { stdin: "pipe", stdout: "pipe" });
      let said = "";
      holder.stdout!.on("data", (b: Buffer) => (said += b.toString()));
      for (let i = 0; i < 300 && !said.includes("\n"); i++) await sleep(10);
      const t0 = Date.now();
      setTimeout(() => holder.stdin!.end(), 600);
      const group = Sandbox.newWithFns({ fsReadable: ["/usr", "/lib", "/lib64", "/etc"], maxProcesses: 400 }, { init() {}, work(id: number) { console.log(id); } });
      try {
        const clones = await group.fork(300);
        const ok = (await Promise.all(clones.map((c) => c.wait()))).filter((r) => r.exitCode === 0).length;
        return { holder: said.trim(), clones: clones.length, ok, ms: Date.now() - t0 };
      } catch (e) {
        return { holder: said.trim(), error: (e as Error).message };
      } finally {
        await group[Symbol.asyncDispose]();
        await holder.wait();
      }
    })();
    const pid = native().senderPid();
    const sender = pid > 0 ? describe(pid) : null;
    // Killed: the next send starts another.
    if (pid > 0) process.kill(pid, "SIGKILL");
    const killedGone = await gone([pid]);
    const again = await run(dir, "supervised", ["many"]);
    const next = native().senderPid();
    // The supervising process killed while its sandbox holds descriptors in flight.
    const childDir = sharedDir(base, "crash");
    const child = spawn(process.execPath, [process.argv[1]!, rights, "child", childDir], { stdio: ["ignore", "pipe", "inherit"] });
    let said: { sandbox?: number; sender?: number; held?: string } = {};
    let text = "";
    child.stdout.on("data", (b: Buffer) => (text += b.toString()));
    for (let i = 0; i < 500 && !text.includes("\n"); i++) await sleep(10);
    try {
      said = JSON.parse(text.split("\n")[0]!) as typeof said;
    } catch {
      said = {};
    }
    child.kill("SIGKILL");
    const left = await gone([said.sandbox ?? 0, said.sender ?? 0].filter((p) => p > 0));
    return { shapes, bound, forkWait, pid, self: process.pid, sender, killedGone, again, next, crash: { said, left } };
  });
}
