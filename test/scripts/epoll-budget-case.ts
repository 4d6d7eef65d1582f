// The epoll watch budget (src/supervise/handlers/epoll.ts), as whoever runs this: the
// fixture (test/fixtures/epoll-budget.c) races threads to the budget, frees its watches
// and adds again, sends an epoll descriptor over a unix socket, hides instances in a chain
// of processes that fork and exit (at once, and every 20 ms), behind a main thread that
// exited, and in a process whose table the supervisor may not read. Prints one JSON line: per case its view, exit code and lines.
// Usage: epoll-budget-case.js EPB

import { chmodSync, mkdtempSync } from "node:fs";
import { Sandbox } from "../../src/index.js";
import { lines } from "../helpers/fixture-output.js";
import { scriptMain } from "../helpers/script-main.js";

const [epb] = process.argv.slice(2) as [string];

// Each run to the budget is 1.4 million adds (about 6 s here, more beside other tests): the
// race in one view, each hiding place in one (the count is the same code in both; the
// kernel view's pid namespace is where the chain and the exited leader run). A chain
// hopping every 20 ms (some counts then finish) held as the one hopping at once does.
const CASES: readonly [name: string, view: "supervised" | "kernel", args: readonly string[]][] = [
  ["race", "supervised", ["race", "4", "1000"]],
  ["send", "supervised", ["send"]],
  ["send", "kernel", ["send"]],
  ["hop", "kernel", ["hop", "1000", "600", "0"]],
  ["leader", "kernel", ["leader", "1000", "600"]],
  // A program copied execute-only and executed (its table unreadable to a supervisor
  // without CAP_SYS_PTRACE): the test user's counts came to 0 and it held 3,000,000.
  ["unreadable", "supervised", ["unreadable", "${DIR}", "fill", "1000"]],
];

scriptMain("/tmp/sl-epoll-budget-", async () => {
  const out: Record<string, unknown> = {};
  const dir = mkdtempSync("/tmp/sl-epoll-budget-x-");
  chmodSync(dir, 0o755);
  for (const [name, view, args] of CASES) {
    const r = await Sandbox.run({ fsReadable: [epb], fsWritable: [dir], procView: view }, [epb, ...args.map((a) => a.replace("${DIR}", dir))], { timeout: 90_000 });
    out[`${name} ${view}`] = { procView: r.procView, exitCode: r.exitCode, status: r.status, got: lines(r.stdoutText) };
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
