// The seventh security review (docs/security.md, "The seventh review"): the kernel view
// (SANDLOCK_KERNEL_VIEW=1), about to become the default, attacked from inside as root and as
// the test user. Each case has a control that shows a win would be seen.

import assert from "node:assert/strict";
import { scriptCase } from "../helpers/harness.js";

const SCRIPT = "dist/test/scripts/red7-case.js";

// The init (pid 1) kept the launcher's host /proc descriptor (close-on-exec, and the init
// never execs): /proc/1/fd/N/<host pid> showed the host's processes and their owners, and
// /proc/1/fd/N/self the sandbox's host pid. Its report pipe could be reopened there to
// forge the command's status. Now the init keeps only its pipes and is not dumpable
// (native/launcher/init.c). Controls: bare, the same scan finds the victim through a
// process holding /proc open; inside, through a sandbox process holding the sandbox's /proc.
scriptCase("kernel view: the init holds no host /proc and cannot be reached through /proc/1/fd", SCRIPT, ["${PROBE}", "init-fds"], (o) => {
  assert.equal(o.error, undefined, o.error);
  assert.equal(o.attack.view, "kernel", JSON.stringify(o));
  assert.equal(o.attack.out, "", `through pid 1's descriptors: ${JSON.stringify(o)}`);
  assert.match(o.bare, /host-pid/, `control: bare, the scan finds the victim: ${JSON.stringify(o)}`);
  assert.match(o.bare, /self:\d+/, `control: bare, the scan reads self: ${JSON.stringify(o)}`);
  assert.deepEqual(o.own, { view: "kernel", out: "own-proc\nvictim-absent" }, `control: inside, the spelling reaches the sandbox's own /proc: ${JSON.stringify(o)}`);
}, 120_000);
