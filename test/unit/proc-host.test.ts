// The /proc files that list host processes, as a sandbox sees them (supervise/proc-host.ts):
// locks and SysV objects of its own processes only.

import assert from "node:assert/strict";
import { test } from "node:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { filterLocks, filterSysvipc } from "../../src/supervise/proc-host.js";
import { HOST_FILE_MAX, hostFileContent } from "../../src/supervise/handlers/procfs-host.js";

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

test("/proc/sysvipc: the header and the objects a sandbox process created or used last, or the supervisor made for it (semaphore sets only so)", () => {
  const header = SHM.split("\n")[0]!;
  assert.equal(filterSysvipc(SHM, new Set([501])), `${header}\n${SHM.split("\n")[1]}\n`);
  assert.equal(filterSysvipc(SHM, new Set([800])), `${header}\n${SHM.split("\n")[2]}\n`);
  assert.equal(filterSysvipc(SHM, new Set([42])), `${header}\n`);
  assert.equal(filterSysvipc(SEM, new Set([0, 2, 600])), `${SEM.split("\n")[0]}\n`);
  // By id: the objects the supervisor made for the sandbox (its own pid is their creator).
  assert.equal(filterSysvipc(SEM, new Set(), new Set([2])), SEM);
  assert.equal(filterSysvipc(SHM, new Set(), new Set([13])), `${header}\n${SHM.split("\n")[2]}\n`);
  assert.equal(filterSysvipc(SHM, new Set(), new Set([600])), `${header}\n`, "an id, not another column");
  assert.equal(filterSysvipc("", new Set([1])), "");
});

test("hostFileContent reads at most HOST_FILE_MAX bytes of the host's table, cut at a whole line (a sandbox decides its length)", () => {
  const dir = mkdtempSync(join(tmpdir(), "sl-locks-"));
  try {
    const file = join(dir, "locks");
    const line = (n: number, pid: number): string => `${n}: POSIX  ADVISORY  WRITE ${pid} 00:2a:1234 0 EOF\n`;
    // This process's own lock first, then host locks past the bound, then its own again.
    const fill = Math.ceil(HOST_FILE_MAX / line(9, 99999).length) + 10;
    const text = line(1, process.pid) + Array.from({ length: fill }, (_, i) => line(i + 2, 99999)).join("") + line(fill + 2, process.pid);
    writeFileSync(file, text);
    assert.ok(text.length > HOST_FILE_MAX);
    // launcherPid: this process's parent, so that this process is one of its "own".
    const got = hostFileContent("locks", file, process.ppid);
    assert.equal(got, `1: POSIX  ADVISORY  WRITE ${process.pid} 00:2a:1234 0 EOF\n`, "the line past the bound is not read");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
