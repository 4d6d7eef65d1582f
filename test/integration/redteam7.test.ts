// The seventh security review (docs/security.md, "The seventh review"): the kernel view
// (SANDLOCK_KERNEL_VIEW=1), about to become the default, attacked from inside as root and as
// the test user. Each case has a control that shows a win would be seen.

import assert from "node:assert/strict";
import { scriptCase } from "../helpers/harness.js";

const SCRIPT = "dist/test/scripts/red7-case.js";

// The init (pid 1) kept the launcher's host /proc descriptor (close-on-exec, and the init
// never execs): /proc/1/fd/N/<host pid> showed the host's processes and their owners, and
// /proc/1/fd/N/self the sandbox's host pid. Now the init keeps only its pipes
// (native/launcher/init.c). Controls: bare, the same scan finds the victim through a
// process holding /proc open; inside, through a sandbox process holding the sandbox's /proc.
scriptCase("kernel view: the init holds no host /proc for the sandbox to reach through /proc/1/fd", SCRIPT, ["${PROBE}", "init-fds"], (o) => {
  assert.equal(o.error, undefined, o.error);
  assert.equal(o.attack.view, "kernel", JSON.stringify(o));
  assert.equal(o.attack.out, "", `through pid 1's descriptors: ${JSON.stringify(o)}`);
  assert.match(o.bare, /host-pid/, `control: bare, the scan finds the victim: ${JSON.stringify(o)}`);
  assert.match(o.bare, /self:\d+/, `control: bare, the scan reads self: ${JSON.stringify(o)}`);
  assert.deepEqual(o.own, { view: "kernel", out: "own-proc\nvictim-absent" }, `control: inside, the spelling reaches the sandbox's own /proc: ${JSON.stringify(o)}`);
}, 120_000);

// A sandbox could make a set-user-ID (or set-group-ID) program in its writable grant: the
// kernel lets a file's owner set the bits without any capability, so under a root caller
// `cp /usr/bin/id f; chmod 4755 f` left a root program for any host user who could reach
// the grant (both views). The supervisor performs every chmod (fs-meta.ts) and now refuses
// set-user-ID on anything and set-group-ID on anything but a directory (EPERM). A create
// with the bits in its mode is refused by the filter (eighth review). Controls: a plain
// chmod and g+s on a directory succeed inside; bare, the same
// uid's chmod 4755 sets the bit.
scriptCase("both views: a sandbox cannot make a set-user-ID or set-group-ID program in its writable grant", SCRIPT, ["${PROBE}", "setuid"], (o) => {
  assert.equal(o.error, undefined, o.error);
  for (const view of ["kernel", "supervised"]) {
    const r = o[view];
    assert.equal(r.view, view, JSON.stringify(o));
    assert.match(r.out, /suid:1\n/, `${view}: chmod 4755 fails: ${JSON.stringify(r)}`);
    assert.match(r.out, /Operation not permitted/, `${view}: with EPERM: ${JSON.stringify(r)}`);
    assert.match(r.out, /sgid:1\n/, `${view}: chmod 2755 fails: ${JSON.stringify(r)}`);
    // A create with the bits in its mode: refused by the filter since the eighth review
    // (redteam8b.test.ts); it kept them on the empty file, for a privileged writer to fill.
    assert.deepEqual(r.modes, { suid: "755", sgid: "755", plain: "700", dir: "2755", created: "absent" }, `${view}: what the host finds: ${JSON.stringify(r)}`);
    assert.match(r.out, /plain:0\n/, `control (${view}): a plain chmod succeeds: ${JSON.stringify(r)}`);
    assert.match(r.out, /dir:0\n/, `control (${view}): g+s on a directory succeeds: ${JSON.stringify(r)}`);
    assert.match(r.out, /created:1\n/, `${view}: the create with 06755 is refused: ${JSON.stringify(r)}`);
  }
  assert.equal(o.bare, "4755", "control: bare, the same uid's chmod 4755 sets the bit");
}, 120_000);

// Held: the blocklist from the kernel view's user namespace (keyrings, bpf, perf, io_uring,
// file handles, modules, mount listing, namespaces...): EPERM for each, root and user.
// Control: bare, the harmless ones reach the kernel, which answers their bad arguments.
scriptCase("kernel view: every blocked syscall stays refused inside the sandbox's user namespace", SCRIPT, ["${PROBE}", "blocklist"], (o) => {
  assert.equal(o.error, undefined, o.error);
  assert.equal(o.view, "kernel");
  const notEperm = Object.entries(o.inside).filter(([, e]) => e !== "EPERM");
  assert.deepEqual(notEperm, [], JSON.stringify(o.inside));
  assert.ok(Object.keys(o.inside).length >= 38, JSON.stringify(o.inside));
  for (const [name, e] of Object.entries(o.bare)) assert.notEqual(e, "EPERM", `control: bare, ${name} reaches the kernel: ${JSON.stringify(o.bare)}`);
}, 120_000);

// Held: teardown under the kernel view while the sandbox forks in a loop (orphans the init
// reaps), whichever of the CLI, its process group or the launcher alone is SIGKILLed: the
// launcher's death reaches the init (PDEATHSIG, forced across the namespace) and the
// init's death takes every process of the namespace. Control: at least 5 of the loop's
// processes were running when the kill came.
scriptCase("kernel view: SIGKILL of the CLI, its group or the launcher while the sandbox forks leaves nothing", SCRIPT, ["${PROBE}", "fork-teardown"], (o) => {
  assert.equal(o.error, undefined, o.error);
  for (const way of ["cli", "group", "launcher"]) {
    assert.ok(o[way].before >= 5, `control (${way}): the sandbox was forking: ${JSON.stringify(o)}`);
    assert.equal(o[way].left, 0, `${way}: survivors: ${JSON.stringify(o)}`);
  }
}, 180_000);
