// The pipe budget (src/supervise/handlers/pipes.ts), attacked by real sandboxed programs
// (test/fixtures/probe-pipes.h), as root and as the test user, both views: the ways to hold
// pipe pages other than making pipes in a loop (redteam20.test.ts makes 1,100 pipes and
// 1,100 threads' splice pipes). Each counts against a quarter of fs.pipe-user-pages-soft,
// in pipes of 16 pages (features.ts pipeBudget: 256 at the usual 16,384).

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { answer, securityCase } from "../helpers/harness.js";
import { pipeBudget } from "../../src/plan/features.js";

const BUDGET = pipeBudget(Number(readFileSync("/proc/sys/fs/pipe-user-pages-soft", "latin1")));
const VIEWS = ["supervised", "kernel"] as const;
const probe = (...args: string[]): string[] => ["${PROBE}", ...args];
const policy = (view: string): Record<string, unknown> => ({ fsReadable: ["${PROBE}"], fsWritable: ["${WRITE}"], procView: view });
const fields = (o: Parameters<Parameters<typeof securityCase>[2]>[0], word: string): string[] => {
  const line = answer(o);
  assert.ok(line.startsWith(`${word} `), `the probe's line: ${line}`);
  return line.split(" ").slice(1);
};

for (const view of VIEWS) {
  // Pipes passed away in SCM_RIGHTS and closed leave no descriptor for a count to see; they
  // stay in the socket's queue. Without counting them, 200 pipes held and ~250 in flight
  // (the uid's in-flight bound stops the sends there) would be 450 pipes, past the budget.
  securityCase(
    `${view} view: pipes passed in SCM_RIGHTS and closed count against the pipe budget: with 200 held, the sends stop within it (EPERM or ENFILE)`,
    { policy: policy(view), cmd: probe("pipes-sent", "200", "2000"), fixtures: ["dirs"] },
    (o) => {
      const [sent, err] = fields(o, "sent");
      assert.match(err ?? "", /^(EPERM|ENFILE)$/, `stopped by the budget, not by the queue or the uid's in-flight bound: ${answer(o)}`);
      assert.ok(200 + Number(sent) <= BUDGET, `200 held + ${sent} sent within ${BUDGET}: ${answer(o)}`);
      // Control: the sends reached the budget at least once (each pass counts the pipe it
      // made and the pipe it sent until a count of the tables, which runs no more often than
      // every 100 ms: a pass at the budget in between is refused).
      assert.ok(Number(sent) >= Math.floor((BUDGET - 200) / 2) - 3, `the sends reached the budget: ${answer(o)}`);
    },
  );

  // A FIFO's pipe is made at its first open, which no supervised call sees: each FIFO made
  // counts for the sandbox's life (each is opened here, and closed).
  securityCase(
    `${view} view: FIFOs made count against the pipe budget: mknod of one more gets ENOSPC`,
    { policy: policy(view), cmd: probe("fifos-made", "${WRITE}", "2000"), fixtures: ["dirs"] },
    (o) => {
      const [made, err] = fields(o, "fifos");
      assert.equal(err, "ENOSPC", answer(o));
      assert.ok(Number(made) <= BUDGET && Number(made) >= BUDGET - 6, `${made} FIFOs, budget ${BUDGET}: ${answer(o)}`);
    },
  );

  // A thread's first sendfile or copy_file_range between two files makes its splice pipe:
  // past the budget the call is refused (EINVAL, EXDEV), and programs copy by read and write.
  for (const [how, errno] of [["sendfile", "EINVAL"], ["copy_file_range", "EXDEV"]] as const) {
    securityCase(
      `${view} view: 600 threads that each ${how} a byte and stay: those past the pipe budget get ${errno}`,
      { policy: policy(view), cmd: probe("splice-threads", "${WRITE}", how, "600"), fixtures: ["dirs"], timeout: 30_000 },
      (o) => {
        const [ok, refused, other, err] = fields(o, "copied");
        assert.equal(Number(other), 0, `no other error: ${answer(o)}`);
        assert.equal(err, errno, answer(o));
        assert.equal(Number(ok) + Number(refused), 600, answer(o));
        assert.ok(Number(ok) <= BUDGET && Number(ok) >= BUDGET - 6, `${ok} copied, budget ${BUDGET}: ${answer(o)}`);
      },
    );
  }

  // The pipes below the budget are continued in C from a credit (native/proccredit.c): eight
  // threads racing for it make no more than the budget between them.
  securityCase(
    `${view} view: 8 threads making pipes at once stop within the pipe budget between them (ENFILE)`,
    { policy: policy(view), cmd: probe("pipes-racing", "8"), fixtures: ["dirs"], timeout: 30_000 },
    (o) => {
      const [made, err] = fields(o, "racing");
      assert.equal(err, "ENFILE", answer(o));
      assert.ok(Number(made) <= BUDGET && Number(made) >= BUDGET - 6, `${made} pipes, budget ${BUDGET}: ${answer(o)}`);
    },
  );

  // Positive control: pipes closed at the budget free their slots (the call at the budget
  // waits for a count of the tables), round after round (a call the count's freeze
  // interrupted once must not answer the next call at the budget: fork-many's rounds got
  // ENFILE so under load).
  securityCase(
    `${view} view: a program at the pipe budget that closes half of its pipes makes as many again, three times`,
    { policy: policy(view), cmd: probe("pipes-reuse"), fixtures: ["dirs"], timeout: 30_000 },
    (o) => {
      const [first, a, b, c, err] = fields(o, "reuse");
      assert.equal(err, "ENFILE", answer(o));
      assert.ok(Number(first) <= BUDGET && Number(first) >= BUDGET - 6, answer(o));
      // (the stdio pipes, counted with the tables, take a few slots)
      let held = Number(first);
      for (const again of [a, b, c]) {
        const freed = Math.floor(held / 2);
        assert.ok(Number(again) <= freed && Number(again) >= freed - 6, `made again what was closed: ${answer(o)}`);
        held = held - freed + Number(again);
      }
    },
  );

  // Positive control: a thread gone frees its slot (its splice pipe goes with it), so a
  // pool whose workers come and go copies on past the budget.
  securityCase(
    `${view} view: 600 threads one after another, each a sendfile then gone, all copy (a thread's exit frees its slot)`,
    { policy: policy(view), cmd: probe("splice-pool", "${WRITE}", "600"), fixtures: ["dirs"], timeout: 30_000 },
    (o) => assert.equal(answer(o), "pool 600 none"),
  );
}
