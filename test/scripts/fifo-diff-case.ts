// A FIFO in the real workdir (planted by another process that can write it) that the
// sandbox replaces with a file: a dry run with --diff opened the real side to diff it and
// waited forever for a writer. Prints one JSON line. Usage: fifo-diff-case.js
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Sandbox } from "../../src/index.js";

const base = mkdtempSync("/tmp/sandlock-fifodiff-");
const work = join(base, "w"), storage = join(base, "branches");
mkdirSync(work);
if (spawnSync("mkfifo", [join(work, "p")]).status !== 0) throw new Error("mkfifo failed");
writeFileSync(join(work, "t"), "old\n");
symlinkSync("/dev/zero", join(work, "z"));
const { diff, result } = await Sandbox.dryRun({ fsReadable: ["/usr", "/lib", "/lib64", "/bin"], workdir: work, fsStorage: storage, cwd: work }, ["/bin/sh", "-c", "rm p z && echo hi > p && echo zz > z && echo new > t"], { diff: true });
rmSync(base, { recursive: true, force: true });
console.log(JSON.stringify({ exit: result.exitCode, diff }));
