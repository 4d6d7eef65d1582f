// The epoll watch budget (src/supervise/handlers/epoll.ts), as whoever runs this: the
// fixture (test/fixtures/epoll-budget.c) races threads to the budget, frees its watches
// and adds again, sends an epoll descriptor over a unix socket, hides instances in a chain
// of processes that fork and exit (at once, and every 20 ms), behind a main thread that
// exited, in a process whose table the supervisor may not read, and in descriptors moved
// behind the count's walk of a table (dup2), and shares instances among processes.
// Prints one JSON line: per case its view, exit code and lines.
// Usage: epoll-budget-case.js EPB SMALL

import { chmodSync, mkdtempSync } from "node:fs";
import { Sandbox } from "../../src/index.js";
import { lines } from "../helpers/fixture-output.js";
import { scriptMain } from "../helpers/script-main.js";

const [epb] = process.argv.slice(2) as [string];

// A run to the budget of a quarter of the limit is 1.4 million adds (about 6 s here, more
// beside other tests): the race runs there (the default's own case), every hiding place
// under maxEpollWatches SMALL (the count is the same code), each in one view (the kernel
// view's pid namespace is where the chain and the exited leader run).
const SMALL = Number(process.argv[3]);
const CASES: readonly [name: string, view: "supervised" | "kernel", args: readonly string[], watches?: number][] = [
  ["race", "supervised", ["race", "4", "1000"]],
  ["send", "supervised", ["send"]],
  ["send", "kernel", ["send"]],
  ["hop", "kernel", ["hop", "1000", "100", "0"], SMALL],
  ["leader", "kernel", ["leader", "1000", "100"], SMALL],
  // A program copied execute-only and executed (its table unreadable to a supervisor
  // without CAP_SYS_PTRACE): the test user's counts came to 0 and it held 3,000,000.
  ["unreadable", "supervised", ["unreadable", "${DIR}", "fill", "1000"], SMALL],
  // The dup2 attack on a walk of a table that changes under it (the twentieth review's
  // open item: 2,400,000 as root, 3,000,000 as the test user): the count now reads a
  // frozen sandbox.
  ["shuffle", "supervised", ["shuffle", "15000", "2000", "50"], SMALL],
  // 50 instances shared by 12 descriptors in 4 processes: counted once each (kcmp), or
  // freed watches never came back (600,000 counted).
  ["shared", "kernel", ["shared", "1000", "50", "3"], SMALL],
];

scriptMain("/tmp/sl-epoll-budget-", async () => {
  const out: Record<string, unknown> = {};
  const dir = mkdtempSync("/tmp/sl-epoll-budget-x-");
  chmodSync(dir, 0o755);
  for (const [name, view, args, watches] of CASES) {
    const r = await Sandbox.run({ fsReadable: [epb], fsWritable: [dir], procView: view, ...(watches !== undefined ? { maxEpollWatches: watches } : {}) }, [epb, ...args.map((a) => a.replace("${DIR}", dir))], { timeout: 90_000 });
    const why = r.refused.find((x) => x.syscall === "epoll_ctl")?.why;
    out[`${name} ${view}`] = { procView: r.procView, exitCode: r.exitCode, status: r.status, why, got: lines(r.stdoutText) };
  }
  // The control: a sandbox whose launcher traces every process (timeStart) cannot be frozen
  // by the supervisor (a process has one tracer), and its count walks the tables as they
  // change: the attack's moves hide its instances there (docs/security.md, Known limits).
  // Tried up to three times: the attack times the count's reads (10 of 10 won here).
  for (let i = 0; i < 3; i++) {
    const c = await Sandbox.run({ fsReadable: [epb], timeStart: new Date(), procView: "supervised", maxEpollWatches: SMALL }, [epb, "shuffle", "15000", "2000", "50"], { timeout: 90_000 });
    const got = lines(c.stdoutText);
    out.control = { status: c.status, exitCode: c.exitCode, tries: i + 1, got };
    if (Number(got.added?.split(" ")[0]) > SMALL - 15_000 - 50_000) break;
  }
  // A count freezes the sandbox as a checkpoint does: while the program makes a count at
  // every round (it frees an instance and fills another, at its budget), checkpoints,
  // pauses and resumes come between; they take turns with the counts (an add waiting for a
  // count is entered again when a checkpoint's freeze interrupts it).
  {
    const sb = new Sandbox({ fsReadable: [epb], procView: "supervised", maxEpollWatches: SMALL });
    await sb.spawn([epb, "churn", "1000", "3000"]);
    await new Promise((wake) => setTimeout(wake, 500));
    const failures: string[] = [];
    let checkpoints = 0;
    let pauses = 0;
    for (const t0 = Date.now(); Date.now() - t0 < 2000; ) {
      try {
        await sb.checkpoint();
        checkpoints++;
      } catch (e) {
        failures.push((e as Error).message);
      }
      await sb.pause();
      await new Promise((wake) => setTimeout(wake, 20));
      await sb.resume();
      pauses++;
    }
    const r = await sb.wait();
    out.turns = { status: r.status, exitCode: r.exitCode, checkpoints, pauses, failures, got: lines(r.stdoutText) };
  }
  // The memory cap cannot measure what such a process's descriptors hold either: its run
  // ends, the limit naming why (as root the supervisor reads the table: it runs through).
  const r = await Sandbox.run({ fsReadable: [epb], fsWritable: [dir], maxMemory: "64M", procView: "supervised" }, [epb, "unreadable", dir, "hold", "1500"], { timeout: 30_000 });
  out.memory = { status: r.status, exitCode: r.exitCode, limit: r.limit ?? null, got: lines(r.stdoutText) };
  // A zombie's /proc/<pid>/fd is the host root's too (it has let go of its memory): it is
  // not such a process (the run was ended for a child left unreaped before this was known).
  const z = await Sandbox.run({ fsReadable: [epb], maxMemory: "64M", procView: "supervised" }, [epb, "zombie", "1500"], { timeout: 30_000 });
  out.zombie = { status: z.status, exitCode: z.exitCode, limit: z.limit ?? null, got: lines(z.stdoutText) };
  return out;
});
