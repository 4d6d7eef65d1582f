// randomSeed against the real kernel, as root and as the test user: two runs with the same
// seed read the same bytes from getrandom, /dev/urandom and /dev/random (and so Python's
// os.urandom, random and str hashes agree); another seed, or none, gives other bytes; the
// real devices cannot be reached around the seeded ones.

import assert from "node:assert/strict";
import { test } from "node:test";
import { answer, runCase, scriptCase } from "../helpers/harness.js";
import { isRoot } from "../helpers/stage.js";

interface Ran { code: number | null; stdout: string; stderr: string }

scriptCase("randomSeed: the same seed gives the same bytes from getrandom and the random devices; nothing reaches the real devices", "dist/test/scripts/random-case.js", ["${STAGE}"], (o: Record<string, Ran>) => {
  for (const k of ["a", "b", "other", "unseeded1", "unseeded2", "around"]) assert.equal(o[k]!.code, 0, `${k}: ${o[k]!.stderr}`);
  const lines = (r: Ran): string[] => r.stdout.trim().split("\n");
  assert.equal(lines(o.a!).length, 5);
  assert.match(lines(o.a!)[0]!, /^[0-9a-f]{32}$/);
  assert.equal(o.a!.stdout, o.b!.stdout, "same seed, same bytes (devices, os.urandom, random, hash)");
  const [a, other, u1, u2] = [lines(o.a!), lines(o.other!), lines(o.unseeded1!), lines(o.unseeded2!)];
  for (let i = 0; i < 5; i++) {
    assert.notEqual(a[i], other[i], `another seed, other bytes (line ${i})`);
    assert.notEqual(u1[i], u2[i], `control: without a seed two runs differ (line ${i})`);
  }
  assert.notEqual(a[0], a[1], "each device open has its own stream");
  const around = lines(o.around!);
  assert.equal(around[0], a[0]!.slice(0, 8), "/dev/./urandom is the same seeded device");
  assert.equal(around[1]!.length, 8);
  assert.equal(around[2], "link-refused", "a link to the real device meets Landlock, which has no rule on it");
  assert.equal(around[3], "write-refused");
  assert.deepEqual(around.slice(4), ["flags 22", "null -1 14", "zero 0"], "EINVAL for unknown flags, EFAULT for a buffer it does not own");
  assert.equal(o.unsupervised!.code, 125);
  assert.match(o.unsupervised!.stderr, /randomSeed.*needs the seccomp supervisor|--random-seed.*getrandom and the random devices are answered by it/);
});

// glibc 2.41 and later draw getrandom() and arc4random() from the vDSO's own generator (Linux
// 6.11+), which runs in user space: no call to answer. It keys itself with a getrandom
// system call, which the supervisor answers from the seeded stream, so its bytes repeat too.
// (A kernel reseed during the run makes it key again: docs/determinism.md.)
for (const who of ["root", "user"] as const) {
  test(`randomSeed: the vDSO's getrandom repeats with the seed [${who}]`, { skip: who === "root" && !isRoot ? "tests are not running as root" : false }, async (t) => {
    const run = (seed?: number): Promise<string> =>
      runCase({ policy: { fsReadable: ["${PROBE}"], ...(seed === undefined ? {} : { randomSeed: seed }) }, cmd: ["${PROBE}", "vdso-getrandom", "32"] }, who).then(answer);
    const a = await run(7);
    if (a === "vdso-getrandom absent") {
      t.skip("this kernel's vDSO has no getrandom");
      return;
    }
    assert.match(a, /^vdso-getrandom [0-9a-f]{64}$/);
    assert.equal(await run(7), a, "same seed, same bytes");
    assert.notEqual(await run(8), a, "another seed, other bytes");
    const [u1, u2] = [await run(), await run()];
    assert.match(u1, /^vdso-getrandom [0-9a-f]{64}$/);
    assert.notEqual(u1, u2, "control: without a seed two runs differ");
  });
}
