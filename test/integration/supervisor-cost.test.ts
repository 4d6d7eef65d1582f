// What a sandbox can make its supervisor spend (docs/security.md, "The supervisor's
// share"): a flood of netlink dump requests, each a dump the supervisor answers, is
// rate-limited and charged to maxCpu; the hosting process's event loop keeps turning.
// Measured from inside the supervising process, as root and as the test user. Bounds are
// generous (the flood measured 85% of a core and 534 ms of lag before).

import assert from "node:assert/strict";
import { scriptCase } from "../helpers/harness.js";
import type { Stall } from "../scripts/budget-case.js";

const SCRIPT = "dist/test/scripts/budget-case.js";
const replyBytes = (line: string): number => Number(/^requests \d+ replies (\d+)$/.exec(line)?.[1] ?? -1);

/**
 * The hosting process's event loop held under 100 ms: its longest gap between turns less
 * the time its thread waited for a CPU within it (as measured() takes the other files'
 * gaps). What the bound claims is that the supervisor does not hold the loop, on a CPU or
 * blocked in the kernel, not that nothing else runs on a machine of 2 CPUs the sandbox's
 * own processes keep busy: a CI run here failed on a 106 ms lag of which 55 ms were the
 * loop's thread waiting for a CPU (40 ms in the supervisor's slices). The message says
 * where the longest raw gap went, and the lag histogram's worst.
 */
function assertLagUnder100(out: { lagMaxMs: number; lagP99Ms: number; worstStall: Stall }): void {
  const w = out.worstStall;
  const stall = `the longest gap between turns ${w.ms} ms: ${w.waitingMs} ms of it waiting for a CPU, ${w.slicesMs} ms in the supervisor's slices (the longest ${w.longestSliceMs} ms), ${w.gcMs} ms in garbage collection`;
  assert.ok(w.heldMs < 100, `the loop held ${w.heldMs} ms (the worst lag ${out.lagMaxMs} ms, p99 ${out.lagP99Ms} ms; ${stall})`);
}

scriptCase(
  "3 s of datagrams of 64 dump requests sent (trapped) on an emulated netlink socket under maxCpu 10 cost the supervisor under 30% of a core, and replies keep coming",
  SCRIPT,
  ["netlink", "${PROBE}", "3000", "sendto", "10"],
  (out) => {
    assert.equal(out.status, "exited");
    assert.ok(replyBytes(out.line) > 0, JSON.stringify(out));
    assert.ok(out.cpuMs < 0.3 * out.wallMs, `${out.cpuMs} ms of CPU in ${out.wallMs} ms`);
  },
);

scriptCase(
  "3 s of the same datagrams written (never trapped) under maxCpu 10 keep the hosting process's event loop lag under 100 ms",
  SCRIPT,
  ["netlink", "${PROBE}", "3000", "write", "10"],
  (out) => {
    assert.equal(out.status, "exited");
    assert.ok(replyBytes(out.line) > 0, JSON.stringify(out));
    assertLagUnder100(out);
    assert.ok(out.cpuMs < 0.3 * out.wallMs, `${out.cpuMs} ms of CPU in ${out.wallMs} ms`);
  },
);

// randomSeed's devices: the supervisor makes every byte a sandbox reads from a seeded
// /dev/urandom, and splice(2) into /dev/null costs the reader almost nothing, so before the
// feeder's work was charged to maxCpu a sandbox held to 10% made its supervisor spend a
// whole core (measured: 2,910 ms of CPU in 3,000 ms).
scriptCase(
  "3 s of a seeded /dev/urandom spliced into /dev/null under maxCpu 10 cost the supervisor under 30% of a core, and bytes keep coming",
  SCRIPT,
  ["urandom", "${PROBE}", "3000", "10"],
  (out) => {
    assert.equal(out.status, "exited");
    assert.ok(Number(/^spliced (\d+)$/.exec(out.line)?.[1] ?? 0) > 0, JSON.stringify(out));
    assert.ok(out.cpuMs < 0.3 * out.wallMs, `${out.cpuMs} ms of CPU in ${out.wallMs} ms`);
  },
);

// The memory watchdog looks through every descriptor and mapping of the sandbox every
// 100 ms, however many the sandbox made. Before its look ran in slices (memory.ts), 32
// processes holding 4,000 descriptors each stalled the hosting process's event loop for
// 1,091 ms at a time and kept a core busy (3,100 ms of CPU in 3,242); 4,000 mappings each,
// 322 ms.
scriptCase(
  "32 processes holding 4,000 descriptors each for 1.5 s under maxMemory keep the hosting process's event loop lag under 100 ms and its CPU under 75% of a core",
  SCRIPT,
  ["hold", "${PROBE}", "fds", "32", "4000", "1500"],
  (out) => {
    assert.equal(out.status, "exited");
    assert.equal(out.line, "held 128000");
    assertLagUnder100(out);
    assert.ok(out.cpuMs < 0.75 * out.wallMs, `${out.cpuMs} ms of CPU in ${out.wallMs} ms`);
  },
);

scriptCase(
  "32 processes holding 4,000 mappings each for 1.5 s under maxMemory keep the hosting process's event loop lag under 100 ms",
  SCRIPT,
  ["hold", "${PROBE}", "mappings", "32", "4000", "1500"],
  (out) => {
    assert.equal(out.status, "exited");
    assert.equal(out.line, "held 128000");
    assertLagUnder100(out);
  },
);

// Shared anonymous mappings are memory-backed objects: for each the look reads smaps and
// the object's size. One process with 30,000 of them (a page each, touched) stalled the
// event loop 1,070 ms at each look while its maps, smaps and 30,000 sizes were read in one
// step (20,000: 856 ms); they are read in parts now (memory-files.ts).
scriptCase(
  "a process holding 20,000 shared anonymous mappings for 1 s under maxMemory keeps the hosting process's event loop lag under 100 ms",
  SCRIPT,
  ["hold", "${PROBE}", "shared", "1", "20000", "1000"],
  (out) => {
    assert.equal(out.status, "exited");
    assert.equal(out.line, "held 20000");
    assertLagUnder100(out);
  },
);

// The memory watchdog charges a sandbox's sockets from the kernel's socket dumps, which it
// read in one call each: 32 processes holding 2,000 unix socket pairs each held the event
// loop 300-330 ms at every look (the dump, then indexing and charging 128,000 sockets in one
// step). The dumps are read in parts of 4 ms now, indexed as they come, and the sockets
// charged 1,024 per step: 41-42 ms. Their indexes are typed-array tables with reused memory
// since, and slices stop before a step that would overrun: 20-31 ms (docs/security.md).
scriptCase("32 processes holding 2,000 unix socket pairs each for 1.5 s under maxMemory keep the hosting process's event loop lag under 100 ms", SCRIPT, ["hold", "${PROBE}", "pairs", "32", "4000", "1500"], (out) => {
  assert.equal(out.status, "exited");
  assert.equal(out.line, "held 128000", JSON.stringify(out));
  assertLagUnder100(out);
});

// An epoll file's watches are lines of its fdinfo, which the kernel makes whole at the first
// read, and a watch outlives the descriptor it was made on while its file lives: one process
// holding some 200 descriptors makes an epoll file of 200,000 watches (probe budget_epoll).
// The watchdog counted them on the event loop at every look (176 ms at a time here; a million
// watches, 1,466 ms), and a send passing such a file read its fdinfo twice (the flags, then
// the watches: 696 ms; a million, 4,837 ms). The watches are counted on a thread of Node's
// pool now. (A send of an epoll file is refused since the epoll budget: handlers/epoll.ts.)
scriptCase(
  "a process holding an epoll file of 200,000 watches for 0.6 s under maxMemory keeps the hosting process's event loop lag under 100 ms",
  SCRIPT,
  ["epoll", "${PROBE}", "1", "200000", "600"],
  (out) => {
    assert.equal(out.status, "exited");
    assert.equal(out.line, "held 200000 passed 0", JSON.stringify(out));
    assertLagUnder100(out);
  },
);

// timerfd_settime under timeStart reads the timer's clock from its fdinfo, and
// pidfd_send_signal (supervised where Landlock cannot scope signals) the target's pid: both
// read the fdinfo of whatever descriptor the sandbox named. An epoll file of 200,000
// watches named there held the event loop 337 and 444 ms a call. Now only a timerfd's or a
// pidfd's fdinfo is read (its link says which), and off the event loop.
for (const [call, errno] of [["timerfd", "EINVAL"], ["pidfd", "EBADF"]] as const) {
  scriptCase(
    `${call === "timerfd" ? "timerfd_settime under timeStart" : "pidfd_send_signal (supervised)"} on an epoll file of 200,000 watches, in a loop for 0.6 s, fails with ${errno} and keeps the hosting process's event loop lag under 100 ms`,
    SCRIPT,
    ["epoll-call", "${PROBE}", "200000", "600", call],
    (out) => {
      assert.equal(out.status, "exited");
      const m = /^calls (\d+) errno (\w+)$/.exec(out.line);
      assert.ok(m !== null, JSON.stringify(out));
      assert.equal(m[2], errno);
      assertLagUnder100(out);
    },
  );
}

// The socket tables are the host's, and the sandbox decides how long they are: two
// processes holding 8,000 socket pairs each and reading their table in a loop held the event
// loop 251 ms at a time while it was read and filtered in one step (4 such: 602 ms). It is
// read and written out in parts now, and the scan inside the open stops at 2,048 descriptors.
scriptCase(
  "2 processes holding 8,000 socket pairs each, reading the supervised /proc/self/net/unix for 1 s, keep the hosting process's event loop lag under 100 ms, and their reads list their own socket",
  SCRIPT,
  ["netread-pairs", "${PROBE}", "2", "16000", "1000"],
  (out) => {
    assert.equal(out.status, "exited");
    const [reads, seen] = (/^reads (\d+) seen (\d+)$/.exec(out.line) ?? []).slice(1).map(Number);
    assert.ok(reads! > 0 && seen! > 0, JSON.stringify(out));
    assertLagUnder100(out);
  },
);

// Six readers at once, each table read in parts: four read, the others wait for a place and
// read the caller's own /proc entry of the same table once they have one.
scriptCase(
  "6 processes holding 2,000 socket pairs each read the supervised /proc/self/net/unix at once, beyond the 4 reads in parts a sandbox may have: the reads complete and list their own socket",
  SCRIPT,
  ["netread-pairs", "${PROBE}", "6", "4000", "1000"],
  (out) => {
    assert.equal(out.status, "exited");
    const [reads, seen] = (/^reads (\d+) seen (\d+)$/.exec(out.line) ?? []).slice(1).map(Number);
    assert.ok(reads! >= 6 && seen! > 0, JSON.stringify(out));
  },
);

// deterministicDirs reads and sorts a directory afresh at a listing from its start when it
// changed since the last one. A directory of 100,000 names changed and listed in a loop
// held the event loop 160 ms at each listing (tmpfs; 240 ms on a disk); the read and the
// sort now go on in parts past the first 8,192 entries (procfs-list.ts).
scriptCase(
  "deterministicDirs: a directory of 100,000 names changed and listed whole in a loop for 1 s keeps the hosting process's event loop lag under 100 ms",
  SCRIPT,
  ["dirs", "${PROBE}", "100000", "1000"],
  (out) => {
    assert.equal(out.status, "exited");
    const [listings, entries] = (/^listings (\d+) entries (\d+)$/.exec(out.line) ?? []).slice(1).map(Number);
    assert.ok(listings! > 0, JSON.stringify(out));
    assert.equal(entries, 100_000 + listings! + 2, "each listing is whole: every file made so far, . and ..");
    assertLagUnder100(out);
  },
);

// portRemap asks who listens on the remapped port at every local connect. It read all of
// /proc/net/tcp and tcp6 for that, every socket of the network namespace, which the
// sandbox can fill: 10,000 listeners of its own on another port made each connect cost
// the event loop about 100 ms (152 ms worst lag, 21 s of CPU for 200 connects). Now the
// kernel is asked for listeners on that port only.
scriptCase(
  "portRemap: 200 connects to a remapped port beside 12,000 listeners of the sandbox keep the hosting process's event loop lag under 100 ms",
  SCRIPT,
  ["listeners", "${PROBE}", "12000", "200"],
  (out) => {
    assert.equal(out.status, "exited");
    assert.match(out.line, /^connected 200 listeners 12000 ms \d+$/);
    assertLagUnder100(out);
  },
);

// Notifications were delivered to JavaScript until none was queued, and a sandbox whose
// processes trap calls back to back keeps the queue from emptying: 8 processes reading a
// supervised /proc file in a loop held the event loop for 3,002 ms (no timer ran while they
// read). Now one wake-up delivers for at most 2 ms, then lets the loop turn.
scriptCase(
  "8 processes reading the supervised /proc/self/net/unix back to back for 1.5 s keep the hosting process's event loop lag under 100 ms, and every read lists their own socket",
  SCRIPT,
  ["netread", "${PROBE}", "8", "0", "1500"],
  (out) => {
    assert.equal(out.status, "exited");
    const [reads, seen] = (/^reads (\d+) seen (\d+)$/.exec(out.line) ?? []).slice(1).map(Number);
    assert.ok(reads! > 0, JSON.stringify(out));
    assert.equal(seen, reads, JSON.stringify(out));
    assertLagUnder100(out);
  },
);

// The filtered socket tables show the sandbox's own sockets, found in its processes'
// descriptor tables: read whole at every open, 8 processes holding 19,000 descriptors each
// made an open cost 1.2 s of the event loop. Now the scan is made only for an inode it
// does not know, in parts between other work once it is long (procfs-virtual.ts).
scriptCase(
  "8 processes holding 6,000 descriptors each, reading the supervised /proc/self/net/unix back to back for 1.5 s, keep the hosting process's event loop lag under 100 ms and come to see their own socket",
  SCRIPT,
  ["netread", "${PROBE}", "8", "6000", "1500"],
  (out) => {
    assert.equal(out.status, "exited");
    const [reads, seen] = (/^reads (\d+) seen (\d+)$/.exec(out.line) ?? []).slice(1).map(Number);
    assert.ok(reads! > 0 && seen! > reads! / 2, JSON.stringify(out));
    assertLagUnder100(out);
  },
);

// An open of /dev/pts/N is allowed when a process of the sandbox holds an end of that
// terminal: the supervisor looked through every descriptor of every process of the
// sandbox in one go (8 processes holding 6,000 each: hundreds of ms per open of a terminal
// held outside). Then in parts for 16 opens of a sandbox at once, the 17th and later
// still in one go: 2 processes holding 10,000 each, opening in 10 threads each, 153 ms;
// 8 processes of 6,000 opening in one thread each, 62 ms (a part of 2,048 descriptors took
// 16-20 ms on this VM). Now in parts of at most 2,048 descriptors and 4 ms, the 17th and
// later waiting for a place: 19-21 ms and 19 ms.
scriptCase(
  "2 processes holding 10,000 descriptors each, opening their terminal and one held outside in turn in 10 threads each for 1.5 s, keep the hosting process's event loop lag under 100 ms; their own opens work and the other is refused",
  SCRIPT,
  ["ptys", "${PROBE}", "2", "10000", "1500", "10"],
  (out) => {
    assert.equal(out.status, "exited");
    const [opens, own, other] = (/^opens (\d+) own (\d+) other (\d+)$/.exec(out.line) ?? []).slice(1).map(Number);
    assert.ok(opens! >= 2, JSON.stringify(out));
    assert.equal(own! + other!, opens, `every own open works and every other one is refused with EACCES: ${out.line}`);
    assertLagUnder100(out);
  },
);

scriptCase("positive control: the same measurements see this process block its own event loop for 300 ms", SCRIPT, ["busy", "${PROBE}", "300"], (out) => {
  assert.ok(out.lagMaxMs >= 250, `worst lag ${out.lagMaxMs} ms`);
  assert.ok(out.worstStall.heldMs >= 250, `the loop held ${out.worstStall.heldMs} ms: ${JSON.stringify(out.worstStall)}`);
  assert.ok(out.cpuMs >= 250, `${out.cpuMs} ms of CPU`);
});
