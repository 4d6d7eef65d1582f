// Descriptors in flight in unix sockets' queues. The kernel counts them per user (every
// process of the uid together) against the sending process's RLIMIT_NOFILE; a supervised
// sandbox's sends that pass descriptors are made by the sender (native/launcher/sender.c,
// native/sender.c), one process of the supervising process's, under the sandbox's
// maxOpenFiles at most 256, so the uid's count stops there (redteam20.test.ts: the uid's
// processes at 1,024 keep passing theirs). Here: every shape of such a send still works in
// both views (by name, blocking on a full queue, 1 MiB of data, 253 descriptors), the bound
// is exact, the sender is what it should be (a child of the supervising process,
// RLIMIT_NOFILE 300, as root without CAP_SYS_RESOURCE and CAP_SYS_ADMIN), a killed sender
// is replaced, and none outlives its supervising process; and maxMemory charges what a
// sandbox keeps in flight. Run alone (scripts/test.mjs): these cases take the uid's count,
// and every other sandbox and process of the uid gets ETOOMANYREFS meanwhile.

import assert from "node:assert/strict";
import { answer, scriptCase, securityCase } from "../helpers/harness.js";
import { killedByMemory } from "../helpers/memory-checks.js";
import { buildStaged } from "../helpers/stage.js";

buildStaged("rights.c", "sl-rights");

const CAP_SYS_ADMIN = 21n;
const CAP_SYS_RESOURCE = 24n;

interface Ran {
  procView: string;
  exitCode: number;
  got: Record<string, string>;
}

scriptCase("sends passing descriptors go through the sender: every shape works in both views, the bound holds, the sender is replaced when killed and ends with its supervising process", "dist/test/scripts/sender-case.js", ["${STAGE}/sl-rights"], (o, who) => {
  const msg = JSON.stringify(o);
  assert.equal(o.error, undefined, msg);
  for (const view of ["supervised", "kernel"]) {
    const s = o.shapes[view] as Record<string, Ran>;
    for (const r of Object.values(s)) {
      assert.equal(r.procView, view, msg);
      assert.equal(r.exitCode, 0, `${view}: ${msg}`);
    }
    assert.equal(s.named!.got.named, "ok", `${view}: a datagram by name passing a descriptor: ${msg}`);
    assert.match(s.blocked!.got.blocked ?? "", /^ok \d+$/, `${view}: a blocking send waits for room: ${msg}`);
    // It waited for the drain (200 ms after it started), not less.
    assert.ok(Number(s.blocked!.got.blocked!.split(" ")[1]) >= 150, `${view}: ${msg}`);
    assert.match(s.big!.got.big ?? "", /^\d+ ok$/, `${view}: ${msg}`);
    assert.ok(Number(s.big!.got.big!.split(" ")[0]) > 0, msg);
    assert.equal(s.many!.got.many, "253 ok", `${view}: ${msg}`);
  }
  // The kernel refuses once the uid's count passes the sender's limit: 256 sends of one
  // descriptor, one more while the count is 256, then ETOOMANYREFS (fewer if the uid's other
  // processes hold some in flight meanwhile, never more).
  const held = (r: Ran): [number, string] => {
    const [n, err] = (r.got.held ?? "").split(" ");
    return [Number(n), err ?? ""];
  };
  const [dn, derr] = held(o.bound.default);
  assert.equal(derr, "ETOOMANYREFS", msg);
  assert.ok(dn <= 257 && dn > 200, `default bound: ${dn}: ${msg}`);
  const [rn, rerr] = (o.bound.race.got.race ?? "").split(" ");
  assert.equal(rerr, "ETOOMANYREFS", msg);
  assert.ok(Number(rn) <= 256 + 253, `eight racing threads: ${rn}: ${msg}`);
  const [sn, serr] = held(o.bound.sendmmsg);
  assert.equal(serr, "ETOOMANYREFS", msg);
  assert.ok(sn <= 257 && sn > 200, `sendmmsg: ${sn}: ${msg}`);
  const [mn, merr] = held(o.bound.maxOpenFiles);
  assert.equal(merr, "ETOOMANYREFS", msg);
  assert.ok(mn <= 65 && mn > 10, `maxOpenFiles 64: ${mn}: ${msg}`);
  // A fork group's zygote waits out the uid's count held at its bound by another sandbox.
  assert.match(o.forkWait.holder, /^held \d+ ETOOMANYREFS$/, msg);
  assert.equal(o.forkWait.error, undefined, msg);
  assert.deepEqual([o.forkWait.clones, o.forkWait.ok], [300, 300], msg);
  assert.ok(o.forkWait.ms >= 500, `the fork waited for the holder's end: ${msg}`);
  // The sender: the supervising process's child, the launcher binary as sandlock-sender.
  assert.ok(o.pid > 0, msg);
  assert.equal(o.sender.ppid, o.self, msg);
  assert.equal(o.sender.argv0, "sandlock-sender", msg);
  assert.deepEqual(o.sender.nofile, ["300", "300"], msg);
  for (const set of [o.sender.capEff, o.sender.capPrm]) {
    const caps = BigInt(`0x${set}`);
    assert.equal((caps >> CAP_SYS_ADMIN) & 1n, 0n, `no CAP_SYS_ADMIN: ${msg}`);
    assert.equal((caps >> CAP_SYS_RESOURCE) & 1n, 0n, `no CAP_SYS_RESOURCE: ${msg}`);
  }
  if (who === "root") assert.notEqual(o.sender.capEff, "0000000000000000", `root's sender keeps its other capabilities: ${msg}`);
  // Killed, it is replaced at the next send.
  assert.deepEqual(o.killedGone, [], msg);
  assert.equal(o.again.exitCode, 0, msg);
  assert.equal(o.again.got.many, "253 ok", msg);
  assert.ok(o.next > 0 && o.next !== o.pid, msg);
  // Its supervising process killed: the sandbox and the sender go.
  assert.equal(o.crash.said.held, "held 10", msg);
  assert.ok(o.crash.said.sender > 0, msg);
  assert.deepEqual(o.crash.left, [], msg);
});

// maxMemory charges pipes kept only in flight (64 KiB each under it). The pipe budget
// (handlers/pipes.ts) lets a sandbox pass at most 256 pipes here (16 MiB), so these run
// under 24M: 240 pipes, 15 MiB over a run's own 14 MiB.
const probe = (...args: string[]): string[] => ["${PROBE}", ...args];
const MEM32 = { fsReadable: ["${PROBE}"], maxMemory: "32M" };
const MEM24 = { fsReadable: ["${PROBE}"], maxMemory: "24M" };
securityCase("maxMemory 24M: 240 full pipes held only in flight (SCM_RIGHTS in a socket's queue) are killed", { policy: MEM24, cmd: probe("kmem-pipes", "240", "flight"), timeout: 30_000 }, killedByMemory(24));
securityCase("maxMemory 24M: 240 full pipes passed in flight in two rounds of 120, each round kept 300 ms before it is closed, are killed", { policy: MEM24, cmd: probe("kmem-pipes", "240", "linger"), timeout: 30_000 }, killedByMemory(24));
securityCase("positive control: 100 full pipes in flight are held under 32M", { policy: MEM32, cmd: probe("kmem-pipes", "100", "flight") }, (o) => {
  assert.match(answer(o), /^held \d+$/, `stdout: ${o.result?.stdout} stderr: ${o.result?.stderr}`);
  assert.equal(o.result?.exitCode, 0);
});
