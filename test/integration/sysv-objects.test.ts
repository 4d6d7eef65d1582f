// SysV objects with sysv_ipc lifted in the supervised view (src/supervise/handlers/sysv.ts):
// the supervisor makes each one and removes it at the end. Tried from inside: an object
// cannot be given to another owner (IPC_SET: EPERM; the kernel view, whose IPC namespace
// is the sandbox's, allows it), a key made and removed by racing threads leaves nothing
// behind, nor do private objects; a key the host made is got, not made, and stays; as root,
// another user's 0600 key is EACCES as the kernel answers root without capabilities (bare
// root gets it: the supervisor's capabilities are not lent). redteam20.test bounds the count.

import assert from "node:assert/strict";
import { scriptCase } from "../helpers/harness.js";
import { buildStaged } from "../helpers/stage.js";

buildStaged("sysv-objects.c", "sl-sysv-objects");

type Case = { procView: string; exitCode: number; got: Record<string, string> };

scriptCase(
  "SysV lifted (supervised view): objects cannot change owner, none is left behind after a maker/remover race or private makes, a host's key is got and kept, capabilities are not lent",
  "dist/test/scripts/sysv-case.js",
  ["${STAGE}/sl-sysv-objects"],
  (o: Record<string, Case & Record<string, string>>, who) => {
    const msg = JSON.stringify(o);
    const set = o["set supervised"]!;
    assert.equal(set.procView, "supervised", msg);
    assert.deepEqual([set.got.set_shm, set.got.set_msg, set.got.set_sem], ["EPERM", "EPERM", "EPERM"], msg);
    const control = o["set kernel"]!;
    assert.equal(control.procView, "kernel", msg);
    assert.deepEqual([control.got.set_shm, control.got.set_msg, control.got.set_sem], ["ok", "ok", "ok"], `control: its own IPC namespace: ${msg}`);

    const race = o.race!.got;
    for (const k of ["made_shm", "removed_shm", "made_msg", "removed_msg"]) assert.ok(Number(race[k]) > 0, `the race ran (${k}): ${msg}`);
    assert.equal(o["race left"], 0, `none of the 30 raced keys left a segment or queue: ${msg}`);

    assert.match(o.private!.got.private ?? "", /^(\d+:\d+:\d+ ?){20}$/, msg);
    assert.equal(o["private left"], 0, msg);

    const made = (o["host made"] as unknown as Record<string, string>).made;
    assert.match(made ?? "", /^\d+$/, msg);
    assert.equal(o["host get"]!.got.got, made, `the host's own object: ${msg}`);
    assert.equal((o["host left"] as unknown as Record<string, string>).left_shm, made, `kept after the run: ${msg}`);

    if (who === "root") {
      const foreign = (o["foreign made"] as unknown as Record<string, string>).made;
      assert.match(foreign ?? "", /^\d+$/, msg);
      assert.equal(o["foreign get"]!.got.got, "EACCES", msg);
      assert.equal((o["foreign bare"] as unknown as Record<string, string>).got, foreign, `control: bare root gets it: ${msg}`);
      assert.equal((o["foreign left"] as unknown as Record<string, string>).left_shm, foreign, msg);
    }
  },
);
