// The command starts with every signal at its default disposition and none blocked,
// whatever its launcher ignores: the launcher now resets only the dispositions it and
// glibc's posix_spawn changed, not all 64 (fewer system calls on the way to exec).

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { Sandbox } from "../../src/index.js";
import { SYSTEM_RO } from "../helpers/system.js";

const sigIgn = (pid: number): string => /^SigIgn:\s*(\S+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? "?";

test("the command's signals are all default and unblocked, though its launcher ignores some", async () => {
  const r = await Sandbox.run({ fsReadable: [...SYSTEM_RO, "/proc"] }, ["/bin/sh", "-c", "exec grep -E '^Sig(Ign|Blk)' /proc/self/status"]);
  assert.equal(r.exitCode, 0, r.stderr!.toString());
  assert.deepEqual(r.stdout!.toString().trim().split("\n"), ["SigBlk:\t0000000000000000", "SigIgn:\t0000000000000000"]);
  // Control, from the host: the command's parent (the launcher) ignores signals, so the
  // command's clean set comes from the reset, not from what it inherited.
  const sb = new Sandbox({ fsReadable: SYSTEM_RO });
  await sb.spawn(["/bin/sleep", "30"]);
  try {
    const ppid = (pid: number): number => Number(/^PPid:\s*(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]);
    // Under the kernel view the command's parent is the init, the launcher's child.
    const launcher = sb.procView === "kernel" ? ppid(ppid(sb.pid!)) : ppid(sb.pid!);
    assert.notEqual(sigIgn(launcher), "0000000000000000");
    assert.equal(sigIgn(sb.pid!), "0000000000000000");
  } finally {
    await sb.kill();
  }
});
