// Every trapped call is answered by its own sandbox's supervisor while listeners pass from
// one pooled receiving thread to the next and listener numbers are reused at once (the
// threads receive on their own duplicate and stop without a join). A misrouted notification
// would show another sandbox's name, the host's, or hang until the timeout. And a receiving
// thread leaves when its sandbox ends: blocked in RECV itself (Linux 6.11+), it must see the
// end of the last task, or every sandbox would leave a thread behind.

import assert from "node:assert/strict";
import { scriptCase } from "../helpers/harness.js";

scriptCase("48 named sandboxes, four at a time, each see only their own name in 5 trapped unames", "dist/test/scripts/listener-routing-case.js", [], (out) => {
  assert.equal(out.seen.length, 48);
  // Control: unconfined, uname answers the host's name, which no sandbox may see.
  assert.ok(!/^box-\d+$/.test(out.host), `host name ${out.host}`);
  out.seen.forEach((names: string[], i: number) => {
    assert.deepEqual(names, Array(5).fill(`box-${i}`), `sandbox ${i}`);
  });
  // Receiving threads (named sandlock-recv): none before the first sandbox; the pool keeps at
  // most four idle workers, so the 48 sandboxes leave none beyond them.
  const t = out.threads as { before: number; base: number; after: number; holding: number; released: number };
  assert.equal(t.before, 0, "no receiving thread before the first sandbox");
  assert.ok(t.base >= 1 && t.base <= 4, `receiving threads after the first four sandboxes: ${t.base}`);
  assert.ok(t.after <= 4, `receiving threads after 48 sandboxes: ${t.after} (the pool keeps four idle)`);
  // Control: 8 running sandboxes hold 8 receiving threads, which the count sees.
  assert.ok(t.holding >= 8, `receiving threads while 8 sandboxes run: ${t.holding}`);
  assert.ok(t.released <= 4, `receiving threads after the 8 ended: ${t.released}`);
});
