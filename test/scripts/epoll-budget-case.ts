// The epoll watch budget (src/supervise/handlers/epoll.ts), as whoever runs this: the
// fixture (test/fixtures/epoll-budget.c) races threads to the budget, frees its watches
// and adds again, sends an epoll descriptor over a unix socket, hides instances in a chain
// of processes that fork and exit (at once, and every 20 ms), and behind a main thread
// that exited. Prints one JSON line: per case its view, exit code and lines.
// Usage: epoll-budget-case.js EPB

import { Sandbox } from "../../src/index.js";
import { lines } from "../helpers/fixture-output.js";
import { scriptMain } from "../helpers/script-main.js";

const [epb] = process.argv.slice(2) as [string];

// Each run to the budget is 1.4 million adds (about 6 s here): the races in both views, each
// hiding place in one.
const CASES: readonly [name: string, view: "supervised" | "kernel", args: readonly string[]][] = [
  ["race", "supervised", ["race", "4", "1000"]],
  ["race", "kernel", ["race", "4", "1000"]],
  ["send", "supervised", ["send"]],
  ["send", "kernel", ["send"]],
  ["hop", "kernel", ["hop", "1000", "600", "0"]],
  ["hop20", "supervised", ["hop", "1000", "600", "20"]],
  ["leader", "kernel", ["leader", "1000", "600"]],
];

scriptMain("/tmp/sl-epoll-budget-", async () => {
  const out: Record<string, unknown> = {};
  for (const [name, view, args] of CASES) {
    const r = await Sandbox.run({ fsReadable: [epb], procView: view }, [epb, ...args], { timeout: 90_000 });
    out[`${name} ${view}`] = { procView: r.procView, exitCode: r.exitCode, status: r.status, got: lines(r.stdoutText) };
  }
  return out;
});
