// Sandbox.restore's pure checks: what "within the saved policy" means (restore-policy.ts),
// where the restore step's pages go (restore-run.ts holeFor), the refusal where the kernel
// view cannot apply, and which signal a remote call may drop (discarded.ts).

import assert from "node:assert/strict";
import { test } from "node:test";
import { CheckpointError, Policy } from "../../src/index.js";
import { assertWithin, within } from "../../src/checkpoint/restore-policy.js";
import { holeFor } from "../../src/checkpoint/restore-run.js";

const saved = new Policy({ fsReadable: ["/usr", "/opt/data"], fsWritable: ["/tmp/work"], fsDenied: ["/usr/secret"], maxMemory: "256M", extraDenySyscalls: ["ptrace"] });

function wider(given: Policy, message: string): void {
  assert.throws(() => assertWithin(given, saved), (e: unknown) => {
    assert.ok(e instanceof CheckpointError);
    assert.equal(e.code, "CHECKPOINT_REFUSED");
    assert.equal(e.message, `restore: the policy given is wider than the checkpoint's: ${message}`);
    return true;
  });
}

test("within: a path is within itself and its parents, not a sibling sharing a prefix", () => {
  assert.ok(within("/usr", "/usr"));
  assert.ok(within("/usr/lib/x", "/usr"));
  assert.ok(within("/anything", "/"));
  assert.ok(!within("/usrlocal", "/usr"));
});

test("the saved policy itself, and narrower grants and lower limits, are within it", () => {
  assertWithin(saved, saved);
  assertWithin(saved.with({ fsReadable: ["/usr/lib", "/tmp/work/in"], fsWritable: [], maxMemory: "64M" }), saved);
  assertWithin(saved.with({ fsDenied: ["/usr/secret", "/usr/more"], extraDenySyscalls: ["ptrace", "mount"] }), saved);
});

test("a wider policy is refused, naming the field and the value", () => {
  wider(saved.with({ fsReadable: ["/usr", "/etc"] }), "fsReadable grants /etc, which the saved policy does not");
  wider(saved.with({ fsWritable: ["/tmp/work", "/opt/data"] }), "fsWritable grants /opt/data, which the saved policy does not grant writable");
  wider(saved.with({ fsDenied: [] }), "fsDenied no longer denies /usr/secret");
  wider(saved.with({ maxMemory: "1G" }), `maxMemory ${1n << 30n} is above the saved policy's ${256n << 20n}`);
  wider(saved.with({ maxMemory: undefined }), `maxMemory is unlimited, the saved policy's is ${256n << 20n}`);
  wider(saved.with({ extraDenySyscalls: [] }), "extraDenySyscalls no longer denies ptrace");
  const watching = saved.with({ maxEpollWatches: 1000 });
  assertWithin(watching.with({ maxEpollWatches: 10 }), watching);
  assert.throws(() => assertWithin(watching.with({ maxEpollWatches: 1001 }), watching), /: maxEpollWatches 1001 is above the saved policy's 1000$/);
  assert.throws(() => assertWithin(watching.with({ maxEpollWatches: undefined }), watching), /: maxEpollWatches is unset \(a quarter of fs\.epoll\.max_user_watches\), the saved policy's is 1000$/);
  assertWithin(saved.with({ maxEpollWatches: 1000 }), saved);
  wider(saved.with({ extraAllowSyscalls: ["sysv_ipc"] }), "extraAllowSyscalls allows sysv_ipc, which the saved policy does not");
  wider(saved.with({ noCoredump: true }), "noCoredump is true, the saved policy's is false (only grants and limits may differ)");
});

test("holeFor: the lowest free page-aligned place of the size asked, past every mapping in the way", () => {
  const maps = [
    { start: 0x1000n, end: 0x3000n },
    { start: 0x5000n, end: 0x6000n },
  ];
  assert.equal(holeFor(maps, 0x2000n, 0x1000n), 0x3000n);
  assert.equal(holeFor(maps, 0x3000n, 0x1000n), 0x6000n, "the gap 0x3000-0x5000 is too small");
  assert.equal(holeFor(maps, 0x1000n, 0x10000n), 0x10000n);
});

test("a capture from the kernel view where that view cannot apply: the restore's refusal names why, without the start's hint about a fallback", async () => {
  const { kernelViewRefusal } = await import("../../src/checkpoint/restore.js");
  assert.equal(
    kernelViewRefusal('procView: "kernel" cannot apply: user namespaces are disabled (kernel.unprivileged_userns_clone is 0) (leave procView unset to fall back to the supervised view)'),
    "restore: the checkpoint was captured in the kernel view, whose pid namespace gives its threads back their ids, and that view cannot apply here: user namespaces are disabled (kernel.unprivileged_userns_clone is 0)",
  );
  // A message of another shape is kept whole.
  assert.match(kernelViewRefusal("something else"), /cannot apply here: something else$/);
});

test("a procView other than the capture's is refused as wider than the saved policy (it was unset)", () => {
  wider(new Policy({ ...saved.toJSON(), procView: "supervised" } as never), 'procView is "supervised", the saved policy\'s is unset (only grants and limits may differ)');
});

test("a signal a capture's call may drop: only one the process would have discarded untraced (ignored, or not caught and ignored by default)", async () => {
  const { discardedUntraced } = await import("../../src/checkpoint/discarded.js");
  // This Node process ignores SIGPIPE, leaves SIGTERM and SIGURG at their defaults.
  assert.equal(discardedUntraced(process.pid, 13), true, "SIGPIPE: SIG_IGN");
  assert.equal(discardedUntraced(process.pid, 15), false, "SIGTERM: its default ends the process");
  assert.equal(discardedUntraced(process.pid, 23), true, "SIGURG: ignored by default");
  assert.equal(discardedUntraced(process.pid, 0), false);
  assert.equal(discardedUntraced(process.pid, 65), false);
  assert.equal(discardedUntraced(2 ** 22 + 1, 17), false, "no such process: not dropped");
});
