// maxDisk bounds what the staged writes may take; a sparse file takes a tmpfs nothing for
// its holes. The host copies the stage into the branch and commits it: copied byte by byte,
// `truncate -s 256M` under a 1 MB quota became 256 MB on the host's disk. Prints one JSON
// line: the allocation (bytes) of the kept branch's file and of the committed file, the
// byte written inside the holes, and a dense 512 KiB file as the control.
// Usage: sparse-case.js
import { closeSync, mkdirSync, mkdtempSync, openSync, readSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { dropWorkdirBranch, Sandbox } from "../../src/index.js";

const base = mkdtempSync("/tmp/sandlock-sparse-");
const work = join(base, "w"), storage = join(base, "branches");
mkdirSync(work);
const SYSTEM = ["/usr", "/lib", "/lib64", "/bin", "/dev/urandom"];
const MAKE = "truncate -s 256M f && printf x | dd of=f bs=1 seek=104857600 conv=notrunc && head -c 524288 /dev/urandom > dense";
const used = (p: string): number => statSync(p).blocks * 512;
const byteAt = (p: string, at: number): string => {
  const fd = openSync(p, "r");
  try {
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, at);
    return b.toString("latin1");
  } finally {
    closeSync(fd);
  }
};
const policy = { fsReadable: SYSTEM, workdir: work, fsStorage: storage, cwd: work, maxDisk: "2M" };
const kept = await Sandbox.run({ ...policy, onExit: "keep" as const }, ["/bin/sh", "-c", MAKE]);
if (kept.exitCode !== 0) console.error(kept.stderrText, JSON.stringify(kept.workdir));
const upper = join(storage, kept.workdir!.branch!, "upper");
const branch = { exit: kept.exitCode, size: statSync(join(upper, "f")).size, used: used(join(upper, "f")), byte: byteAt(join(upper, "f"), 104857600), dense: used(join(upper, "dense")) };
dropWorkdirBranch(kept.workdir!.branch!, { fsStorage: storage });
const done = await Sandbox.run(policy, ["/bin/sh", "-c", MAKE]);
const committed = { action: done.workdir?.action, size: statSync(join(work, "f")).size, used: used(join(work, "f")), byte: byteAt(join(work, "f"), 104857600), dense: used(join(work, "dense")) };
rmSync(base, { recursive: true, force: true });
console.log(JSON.stringify({ branch, committed }));
