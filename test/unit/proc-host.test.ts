// The /proc files that list host processes, as a sandbox sees them (supervise/proc-host.ts):
// locks and SysV objects of its own processes only.

import assert from "node:assert/strict";
import { test } from "node:test";
import { filterLocks, filterSysvipc } from "../../src/supervise/proc-host.js";

const LOCKS = [
  "1: OFDLCK ADVISORY  WRITE -1 fe:00:2146568 0 9",
  "2: POSIX  ADVISORY  WRITE 16427 fe:00:2146565 0 9",
  "3: FLOCK  ADVISORY  WRITE 900 fe:00:2146565 0 EOF",
  "3: -> FLOCK  ADVISORY  WRITE 16430 fe:00:2146565 0 EOF",
  "4: POSIX  ADVISORY  READ 16430 00:14:77 0 EOF",
  "5: LEASE  ACTIVE    READ 16427 fe:00:12 0 EOF",
  "",
].join("\n");

test("/proc/locks: only the sandbox's processes' locks, renumbered; a blocked request of its own is kept", () => {
  assert.equal(
    filterLocks(LOCKS, new Set([16427, 16430])),
    [
      "1: POSIX  ADVISORY  WRITE 16427 fe:00:2146565 0 9",
      "2: -> FLOCK  ADVISORY  WRITE 16430 fe:00:2146565 0 EOF",
      "3: POSIX  ADVISORY  READ 16430 00:14:77 0 EOF",
      "4: LEASE  ACTIVE    READ 16427 fe:00:12 0 EOF",
      "",
    ].join("\n"),
  );
  assert.equal(filterLocks(LOCKS, new Set([1])), "");
});

const SHM = [
  "       key      shmid perms                  size  cpid  lpid nattch   uid   gid  cuid  cgid      atime      dtime      ctime                   rss                  swap",
  "         0         12   600                  4096   500   501      1     0     0     0     0 1764583000          0 1764583000                  4096                     0",
  "         0         13   600                  4096   700   800      1     0     0     0     0 1764583000          0 1764583000                  4096                     0",
  "",
].join("\n");
const SEM = "       key      semid perms      nsems   uid   gid  cuid  cgid      otime      ctime\n         0          2   600          1     0     0     0     0          0 1764583000\n";

test("/proc/sysvipc: the header and the objects a sandbox process created or used last; semaphore sets never", () => {
  const header = SHM.split("\n")[0]!;
  assert.equal(filterSysvipc(SHM, new Set([501])), `${header}\n${SHM.split("\n")[1]}\n`);
  assert.equal(filterSysvipc(SHM, new Set([800])), `${header}\n${SHM.split("\n")[2]}\n`);
  assert.equal(filterSysvipc(SHM, new Set([42])), `${header}\n`);
  assert.equal(filterSysvipc(SEM, new Set([0, 2, 600])), `${SEM.split("\n")[0]}\n`);
  assert.equal(filterSysvipc("", new Set([1])), "");
});
