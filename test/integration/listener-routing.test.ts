// Every trapped call is answered by its own sandbox's supervisor while listeners pass from
// one pooled receiving thread to the next and listener numbers are reused at once (the
// threads poll their own duplicate and stop without a join). A misrouted notification
// would show another sandbox's name, the host's, or hang until the timeout.

import assert from "node:assert/strict";
import { scriptCase } from "../helpers/harness.js";

scriptCase("48 named sandboxes, four at a time, each see only their own name in 5 trapped unames", "dist/test/scripts/listener-routing-case.js", [], (out) => {
  assert.equal(out.seen.length, 48);
  // Control: unconfined, uname answers the host's name, which no sandbox may see.
  assert.ok(!/^box-\d+$/.test(out.host), `host name ${out.host}`);
  out.seen.forEach((names: string[], i: number) => {
    assert.deepEqual(names, Array(5).fill(`box-${i}`), `sandbox ${i}`);
  });
});
