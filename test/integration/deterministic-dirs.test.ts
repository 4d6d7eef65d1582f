// deterministicDirs against the real kernel, as root and as the test user: listings come
// sorted by name through getdents64 and the legacy getdents in small batches, readdir's
// telldir/seekdir, Python and Node; deleting entries while listing loses none; the kernel's
// errors stay (in the default view and the supervised one); the same programs twice (with randomSeed) print the same bytes; without the
// flag the same directory lists unsorted (the control).

import assert from "node:assert/strict";
import { scriptCase, securityCase } from "../helpers/harness.js";

interface Ran { code: number | null; stdout: string; stderr: string }

scriptCase("deterministicDirs: listings are sorted in every batch size and format, survive deletion while listing, and repeat byte for byte", "dist/test/scripts/dirs-case.js", ["${STAGE}", "${STAGE}/fixtures"], (o: Record<string, Ran>) => {
  for (const k of ["check", "checkSupervised", "run1", "run2", "control"]) assert.equal(o[k]!.code, 0, `${k}: ${o[k]!.stderr}`);
  for (const k of ["check", "checkSupervised"]) {
    const c = JSON.parse(o[k]!.stdout.trim());
    assert.equal(c.listdir_sorted, true, `${k}: os.listdir comes sorted`);
    assert.equal(c.g64.equal, true, `${k}: getdents64 in 512-byte batches: . and .. then every name, sorted, once`);
    assert.ok(c.g64.calls > 100, `${k}: many batches (${c.g64.calls})`);
    assert.equal(c.g64.dirtype, 4, `${k}: d_type kept (DT_DIR)`);
    assert.equal(c.legacy.equal, true, `${k}: legacy getdents in 400-byte batches: the same`);
    assert.equal(c.legacy.dirtype, 4, `${k}: legacy d_type kept (last byte of the record)`);
    assert.deepEqual(c.tellseek.again, c.tellseek.first, `${k}: seekdir to a telldir mark replays the same names`);
    assert.deepEqual(c.deleted, { removed: 2500, left: 0 }, `${k}: unlinking each entry while listing skips none`);
    assert.equal(c.tiny, 22, `${k}: a buffer too small for one entry: EINVAL`);
    assert.equal(c.notdir, 20, `${k}: a file: ENOTDIR`);
    assert.equal(c.badfd, 9, `${k}: a bad descriptor: EBADF`);
  }
  assert.equal(o.run1!.stdout, o.run2!.stdout, "the same Python and Node programs print the same bytes twice");
  const lines = o.run1!.stdout.trim().split("\n");
  assert.match(lines[0]!, /^\['0', 'Z', 'a', 'afile', 'b', 'big', 'del', 'm', 'q'\]$/);
  assert.equal(lines.at(-3), ".", "ls -f: . first");
  assert.equal(lines.at(-2), "..");
  assert.match(lines.at(-1)!, /^f0-/);
  const unsorted = o.control!.stdout.trim().split("\n").filter((n) => n !== "." && n !== "..");
  assert.notDeepEqual(unsorted, [...unsorted].sort(), "control: without the flag the filesystem's order is not sorted");
  assert.equal(o.unsupervised!.code, 125);
  assert.match(o.unsupervised!.stderr, /deterministic-dirs.*every directory listing is performed and sorted by it/);
});

scriptCase("deterministicDirs: a listing from the start served from the kept one never misses a change made since (200 rounds, 40 on a settled directory)", "dist/test/scripts/dirs-stamp-case.js", [], (o: { out: string; err: string }) => {
  assert.equal(o.out, "rounds 200 stale 0", o.err);
});

// Past 8,192 entries a listing read afresh goes on in parts between other work, at most 4 of
// a sandbox's at once; the others wait for a place and are made again from the start. Eight
// threads listing a directory of 20,000 names in 4 KiB batches, its times moved before each
// listing so that every one is read afresh: every listing whole and sorted.
scriptCase("deterministicDirs: 8 threads listing a directory of 20,000 names, each listing read in parts, all get every name in order", "dist/test/scripts/budget-case.js", ["dir-threads", "${PROBE}", "20000", "8", "3"], (o: { line: string; status: string; stderr: string }) => {
  assert.equal(o.status, "exited", o.stderr);
  assert.equal(o.line, "listings 24 bad 0");
});

scriptCase("positive control: without deterministicDirs the same listings are not all sorted", "dist/test/scripts/budget-case.js", ["dir-threads-unsorted", "${PROBE}", "20000", "8", "3"], (o: { line: string; status: string; stderr: string }) => {
  assert.equal(o.status, "exited", o.stderr);
  const bad = Number(/^listings 24 bad (\d+)$/.exec(o.line)?.[1] ?? -1);
  assert.ok(bad > 0, o.line);
});

// A fresh listing is read on a description of the supervisor's own. An O_PATH descriptor of a
// directory the sandbox may not read (Landlock allows O_PATH opens; the supervised view,
// where such a directory is on the path, not left out as in the kernel view's root) must
// still list nothing: the offset check on the caller's descriptor refuses it first, as the
// kernel would (EBADF).
securityCase("deterministicDirs: a directory outside the grants, opened with O_PATH, cannot be listed (EBADF) though a plain open is refused (EACCES)", { fixtures: ["dirs"], policy: { fsReadable: ["${PROBE}", "${DATA}"], deterministicDirs: true, procView: "supervised" }, cmd: ["${PROBE}", "opath-list", "${SECRET}"] }, (o) => {
  assert.equal(o.result?.stdout?.trim(), "open EACCES list EBADF", `${o.result?.stdout} ${o.result?.stderr} ${o.error?.message ?? ""}`);
});

securityCase("positive control: a granted directory opened with O_PATH is not listed either (EBADF), a plain open works", { fixtures: ["dirs"], policy: { fsReadable: ["${PROBE}", "${DATA}"], deterministicDirs: true }, cmd: ["${PROBE}", "opath-list", "${DATA}"] }, (o) => {
  assert.equal(o.result?.stdout?.trim(), "open ok list EBADF", `${o.result?.stdout} ${o.result?.stderr} ${o.error?.message ?? ""}`);
});

// A sandbox killed while its listings of a directory of 100,000 names are read in parts:
// the supervisor lets go of every descriptor they held (the caller's duplicate, its own
// description of the directory) and stops reading.
scriptCase("deterministicDirs: a sandbox killed while its listings go on in parts leaves the supervisor no descriptor", "dist/test/scripts/budget-case.js", ["dirs-killed", "${PROBE}", "100000"], (o: { status: string; before: number; most: number; after: number }) => {
  assert.equal(o.status, "killed");
  assert.ok(o.after <= o.before, `descriptors before ${o.before}, at most ${o.most} while it ran, after ${o.after}`);
});
