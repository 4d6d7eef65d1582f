// Where a checkpoint may not be saved (checkpoint/save-place.ts): beneath what its own
// policy lets a sandbox write, whichever field grants it.

import { test } from "node:test";
import assert from "node:assert/strict";
import { refusedSavePlace, writablePlaces } from "../../src/checkpoint/save-place.js";

const why = (parent: string, place: string, field: string): string =>
  `${parent} is beneath ${place}, which the checkpoint's own policy lets the sandbox write (${field}): a sandbox could rewrite the saved policy and image before a restore; save it in a directory the sandbox cannot write`;

test("fsWritable and workdir: the directory itself and below are refused, beside it and above are not", () => {
  const policy = { fsReadable: ["/usr"], fsWritable: ["/nonexistent-sl/w"], workdir: "/nonexistent-sl/wd" };
  assert.equal(refusedSavePlace(policy, "/nonexistent-sl/w"), why("/nonexistent-sl/w", "/nonexistent-sl/w", "fsWritable"));
  assert.equal(refusedSavePlace(policy, "/nonexistent-sl/w/a/b"), why("/nonexistent-sl/w/a/b", "/nonexistent-sl/w", "fsWritable"));
  assert.equal(refusedSavePlace(policy, "/nonexistent-sl/wd/x"), why("/nonexistent-sl/wd/x", "/nonexistent-sl/wd", "workdir"));
  assert.equal(refusedSavePlace(policy, "/nonexistent-sl/w2"), undefined);
  assert.equal(refusedSavePlace(policy, "/nonexistent-sl"), undefined);
  assert.equal(refusedSavePlace(policy, "/usr/share"), undefined, "a read grant is not refused");
});

test("a chroot: its whole root and every fsMount not :ro count; a :ro mount does not", () => {
  const policy = { fsReadable: ["/"], fsWritable: ["/tmp"], chroot: "/nonexistent-sl/root", fsMount: { "/data": "/nonexistent-sl/data", "/ro": "/nonexistent-sl/ro:ro" } };
  assert.deepEqual(writablePlaces(policy), [
    { path: "/nonexistent-sl/root", field: "chroot" },
    { path: "/nonexistent-sl/data", field: "fsMount (/data)" },
  ]);
  assert.equal(refusedSavePlace(policy, "/nonexistent-sl/root/tmp"), why("/nonexistent-sl/root/tmp", "/nonexistent-sl/root", "chroot"));
  assert.equal(refusedSavePlace(policy, "/nonexistent-sl/data/x"), why("/nonexistent-sl/data/x", "/nonexistent-sl/data", "fsMount (/data)"));
  assert.equal(refusedSavePlace(policy, "/nonexistent-sl/ro"), undefined);
  assert.equal(refusedSavePlace(policy, "/tmp"), undefined, "under a chroot, fsWritable names a path inside the root, not the host's");
});

test("a policy that writes nothing refuses nowhere", () => {
  assert.deepEqual(writablePlaces({ fsReadable: ["/usr"] }), []);
  assert.equal(refusedSavePlace({ fsReadable: ["/usr"] }, "/usr"), undefined);
});
