// A trapped call can be interrupted by a signal until the supervisor has received it; a
// fork or an mmap interrupted there fails with EINTR, which the kernel alone never gives
// (dash pipelines failed with "Cannot fork"). The supervisor receives on a thread of its
// own that runs ahead of the sandbox (native/notify-thread.c, RECEIVER_RAISE in
// plan/features.ts). Control: in the same run, sleeps are interrupted by the same signal,
// so the handler is installed and the signals do arrive.
//
// Narrowed, not closed: before the thread, 188 of 600 forks of this program failed; since,
// none on an idle machine, but a few still can when the thread does not get the CPU first
// (1 of 600 as root on a quiet CI run, 8 of 600 as an unprivileged supervisor during a
// loaded full run: it cannot raise its thread above other host processes; 8 of 600 as
// root once in seven fresh-clone CI runs, in the alone part). So "none" is todo, and the
// regression check holds the fix to at most 1%, a rate measured over 1,800 forks: the
// misses come in bursts (the thread off its CPU for a while), and one burst in 600 forks
// failed a run (8 where 6 were allowed); 1,800 forks here, quiet, miss 0 to 4 (7 runs,
// 2026-12-05), the bound being 18.

import assert from "node:assert/strict";
import { answer, openCase, securityCase } from "../helpers/harness.js";

const probe = (...args: string[]): string[] => ["${PROBE}", ...args];
const N = 900;

const FORKS = /^eintr (\d+) forks (\d+) interrupted (\d+)$/;

function forks(o: Parameters<Parameters<typeof securityCase>[2]>[0]): { eintr: number } {
  const m = FORKS.exec(answer(o));
  assert.ok(m, `${answer(o)} ${o.result?.stderrText ?? ""}`);
  assert.equal(Number(m[2]) + Number(m[1]), 2 * N, "every fork was made or failed");
  assert.ok(Number(m[3]) > 50, `control: sleeps interrupted by SIGCHLD (${m[3]} of 100)`);
  return { eintr: Number(m[1]) };
}

const SPEC = { policy: { fsReadable: ["${PROBE}"] }, cmd: probe("fork-sigchld", String(N)), timeout: 60_000 };

openCase(
  `${N} pairs of forks under a SIGCHLD handler without SA_RESTART: none fails with EINTR`,
  SPEC,
  (o) => assert.equal(forks(o).eintr, 0, "forks that failed with EINTR"),
  {
    root: "the receiving thread can still lose the CPU to the exiting child now and then (1 of 600 on a quiet machine)",
    user: "an unprivileged supervisor cannot raise its receiving thread above other host processes: under host load a few forks can still be interrupted",
  },
);

securityCase(`${N} pairs of forks under a SIGCHLD handler without SA_RESTART: at most 1% fail with EINTR (188 of 600 before the receiving thread)`, SPEC, (o) =>
  assert.ok(forks(o).eintr <= (2 * N) / 100, `forks that failed with EINTR: ${forks(o).eintr}`),
);

securityCase("control: the same program without a sandbox forks with no EINTR either", { policy: {}, scenario: "bare", cmd: probe("fork-sigchld", String(N)) }, (o) => {
  assert.match(answer(o), new RegExp(`^eintr 0 forks ${2 * N} interrupted \\d+$`));
});
