// The sixteenth security review: the lock-record charge of maxMemory (kernel-buffers.ts
// LOCK_RECORD_BYTES, LOCK_SCAN_MS: once a second every descriptor's fdinfo of the sandbox is
// read and its "lock:" lines charged 192 bytes each) and the F_OFD_SETLK refusal
// (seccomp-kmem.ts). Real sandboxed programs (test/fixtures/redteam16.c), as root and as the
// test user; the cost case through test/scripts/red16-case.ts.

import assert from "node:assert/strict";
import { chmodSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { scriptCase, securityCase } from "../helpers/harness.js";
import { buildStaged, stagePackage } from "../helpers/stage.js";

const SCRIPT = "dist/test/scripts/red16-case.js";
const RT16 = buildStaged("redteam16.c", "sl-rt16");

/** A directory both users may write, for the lock files (a subdirectory per case). */
function lockDir(name: string): string {
  const dir = join(stagePackage().dir, "rt16", name);
  mkdirSync(dir, { recursive: true });
  chmodSync(join(stagePackage().dir, "rt16"), 0o1777);
  chmodSync(dir, 0o1777);
  return dir;
}

type Outcome = Parameters<Parameters<typeof securityCase>[2]>[0];
const limitOf = (o: Outcome): { kind?: string; used?: number } | undefined => (o.result as { limit?: { kind?: string; used?: number } } | undefined)?.limit;
const recordsOf = (stdout: string): number => [...stdout.matchAll(/^proc \d+: records (\d+) /gm)].reduce((a, m) => a + Number(m[1]), 0);

// ---- 1. flock and lease records on open files kept only by a mapping (fixed) ----
//
// The count reads the fdinfo of the sandbox's descriptors; a flock and a lease are owned by
// the open file, not by a descriptor, and live until the open file is released, which a
// mapping delays past every close (the reason F_OFD_SETLK is refused: seccomp-kmem.ts). A
// flock (LOCK_SH) and a read lease (F_SETLEASE F_RDLCK, on a file the sandbox made) are one
// record each per open file, and a process may hold 65,530 mappings: each process of the
// sandbox opens 200 files 300 times each, locks, maps one page read-only (no VmData, no
// page-table page) and closes. Two processes: 240,000 records (120,000 flock x 192 bytes +
// 120,000 leases x 160 bytes, file_lock_cache and file_lease_cache: 40 MiB; with the open
// files and mappings they keep, 120,000 x 384 bytes more, 84 MiB in all) were held 3 s under
// maxMemory 16M, the sandbox exiting 0 (made in 2.7 s, no limit). Now every mapping is
// charged its kernel memory (memory-files.ts MAPPING_BYTES: its vm_area_struct, and for a
// file's, the open file, a flock and a lease it may keep: 736 bytes): the sandbox is ended
// before it holds them. Control: without maxMemory every record is made, and a new open
// file's LOCK_EX|LOCK_NB on the first and the last file of each process gets EAGAIN while no
// descriptor of them is left.
for (const cap of [undefined, "16M"] as const) {
  securityCase(
    cap === undefined
      ? "control: without maxMemory, 240,000 flock and lease records on open files kept only by mappings (2 processes) are made and outlive their descriptors"
      : "maxMemory 16M: 240,000 flock and lease records on open files kept only by mappings (2 processes) are charged",
    { policy: { fsReadable: [RT16], fsWritable: [lockDir(`map-${cap ?? "none"}`)], ...(cap === undefined ? {} : { maxMemory: cap }) }, cmd: [RT16, "mapflock", lockDir(`map-${cap ?? "none"}`), "200", "300", "2", "3000", "0"], timeout: 20_000 },
    (o) => {
      const stdout = o.result?.stdout ?? "";
      if (cap === undefined) {
        assert.equal(recordsOf(stdout), 240_000, `control: every record was made: ${stdout} ${JSON.stringify(o.error)}`);
        assert.equal((stdout.match(/^proc \d+: check (first|last) EAGAIN$/gm) ?? []).length, 4, `control: the records outlive every descriptor: ${stdout}`);
        return;
      }
      const limit = limitOf(o);
      assert.equal(limit?.kind, "memory", `${recordsOf(stdout)} lock records on files kept by mappings ${/^held \d+ ms$/m.test(stdout) ? "held 3 s" : "made"} under maxMemory 16M, not charged: ${JSON.stringify(o.result)}`);
      assert.doesNotMatch(stdout, /^held \d+ ms$/m, `ended before it held them all: ${stdout}`);
    },
  );
}

// ---- 2. the same records through open descriptors (held) ----
//
// 15,000 open files of 50 files, a flock and a lease each, the descriptors kept: 30,000
// records listed in their fdinfo, 5.5 MiB at 192 bytes each, under maxMemory 4M: ended by
// its cap at the next count (measured: 6.3 MB used).
securityCase(
  "maxMemory 4M: 30,000 flock and lease records through open descriptors are charged",
  { policy: { fsReadable: [RT16], fsWritable: [lockDir("keep")], maxMemory: "4M" }, cmd: [RT16, "mapflock", lockDir("keep"), "50", "300", "1", "3000", "1"], timeout: 20_000 },
  (o) => {
    const stdout = o.result?.stdout ?? "";
    assert.equal(recordsOf(stdout), 30_000, `control: every record was made: ${stdout} ${JSON.stringify(o.error)}`);
    const limit = limitOf(o);
    assert.equal(limit?.kind, "memory", `30,000 records through open descriptors not charged: ${JSON.stringify(o.result)}`);
    assert.ok((limit?.used ?? 0) > 4 * 2 ** 20, `charged past the cap: ${JSON.stringify(limit)}`);
    assert.doesNotMatch(stdout, /^held/m, `ended while it held them: ${stdout}`);
  },
);

// ---- 3. a lock count the sandbox makes long stopped the memory looks (fixed) ----
//
// countLocks ran inside the memory look (kernel-buffers.ts measure: `yield* countLocks`),
// so no look ended, and nothing the looks alone charge (pipes, socket queues, epoll watches,
// lock records) was charged, until the count had read every descriptor's fdinfo whole. The
// sandbox decides how long that is: an inotify descriptor of 8,000 watches has a fdinfo of
// 963,677 bytes that takes the kernel 16 ms to make at each read (LOCK_PART_US's 4 ms is
// passed at the first), and 400 duplicates of it make each count 6.4 s of a pool thread.
// 1.5 s in, the program fills 1,000 pipes with 64 KiB each (62 MiB, 986 filled here, the
// user's pipe-user-pages-soft) under maxMemory 16M: held 4.6 s to the program's own end, not
// ended; the supervising process spent 5.4 s of CPU in 6.4 s (event loop gaps stayed under
// 25 ms). With 20,000 duplicates a count would be 320 s. Control: without the duplicates the
// same pipes end the sandbox at the next look. Now the count runs apart from the looks, and
// the fdinfo of epoll, inotify and fanotify files (a line per watch or mark) is not read
// (native/kmem.c fd_locks_part): ended at a look once the pipes are filled. Since the pipe
// budget (handlers/pipes.ts) a sandbox holds at most 256 pipes here: 250 pipes (15.6 MiB)
// under maxMemory 12M.
scriptCase(
  "maxMemory 12M: 400 descriptors of a 1 MB fdinfo do not hold off the memory looks while 15.6 MiB of pipes are filled",
  SCRIPT,
  ["${STAGE}/sl-rt16", "cost", "8000", "400", "250"],
  (out) => {
    assert.equal(out.error, undefined, out.error);
    // The pipes were filled, or a look landed while they were being made (about 15 ms of
    // the run: CI of 5c3beae, the control as root, ended at 37 MB before its count printed)
    // and ended the sandbox then: either way the looks charged them.
    const filled = (r: { pipes: number | null; pipesStarted: boolean; limit: string | null }): boolean => (r.pipes ?? 0) >= 240 || (r.pipesStarted && r.pipes === null && r.limit === "memory");
    const c = out.control;
    assert.ok(filled(c), `control: the pipes were filled: ${JSON.stringify(c)}`);
    assert.equal(c.limit, "memory", `control: the pipes are charged at the next look: ${JSON.stringify(c)}`);
    const a = out.attack;
    assert.equal(a.dups, 400, `control: the duplicates were made: ${JSON.stringify(a)}`);
    assert.ok(filled(a), `control: the pipes were filled: ${JSON.stringify(a)}`);
    assert.ok(a.worstGapMs < 100, `the event loop: ${JSON.stringify(a)}`);
    const alive = [...String(a.out).matchAll(/^alive (\d+)$/gm)].map((m) => Number(m[1]));
    assert.equal(a.limit, "memory", `${a.pipes} pipes of 64 KiB held ${Math.max(0, (alive.pop() ?? 1500) - 1500)} ms under maxMemory 12M while a lock count read 400 fdinfo texts of about 960 KB (${a.cpuMs} ms of the supervisor's CPU): ${JSON.stringify({ ...a, out: undefined })}`);
  },
  40_000,
);

// ---- 4. what the OFD refusal leaves to programs (held) ----
//
// Under maxMemory F_OFD_SETLK gets EINVAL (a kernel before 3.15); POSIX locks and flock work.
// Control: without maxMemory the OFD lock works. (sqlite3 (POSIX locks) and flock(1)
// (flock(2)) ran under maxMemory 64M here: neither uses OFD locks.)
for (const cap of ["16M", undefined] as const) {
  securityCase(
    `${cap === undefined ? "no maxMemory" : "maxMemory 16M"}: F_OFD_SETLK ${cap === undefined ? "works" : "gets EINVAL"}, F_SETLK and flock work`,
    { policy: { fsReadable: [RT16], fsWritable: [lockDir("ofd")], ...(cap === undefined ? {} : { maxMemory: cap }) }, cmd: [RT16, "posix-ofd", join(lockDir("ofd"), `f-${cap ?? "none"}`)], timeout: 10_000 },
    (o, who) => {
      const stdout = o.result?.stdout ?? "";
      assert.match(stdout, cap === undefined ? /^ofd ok$/m : /^ofd EINVAL$/m, `${who}: ${stdout} ${JSON.stringify(o.error)}`);
      assert.match(stdout, /^posix ok$/m, stdout);
      assert.match(stdout, /^flock ok$/m, stdout);
    },
  );
}
