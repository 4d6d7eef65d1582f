// The fifteenth security review: the fourteenth review's fix (92bf31f: memory-backed files a
// sandbox passes with SCM_RIGHTS are charged to it while their message may be queued;
// descriptors kept queued to its unix sockets at every look for 2 s end it) attacked with
// real sandboxed programs (test/fixtures/redteam15.c, run by test/scripts/red15-case.ts), as
// root and as the test user. B runs under maxMemory 64M; three sandboxes A (64M each) each
// fill a 48 MiB memfd, hand it to B's listener and end: B's aim is to hold the 144 MiB for 4 s
// and take every byte back.
//
// Findings (fixed since, in the same session):
// - the 2 s rule's fdinfo read took a closed descriptor for a process gone: readQueued
//   (kernel-buffers.ts, native fdinfo_queued in kmem.c) read /proc/<task>/fdinfo/<fd> of the
//   first descriptor the look's walk found the socket at, and ENOENT answered "nothing
//   queued". B kept the memfds on its listener's unaccepted connections, moved the listener
//   to descriptor 500 and had a thread put it on 400-403 in turn, closing each as the next
//   is opened (~90 us a turn): alive 4 s later, it took back 144 MiB under 64M in every run
//   (8 of 8; with the decoy below, 20 of 20). Without the thread: ended at 2.2 s (case 1).
// - a thread cloned with CLONE_THREAD and without CLONE_FILES has a descriptor table of its
//   own, which /proc/<pid>/fd (the only table both looks read: kernel-buffers.ts measure,
//   memory-files.ts scanFds) does not show. B's listener held only there, or the three memfds
//   accepted into it as descriptors: 144 MiB held 4 s and taken back; 500 socketpairs filled
//   there: 111 MiB of socket buffers kept 3 s under 64M, charged nothing.
// - a file's routes were kept per sending socket (kernel-buffers.ts sentFile): a second send
//   of the same memfd from the same socket to another named socket replaced the first's
//   destination. B passed each memfd to its stash D1, then to a decoy D2 it emptied and
//   closed: no charge from the next look on (ended 2 s later by the queue rule, used 7 MiB,
//   with 144 MiB queued); with the descriptor flicker on D1 (case 2), alive 4 s, 144 MiB
//   taken back: the two together hid what B itself passed.
// Open (todo):
// - false positive: a legitimate producer keeping 4 memfds (one 1 MiB memfd, passed again and
//   again) queued ahead of a consumer that takes 2 ms per item, receiving continuously, is
//   ended at 2.2 s by the queue rule (memory "limit" with 1 MiB in use).
// Held (passing): the listener itself put in flight in a socketpair of B's (the socketpair's
// fdinfo counts it: ended at 2.2 s; without the cap B takes back 144 MiB through it); a
// stash whose route stays (ended at a look, used 108 MB, no reason; re-sends into B's own
// socketpair are redteam14 case 2's flight); a legitimate ping-pong of a 4 MiB memfd, a pipe
// and a socket between two processes for 5 s (about 17,000 rounds) and a consumer one item
// behind its producer run to the end. Noted: a memfd B hands to a host process that keeps it
// stays charged to B (its probe's lease count sees the host's open file): B's 40 MiB of heap
// after handing 48 MiB ended it at 97 MB; with the host closing it at once, B grew 40 MiB
// and exited. Not found: the looks' phase (the latency of a sendmsg the supervisor performs,
// sampled 3 s, shows no period near 100 ms), so draining the queue at the look's moment was
// not tried; draining at random moments keeps the memfds in B's table, where a look sees them.

import assert from "node:assert/strict";
import { scriptCase } from "../helpers/harness.js";
import { buildStaged } from "../helpers/stage.js";

const SCRIPT = "dist/test/scripts/red15-case.js";

// The attack programs, built static into the staged package so the test user can run them.
buildStaged("redteam15.c", "sl-rt15");
const RT15 = "${STAGE}/sl-rt15";

const MIB = 2 ** 20;
const CAP = 64 * MIB;
const KEPT_QUEUED = /kept queued to a unix socket/;

/** A's three (or the first `n`: B may be ended before the last come) handed their memfds. */
function handed(r: any, how: string, n = 3): void {
  for (const g of r.givers.slice(0, n)) assert.match(g, /^exited: filled 48; sendmsg ok$/, `control: ${how}: A filled and handed its memfd: ${JSON.stringify(r)}`);
}

/** B was ended by maxMemory and never took the memfds back. */
function ended(r: any, how: string, what: string): void {
  assert.equal(r.limit, "memory", `${how}: ${what}: ${JSON.stringify(r)}`);
  assert.equal(r.tookBackMib, null, `${how}: B took back ${r.tookBackMib} MiB: ${JSON.stringify(r)}`);
}

// ---- 1. the controls: what each mechanism is up against (held) ----
//
// backlog: B never accepts (the memfds wait on its listener's connections): ended by the 2 s
// rule. cthread-queue: the same listener held by a thread that shares B's descriptor table
// (CLONE_FILES): ended alike. cthread-keep: that thread accepts them and keeps the memfds as
// descriptors: ended by its cap (144 MiB seen). stash: B passes each (400 ms apart) from an
// unbound socket to a named datagram socket of its own and closes the sender: charged at the
// next look (the route to the stash holds it), ended when the second arrives. socks shared:
// 500 filled socketpairs in B's table: ended by its cap.
scriptCase("memfds kept queued: the controls (2 s rule, cap, charge of a stash)", SCRIPT, [RT15, "hide", "backlog", "cthread-queue", "cthread-keep", "stash"], (out) => {
  assert.equal(out.error, undefined, out.error);
  for (const how of ["backlog", "cthread-queue"]) handed(out[how], how);
  for (const how of ["cthread-keep", "stash"]) handed(out[how], how, 1);
  for (const how of ["backlog", "cthread-queue"]) {
    ended(out[how], how, "B kept three 48 MiB memfds on its listener's connections");
    assert.match(out[how].reason ?? "", KEPT_QUEUED, `${how}: ended by the queue rule: ${JSON.stringify(out[how])}`);
    assert.ok(out[how].ms < 4000, `${how}: ended before B's 4 s were up: ${JSON.stringify(out[how])}`);
  }
  ended(out["cthread-keep"], "cthread-keep", "a thread sharing B's table kept the memfds as descriptors");
  assert.ok(out["cthread-keep"].used > CAP && out["cthread-keep"].reason === null, `cthread-keep: charged: ${JSON.stringify(out["cthread-keep"])}`);
  assert.match(out.stash.b, /^took 1$/m, `control: stash: B stashed one: ${JSON.stringify(out.stash)}`);
  ended(out.stash, "stash", "B stashed the memfds in a named socket of its own");
  assert.ok(out.stash.used > CAP && out.stash.reason === null, `stash: charged while queued: ${JSON.stringify(out.stash)}`);
}, 60_000);

scriptCase("socket buffers of a thread sharing the process's table are charged (control)", SCRIPT, [RT15, "socks", "shared"], (out) => {
  assert.equal(out.error, undefined, out.error);
  const r = out.shared;
  // (ended at a look while it fills, or once it said how much it queued)
  assert.equal(r.limit, "memory", `500 filled socketpairs in B's table: ${JSON.stringify(r)}`);
  assert.ok(r.used > CAP, JSON.stringify(r));
  assert.equal(r.alive, false, JSON.stringify(r));
}, 60_000);

// ---- 2. the fdinfo read meets a closed descriptor (fixed) ----
//
// readQueued read the fdinfo of the first descriptor the walk found the socket at; ENOENT
// ("a process gone") answered false, and one look finding nothing restarted the 2 s. Now
// the socket is read through a pidfd_getfd duplicate checked by its inode, a number that no
// longer names it at two looks in a row counts as queued, and one look finding nothing is
// let pass (kernel-buffers.ts readQueued). flicker:
// B's listener (backlog, as case 1) moved to descriptor 500, a thread putting it on
// numbers 400-403 in turn, each closed as the next is opened (~90 us a turn, about 43,000
// turns in 4 s). decoy-flicker: the same on B's listener and its own stash (case 4's decoy),
// from the start. Control: backlog (case 1).
scriptCase(
  "memfds kept queued: a descriptor closed and reopened under the look's fdinfo read",
  SCRIPT,
  [RT15, "hide", "flicker", "decoy-flicker"],
  (out) => {
    assert.equal(out.error, undefined, out.error);
    for (const how of ["decoy-flicker", "flicker"]) {
      // (decoy-flicker's stash is charged at a look: B may be ended before the third comes)
      handed(out[how], how, how === "flicker" ? 3 : 2);
      assert.match(out[how].b, /^flicker on$/m, `control: ${how}: the thread ran: ${JSON.stringify(out[how])}`);
      ended(out[how], how, "B under maxMemory 64M held three 48 MiB memfds other sandboxes made in a unix socket's queue for 4 s and took them back");
    }
  },
  60_000,
);

// ---- 3. a thread with a descriptor table of its own (fixed) ----
//
// clone(CLONE_VM|CLONE_FS|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM), without CLONE_FILES: the
// thread's table is a copy /proc/<pid>/fd does not show. thread-queue: B's listener only
// there (B closes its own). thread-keep: the thread accepts the three at once and keeps the
// memfds as descriptors. socks own: 500 socketpairs filled in such a thread's table. Before
// the fix: 144 MiB held 4 s and taken back in both, 111 MiB of socket buffers kept 3 s,
// charged nothing. Now the clone filter refuses such a thread (EINVAL, seccomp.ts
// CLONE_FILES). Controls: cthread-queue, cthread-keep, socks shared (case 1), the same
// thread with CLONE_FILES, made and ended.
scriptCase(
  "a thread cloned without CLONE_FILES (a descriptor table no look reads) is refused",
  SCRIPT,
  [RT15, "hide", "thread-queue", "thread-keep"],
  (out) => {
    assert.equal(out.error, undefined, out.error);
    for (const how of ["thread-queue", "thread-keep"]) {
      assert.match(out[how].b, /^clone EINVAL$/m, `${how}: B's thread with a table of its own: ${JSON.stringify(out[how])}`);
      assert.equal(out[how].tookBackMib, null, `${how}: ${JSON.stringify(out[how])}`);
    }
  },
  60_000,
);

scriptCase("socket buffers: a thread cloned without CLONE_FILES is refused", SCRIPT, [RT15, "socks", "own"], (out) => {
  assert.equal(out.error, undefined, out.error);
  const r = out.own;
  assert.match(r.out, /^clone EINVAL$/m, `B's thread with a table of its own: ${JSON.stringify(r)}`);
  assert.equal(r.queuedMib, null, JSON.stringify(r));
}, 60_000);

// ---- 4. a file's route replaced by a decoy send (fixed: a route per destination) ----
//
// B passes each memfd (400 ms apart: a look charges a file passed at least once) from one
// unbound datagram socket to its stash D1, then to a named socket D2 it empties at once and
// closes, then closes the sender. The file's record keeps one route per sending socket: the
// second send replaced D1 by D2, gone at the next look, and the memfd is no longer charged
// while D1 holds it. Fixed, it is charged as the stash's (case 1: ended at a look with used >
// cap, no reason). Before the fix: ended by the 2 s rule only, the 144 MiB uncharged.
scriptCase(
  "memfds passed to a stash and to a decoy stay charged",
  SCRIPT,
  [RT15, "hide", "decoy"],
  (out) => {
    assert.equal(out.error, undefined, out.error);
    const r = out.decoy;
    handed(r, "decoy", 2); // charged at a look: B may be ended before the third comes
    ended(r, "decoy", "B stashed the memfds");
    assert.ok(r.used > CAP, `decoy: B stashed three 48 MiB memfds in a socket of its own and was charged ${(r.used / MIB).toFixed(1)} MiB for them (ended by: ${r.reason ?? "its charge"}): ${JSON.stringify(r)}`);
  },
  60_000,
);

// ---- 5. the listener itself in flight (held) ----
//
// B passes its listener (whose unaccepted connections hold the three memfds) into a datagram
// socketpair of its own and closes it: the socketpair's fdinfo counts the listener. Control:
// without maxMemory, B takes the listener back 4 s later and the 144 MiB through it.
scriptCase("memfds kept queued: a listener put in flight is still found", SCRIPT, [RT15, "hide", "nest", "nest@nocap"], (out) => {
  assert.equal(out.error, undefined, out.error);
  for (const how of ["nest", "nest@nocap"]) {
    handed(out[how], how);
    assert.match(out[how].b, /^nested ok$/m, `control: ${how}: ${JSON.stringify(out[how])}`);
  }
  assert.equal(out["nest@nocap"].tookBackMib, 144, `control: without the cap B took the memfds back through the nested listener: ${JSON.stringify(out["nest@nocap"])}`);
  ended(out.nest, "nest", "B nested its listener in its own socketpair");
  assert.match(out.nest.reason ?? "", KEPT_QUEUED, JSON.stringify(out.nest));
}, 60_000);

// ---- 6. legitimate descriptor passing (held, and one false positive open) ----
//
// A program under maxMemory 64M passes a 4 MiB memfd, a pipe's end and a socket back and
// forth between two of its processes (SOCK_SEQPACKET) for 5 s, each receiving as soon as it
// can; and a producer one memfd ahead of a consumer that takes 2 ms per item. Neither may be
// ended.
scriptCase("descriptors passed back and forth, received at once, under maxMemory", SCRIPT, [RT15, "pingpong"], (out) => {
  assert.equal(out.error, undefined, out.error);
  assert.equal(out.limit, null, `a ping-pong of descriptors was ended: ${JSON.stringify(out)}`);
  assert.equal(out.status, "exited", JSON.stringify(out));
  assert.equal(out.code, 0, JSON.stringify(out));
  const m = /^rounds (\d+) child 0 mib 4$/.exec(out.out);
  assert.ok(m !== null && Number(m[1]) > 500, `control: the processes passed them thousands of times: ${JSON.stringify(out)}`);
}, 60_000);

scriptCase("a consumer one item behind its producer, under maxMemory", SCRIPT, [RT15, "stream", "1:work"], (out) => {
  assert.equal(out.error, undefined, out.error);
  const r = out["1:work"];
  assert.equal(r.limit, null, JSON.stringify(r));
  assert.equal(r.code, 0, JSON.stringify(r));
  assert.match(r.out, /^received (\d{3,})\nsent \1$/, `control: ${JSON.stringify(r)}`);
}, 60_000);

scriptCase(
  "a producer a few items ahead of a busy consumer is not taken for a hidden queue",
  SCRIPT,
  [RT15, "stream", "4:work"],
  (out) => {
    assert.equal(out.error, undefined, out.error);
    const r = out["4:work"];
    assert.equal(r.limit, null, `a producer keeping 4 messages (one 1 MiB memfd) ahead of a consumer taking 2 ms per item was ended: ${JSON.stringify(r)}`);
    assert.equal(r.code, 0, JSON.stringify(r));
  },
  60_000,
  "open (false positive): the 2 s rule (kernel-buffers.ts IN_FLIGHT_MS) ends any program whose consumer of passed descriptors stays behind its producer for 2 s: a producer 4 items ahead of a consumer that receives continuously and takes 2 ms per item (one 1 MiB memfd of its own, already charged) is ended at 2.2 s with the memory limit",
);

// ---- 7. a memfd handed to a host process that keeps it (held: noted) ----
//
// B (64M) hands a 48 MiB memfd it made to a host process and closes it, then grows its heap
// by 40 MiB. The memfd's probe (memory-files.ts held) sees the host's open file: B stays
// charged for it while the host keeps it (ended when it grows), and is free of it once the
// host closes it (control).
scriptCase("a memfd handed to the host stays charged to the sandbox while the host keeps it", SCRIPT, [RT15, "host"], (out) => {
  assert.equal(out.error, undefined, out.error);
  for (const how of ["close", "keep"]) {
    assert.match(out[how].b, /^filled 48\ngiven ok/, `control: ${how}: ${JSON.stringify(out[how])}`);
    assert.match(out[how].host, /kept 48$/, `control: ${how}: the host got it: ${JSON.stringify(out[how])}`);
  }
  assert.equal(out.close.limit, null, `the host closed it: B grew 40 MiB: ${JSON.stringify(out.close)}`);
  assert.match(out.close.b, /grew 40\nalive$/, JSON.stringify(out.close));
  assert.equal(out.keep.limit, "memory", `the host keeps it: B is charged 48 MiB and ended by its growth: ${JSON.stringify(out.keep)}`);
  assert.ok(out.keep.used > CAP, JSON.stringify(out.keep));
}, 60_000);
