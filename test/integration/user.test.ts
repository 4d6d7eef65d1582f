// `user` (SPEC 2.1, issue 15) against the real kernel, as root and as the test user: the
// command appears as the policy's uid and gid through a user namespace of its own where
// only those ids are mapped (to the caller's); the kernel still checks every access with
// the caller's ids and no capability. The control is the same command without `user`.

import assert from "node:assert/strict";
import { scriptCase } from "../helpers/harness.js";

scriptCase("user: the command appears as the policy's uid and gid, gains nothing by it, and is refused by name where no user namespace can be had", "dist/test/scripts/user-case.js", [], (o) => {
  const [uid, gid] = o.caller;
  assert.equal(o.plain, `${uid}\n${gid}`, "control: without user, the caller's ids");
  assert.equal(o.mapped.code, 0, o.mapped.err);
  assert.equal(
    o.mapped.out,
    [
      "4242", "4343",
      "4242 4343", // what it creates is its own, as it sees it
      "chown-self-ok", // chown to its own ids works (the supervisor translates them)
      "1", // chown to an id with no mapping: EINVAL, as the kernel answers
      "1", // a file its caller cannot read stays closed
      "1", // setgroups is denied: the supplementary groups cannot be dropped
      "1", // no namespace can be made inside
    ].join("\n"),
    o.mapped.err,
  );
  assert.deepEqual(o.madeOutside, [uid, gid], "outside, the file belongs to the caller");
  assert.equal(o.asRoot.code, 0);
  assert.equal(o.asRoot.out, "0\n1\n5", "appearing as root: id -u is 0, the closed file stays closed, all five capability sets are empty");
  assert.notEqual(o.nested.code, 0);
  assert.match(o.nested.stderr, /user: appearing as uid 7 and gid 7 needs a user namespace, which is not available here: this process runs under a seccomp filter \(a sandbox inside a sandbox\)/);
});
