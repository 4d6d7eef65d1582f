// The zygote's start-up variables (src/fork/zygote.ts zygoteEnv): the preload with the
// words its constructor acts on (native/zygote-preload.c), LD_BIND_NOW only where the
// caller had none, node's code in huge pages unless noHugePages.

import assert from "node:assert/strict";
import { test } from "node:test";
import { addonPath } from "../../src/confine/native.js";
import { zygoteCommand, zygoteEnv } from "../../src/fork/zygote.js";

// An addon path LD_PRELOAD cannot hold (a space or colon) is not preloaded at all.
const skip = /[\s:]/.test(addonPath()) ? `the addon's path ${addonPath()} holds a space or colon: nothing is preloaded` : false;

test("zygoteEnv: the addon preloaded first, a caller's LD_PRELOAD kept after it", { skip }, () => {
  assert.equal(zygoteEnv(undefined, undefined, true).LD_PRELOAD, addonPath());
  assert.equal(zygoteEnv("/x/caller.so", undefined, true).LD_PRELOAD, `${addonPath()} /x/caller.so`);
});

test("zygoteEnv: LD_BIND_NOW set and marked for removal only when the caller had none", { skip }, () => {
  const set = zygoteEnv(undefined, undefined, true);
  assert.equal(set.LD_BIND_NOW, "1");
  assert.deepEqual(set.SANDLOCK_ZYGOTE_PRELOAD!.split(" ").sort(), ["bind-now", "huge-text"]);
  assert.equal(zygoteEnv(undefined, "", false).SANDLOCK_ZYGOTE_PRELOAD, "bind-now");
  // the caller's own LD_BIND_NOW: not ours to set or remove (the policy's env carries it)
  const kept = zygoteEnv(undefined, "1", true);
  assert.equal(kept.LD_BIND_NOW, undefined);
  assert.equal(kept.SANDLOCK_ZYGOTE_PRELOAD, "huge-text");
});

test("zygoteEnv: noHugePages leaves node's code in the file (no huge-text word)", { skip }, () => {
  assert.equal(zygoteEnv(undefined, "1", false).SANDLOCK_ZYGOTE_PRELOAD, "1");
  assert.ok(!zygoteEnv(undefined, undefined, false).SANDLOCK_ZYGOTE_PRELOAD!.includes("huge-text"));
});

test("zygoteCommand: one JavaScript thread, no V8 workers, extra flags before the program", () => {
  const cmd = zygoteCommand(["--jitless"]);
  assert.deepEqual(cmd.slice(0, 4), [process.execPath, "--single-threaded", "--v8-pool-size=0", "--jitless"]);
  assert.ok(cmd[4]!.endsWith("zygote-main.cjs"));
  assert.equal(cmd[5], addonPath());
});
