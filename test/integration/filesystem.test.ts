// Landlock filesystem rules against the real kernel: reads outside the grants, writes into
// read-only trees, and escapes from a writable directory by symlink, hard link and rename.
// Each refusal is asserted with the errno of the view in force (byView): Landlock's under
// the supervised view, the constructed root's (no such path: ENOENT) under the kernel view.

import assert from "node:assert/strict";
import { answer, byView, securityCase } from "../helpers/harness.js";
import { SYSTEM_RO } from "../helpers/system.js";

const probe = (...args: string[]): string[] => ["${PROBE}", ...args];
const base = { fsReadable: ["${PROBE}", "${DATA}"], fsWritable: ["${WRITE}"] };

securityCase("read inside a readable tree works", { fixtures: ["dirs"], policy: base, cmd: probe("read", "${DATA}/file") }, (o) => {
  assert.equal(answer(o), "ok");
});

securityCase("read outside the grants is EACCES (kernel view: ENOENT)", { fixtures: ["dirs"], policy: base, cmd: probe("read", "${SECRET}/file") }, (o) => {
  assert.equal(answer(o), byView(o, "EACCES", "ENOENT"));
});

securityCase("read of a host file outside the grants is EACCES (kernel view: ENOENT)", { fixtures: ["dirs"], policy: base, cmd: probe("read", "/etc/passwd") }, (o) => {
  assert.equal(answer(o), byView(o, "EACCES", "ENOENT"));
});

securityCase("write into a read-only tree is EACCES", { fixtures: ["dirs"], policy: base, cmd: probe("write", "${DATA}/new") }, (o) => {
  assert.equal(answer(o), "EACCES");
});

securityCase("overwrite of a read-only file is EACCES", { fixtures: ["dirs"], policy: base, cmd: probe("append", "${DATA}/file") }, (o) => {
  assert.equal(answer(o), "EACCES");
});

securityCase("write inside a writable tree works", { fixtures: ["dirs"], policy: base, cmd: probe("write", "${WRITE}/new") }, (o) => {
  assert.equal(answer(o), "ok");
});

securityCase(
  "a single-file grant allows that file only",
  { fixtures: ["dirs"], policy: { fsReadable: ["${PROBE}", "${DATA}/file"] }, cmd: probe("read", "${DATA}/file") },
  (o) => assert.equal(answer(o), "ok"),
);

securityCase(
  "a single-file grant does not open its directory",
  { fixtures: ["dirs"], policy: { fsReadable: ["${PROBE}", "${DATA}/file"] }, cmd: probe("write", "${DATA}/other") },
  // kernel view: the directory is one of the constructed root's, on its read-only tmpfs
  (o) => assert.equal(answer(o), byView(o, "EACCES", "EROFS")),
);

securityCase(
  "escape by symlink: a link in the writable dir to a forbidden file cannot be read",
  {
    fixtures: ["dirs"],
    policy: { ...base, fsReadable: [...base.fsReadable, ...SYSTEM_RO] },
    cmd: ["/bin/sh", "-c", "${PROBE} symlink ${SECRET}/file ${WRITE}/link && ${PROBE} read ${WRITE}/link"],
  },
  (o) => {
    // The symlink itself may be created (it is just a name); following it is refused.
    assert.deepEqual(o.result?.stdout?.trim().split("\n"), ["ok", byView(o, "EACCES", "ENOENT")]);
  },
);

securityCase(
  "escape by hard link: linking a forbidden file into the writable dir is refused",
  { fixtures: ["dirs"], policy: base, cmd: probe("link", "${SECRET}/file", "${WRITE}/hard") },
  (o) => assert.equal(answer(o), byView(o, "EXDEV", "ENOENT")),
);

securityCase(
  "escape by rename: moving a forbidden file into the writable dir is refused",
  { fixtures: ["dirs"], policy: base, cmd: probe("rename", "${SECRET}/file", "${WRITE}/moved") },
  (o) => {
    // Landlock refuses to remove the name from a directory without REMOVE_FILE there; the
    // kernel view has no such name.
    assert.equal(answer(o), byView(o, "EACCES", "ENOENT"));
    assert.equal(o.observed.secret, "secret\n");
  },
);

securityCase(
  "escape by rename: moving a file out of the writable dir onto a forbidden path is refused",
  { fixtures: ["dirs"], policy: base, prepare: [["write", "${WRITE}/mine", "mine\n"]], cmd: probe("rename", "${WRITE}/mine", "${SECRET}/file") },
  (o) => {
    assert.equal(answer(o), byView(o, "EACCES", "ENOENT"));
    assert.equal(o.observed.secret, "secret\n");
  },
);

securityCase(
  "truncate of a read-only file is refused",
  { fixtures: ["dirs"], policy: base, cmd: probe("truncate", "${DATA}/file") },
  (o) => assert.equal(answer(o), "EACCES"),
);

securityCase(
  "executing a program outside the grants is refused",
  { fixtures: ["dirs"], policy: base, cmd: probe("exec", "/bin/true") },
  (o) => assert.equal(answer(o), byView(o, "EACCES", "ENOENT")),
);
