// The mount a descriptor is on, as the supervisor's mount-point check reads it (native
// mountId: statx's STATX_MNT_ID), against the mnt_id of the descriptor's fdinfo, which it
// replaced: that text also lists the locks taken through the file, as long as the holder of
// the file makes it.

import assert from "node:assert/strict";
import { closeSync, openSync, readFileSync } from "node:fs";
import { test } from "node:test";
import { native } from "../../src/confine/native.js";

const fdinfoMount = (fd: number): number => Number(/^mnt_id:\s*(\d+)/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, "latin1"))![1]);

test("mountId is fdinfo's mnt_id on every mount tried, -EBADF for a descriptor not open", () => {
  const ids = new Set<number>();
  for (const path of ["/", "/proc", "/dev", "/sys", "/proc/self/status"]) {
    const fd = openSync(path, "r");
    try {
      const id = native().mountId(fd);
      assert.equal(id, fdinfoMount(fd), path);
      ids.add(id);
    } finally {
      closeSync(fd);
    }
  }
  assert.ok(ids.size >= 3, `distinct mounts: ${[...ids].join(", ")}`);
  const fd = openSync("/", "r");
  closeSync(fd);
  assert.equal(native().mountId(fd), -9);
});
