// The second security review of issue 9: attacks that got past the first round's fixes,
// each run for real inside a sandbox, as root and as the test user, with a positive control
// that shows the test can tell the difference. Tests marked todo show a hole still open
// (docs/security.md, known limits): they fail today and keep the suite green.

import assert from "node:assert/strict";
import { existsSync, statSync } from "node:fs";
import { test } from "node:test";
import { answer, byView, openCase, runScript, securityCase } from "../helpers/harness.js";
import type { CaseOutcome } from "../helpers/case-types.js";
import { killedByMemory, held } from "../helpers/memory-checks.js";
import { isRoot } from "../helpers/stage.js";

const probe = (...args: string[]): string[] => ["${PROBE}", ...args];
const BASE = { fsReadable: ["${PROBE}"] };
const MEM = { ...BASE, maxMemory: "64M" };

// --- A process whose thread-group leader exited while its threads go on. -------------
// /proc/<pid> then shows a zombie with no memory and no descriptors, though the process
// runs: the launcher did not count it (maxProcesses), stop it (maxCpu), and the memory
// watchdog read nothing. Measured before the fix: 12 processes under maxProcesses 4,
// 97-99% of a core under maxCpu 10, 400 MiB held under maxMemory 64M.

securityCase("maxProcesses 4: children whose leaders exit (threads left running) are counted: the fourth fork fails", { policy: { ...BASE, maxProcesses: 4 }, cmd: probe("red-zombie-procs", "12") }, (o) =>
  assert.equal(answer(o), "made 3 EAGAIN"),
);
securityCase("positive control: under maxProcesses 64 the same twelve children are made", { policy: { ...BASE, maxProcesses: 64 }, cmd: probe("red-zombie-procs", "12") }, (o) =>
  assert.equal(answer(o), "made 12"),
);

// maxCpu against the same zombie-leader process: cpu-escape.test.ts (it measures a share of a
// core, so it runs alone at the end of npm test).

securityCase("maxMemory 64M: 256 MiB grown by a thread after its leader exited is killed", { policy: MEM, cmd: probe("red-zombie-mem", "256"), timeout: 30_000 }, killedByMemory());
securityCase("positive control: 16 MiB grown the same way is held", { policy: MEM, cmd: probe("red-zombie-mem", "16") }, held(16));

// --- Memory handed down a chain of processes that fork and exit. ------------------------
// The watchdog lists the sandbox's processes by walking down from the launcher through
// each thread's list of children where the kernel has them (members.ts walkTree), lists
// read one at a time while the chain's holder is always a new process, orphaned to a
// subreaper above: the launcher, or one the sandbox made (PR_SET_CHILD_SUBREAPER). 256 MiB
// made writable by mprotect (no call announces the growth: the watchdog must find it)
// are handed down the chain for 1.5 s; a watchdog that missed the holder at every look
// would let the chain keep them. (The walk's logic against moves between its reads:
// test/unit/members-walk.test.ts.) The watchdog kills the largest process, the holder:
// the first process, which holds nothing, reports the chain lost, unless the whole
// sandbox went with it. The controls hand down 4 MiB under a 256 MiB cap: a look charges
// every chain process it finds the probe's static arrays (about 14 MiB of VmData) and the
// pages, parent and child both while one forks, and under load it finds several at once
// (4 MiB were killed under 64M beside two other test files; 16 MiB were charged 74 MiB).
function chainKilled(o: CaseOutcome): void {
  const limit = o.result?.limit as { kind: string; field: string; cap: number; used: number } | null;
  assert.doesNotMatch(o.result?.stdout ?? "", /held/, `the chain kept the memory: ${JSON.stringify(o.result)}`);
  assert.ok(o.result?.stdout === "lost\n" || (o.result?.stdout === "" && o.result?.signal === "SIGKILL"), `the chain's end: ${JSON.stringify(o.result)} ${JSON.stringify(o.error)}`);
  assert.equal(limit?.kind, "memory", JSON.stringify(o.result));
  assert.ok(limit!.used > 64 * 2 ** 20, `used ${limit?.used}`);
}
securityCase("maxMemory 64M: 256 MiB handed down a fork-and-exit chain are found and its holder killed", { policy: MEM, cmd: probe("red-chain-mem", "256"), timeout: 30_000 }, chainKilled);
securityCase("maxMemory 64M: 256 MiB handed down a fork-and-exit chain under a subreaper of the sandbox's are found and its holder killed", { policy: MEM, cmd: probe("red-chain-mem", "256", "sub"), timeout: 30_000 }, chainKilled);
for (const sub of [[], ["sub"]]) {
  securityCase(`positive control: 4 MiB handed down the same chain${sub.length ? " under a subreaper" : ""} are held to its end`, { policy: { ...BASE, maxMemory: "256M" }, cmd: probe("red-chain-mem", "4", ...sub), timeout: 30_000 }, (o) => {
    assert.equal(o.result?.stdout, "held 4\n", JSON.stringify(o.result));
    assert.equal(o.result?.limit, null);
  });
}

// --- Memory no figure of the charge showed. ---------------------------------------------

// MADV_DONTNEED drops a shared mapping's page table entries, not its pages: RssShmem fell
// to 0 while the object kept them (measured: 512 MiB held under 64M).
securityCase("maxMemory 64M: 256 MiB of shared anonymous memory kept out of the page tables (MADV_DONTNEED) is killed", { policy: MEM, cmd: probe("red-shanon", "256", "16"), timeout: 30_000 }, killedByMemory());
securityCase("positive control: 32 MiB of shared anonymous memory the same way is held", { policy: MEM, cmd: probe("red-shanon", "32", "16") }, held(32));

// One page left mapped keeps the whole object. Its size is read through map_files, which
// needs CAP_SYS_ADMIN: the unprivileged supervisor sees only the page that is mapped.
openCase(
  "maxMemory 64M: 256 MiB of shared anonymous objects each cut down to one mapped page is killed",
  { policy: MEM, cmd: probe("red-shanon", "256", "16", "tail"), timeout: 30_000 },
  killedByMemory(),
  { user: "an unprivileged supervisor cannot read a shared object's size (map_files needs CAP_SYS_ADMIN)" },
);
securityCase("positive control: 32 MiB of objects cut down the same way is held", { policy: MEM, cmd: probe("red-shanon", "32", "16", "tail") }, held(32));
// The same with the objects mapped below 0x10000000: /proc/PID/maps writes those addresses
// zero-padded to 8 digits ("04000000-04001000") and map_files names them without
// ("4000000-4001000"), so the size was looked up under a name that does not exist and the
// one mapped page was all that was charged, unless a look had seen the object whole (1
// MiB objects, each whole for a few milliseconds: 256 MiB held under 64M, as root).
openCase(
  "maxMemory 64M: 256 MiB of 1 MiB shared anonymous objects cut down to one page each, mapped at low addresses, is killed",
  { policy: MEM, cmd: probe("red-shanon", "256", "1", "low"), timeout: 30_000 },
  killedByMemory(),
  { user: "an unprivileged supervisor cannot read a shared object's size (map_files needs CAP_SYS_ADMIN)" },
);
securityCase("positive control: 32 MiB of 1 MiB objects at low addresses, cut down the same way, is held", { policy: MEM, cmd: probe("red-shanon", "32", "1", "low") }, held(32));

// Stacks grow on page faults, with no syscall, and VmData leaves them out (VmStk).
securityCase("maxMemory 64M: the main stack grown by 256 MiB (RLIMIT_STACK raised) is killed", { policy: MEM, cmd: probe("red-stack", "256"), timeout: 30_000 }, killedByMemory());
securityCase("positive control: the main stack grown by 16 MiB is held", { policy: MEM, cmd: probe("red-stack", "16") }, held(16));
securityCase("maxMemory 64M: 256 MiB in MAP_GROWSDOWN mappings of one page each, grown by faults, is killed", { policy: MEM, cmd: probe("red-growsdown", "256"), timeout: 30_000 }, killedByMemory());
securityCase("positive control: 16 MiB in MAP_GROWSDOWN mappings is held", { policy: MEM, cmd: probe("red-growsdown", "16") }, held(16));

// Unix socket queues are kernel memory no figure of the charge showed: each pair may queue
// up to twice net.core.wmem_max (8 MiB here). Measured: 784 MiB in 100 pairs under 64M.
// Now SO_SNDBUF is clamped to the default under maxMemory (the pairs hold what default
// ones do, about 9 MiB) and socket queues are charged (kernel-memory.test.ts).
securityCase(
  "maxMemory 64M: 40 unix socket pairs filled without reading (about 300 MiB queued) are refused or killed",
  { policy: MEM, cmd: probe("red-sockbuf", "40"), timeout: 30_000 },
  (o) => {
    const m = /^held (\d+)$/.exec(answer(o));
    if (m === null) killedByMemory()(o);
    else assert.ok(Number(m[1]) < 64, `held ${m[1]} MiB under a 64 MiB cap`);
  },
);
securityCase("positive control: without maxMemory, 10 such pairs queue more than 64 MiB", { policy: BASE, cmd: probe("red-sockbuf", "10") }, (o) => {
  const m = /^held (\d+)$/.exec(answer(o));
  assert.ok(m && Number(m[1]) > 64, `stdout: ${o.result?.stdout}`);
});

// Threads are not processes (SPEC 4.1), but each costs the host a kernel stack and a task
// (about 24 KiB) and a slot of kernel.threads-max, shared by the host. Now capped (64 per
// allowed process, at least 256) and charged to maxMemory: kernel-memory.test.ts.
securityCase(
  "maxProcesses 4 and maxMemory 64M: 4096 threads (about 100 MiB of kernel memory) are not all made",
  { policy: { ...MEM, maxProcesses: 4 }, cmd: probe("red-threads", "4096"), timeout: 30_000 },
  (o) => assert.equal(answer(o), "threads 255"),
);
securityCase("positive control: 16 threads are made", { policy: { ...MEM, maxProcesses: 4 }, cmd: probe("red-threads", "16") }, (o) => assert.equal(answer(o), "threads 16"));

// --- uid 0 without capabilities. --------------------------------------------------------

// Under a writable /proc grant root wrote kernel sysctls on file mode alone (no capability
// needed): kernel.core_pattern among them, a command the kernel runs as root, outside.
securityCase("a writable /proc grant does not make host sysctls writable (kernel.printk_ratelimit, its own value written back)", { policy: { fsReadable: ["${PROBE}"], fsWritable: ["/proc"] }, cmd: probe("red-sysctl", "/proc/sys/kernel/printk_ratelimit") }, (o) =>
  assert.equal(answer(o), "open EACCES"),
);
securityCase("a writable / grant does not either", { policy: { fsWritable: ["/"] }, cmd: probe("red-sysctl", "/proc/sys/kernel/core_pattern") }, (o) => assert.equal(answer(o), "open EACCES"));
securityCase("positive control: the same grant writes the sandbox's own /proc/self/comm", { policy: { fsReadable: ["${PROBE}"], fsWritable: ["/proc"] }, cmd: probe("red-sysctl", "/proc/self/comm") }, (o) =>
  assert.equal(answer(o), "ok"),
);

/** A device node of root's that only its owner may open (mode 0600), or undefined. */
function rootOnlyDevice(): string | undefined {
  return ["/dev/tty1", "/dev/loop0", "/dev/console"].find((p) => {
    if (!existsSync(p)) return false;
    const st = statSync(p);
    return (st.isCharacterDevice() || st.isBlockDevice()) && st.uid === 0 && (st.mode & 0o077) === 0;
  });
}
const DEVICE = rootOnlyDevice();
// Root inside holds no capability, but it still owns root's files: under a read grant on
// /dev it opens the console (/dev/tty1: keystrokes), loop and disk devices (/dev/sda: every
// file of the host, whatever the Landlock rules).
// A grant on /dev reaches only an allowlist of harmless nodes (plan/dev-grants.ts).
if (DEVICE !== undefined) {
  // Landlock's EACCES, or ENOENT under the kernel view (a node off the allowlist is not bound).
  securityCase(`a read grant on /dev does not open ${DEVICE} (root's, mode 0600)`, { policy: { fsReadable: ["${PROBE}", "/dev"] }, cmd: probe("red-devopen", DEVICE) }, (o) => assert.equal(answer(o), byView(o, "EACCES", "ENOENT")));
  securityCase(`positive control: unsandboxed, root opens ${DEVICE} (the test user's file mode forbids it)`, { policy: BASE, cmd: probe("red-devopen", DEVICE), scenario: "bare" }, (o, who) =>
    assert.equal(answer(o), who === "root" ? "ok" : "EACCES"),
  );
}
securityCase("positive control: the same grant opens /dev/null", { policy: { fsReadable: ["${PROBE}", "/dev"] }, cmd: probe("red-devopen", "/dev/null") }, (o) => assert.equal(answer(o), "ok"));

// --- Host processes. ----------------------------------------------------------------------

// Under the kernel view the runner's pid names nothing in the sandbox's pid namespace: ESRCH.
securityCase("getsid and getpgid do not tell the session and group of a host process (the runner)", { policy: BASE, cmd: probe("red-pgid", "${RUNNER_PID}") }, (o) =>
  assert.equal(answer(o), byView(o, "sid EPERM pgid EPERM", "sid ESRCH pgid ESRCH")),
);
securityCase("positive control: getsid and getpgid of the sandbox's own child answer", { policy: BASE, cmd: probe("red-pgid", "child") }, (o) =>
  assert.match(answer(o), /^sid \d+ pgid \d+$/),
);

// --- What a sandbox makes its supervisor hold. -----------------------------------------
// A send the supervisor performs holds a duplicate of the socket and of every descriptor
// passed with SCM_RIGHTS until it completes; a blocking send to a full queue never does,
// and threads are not limited. Measured: 100 senders held 19,839 descriptors of the
// supervising process (its limit: 20,000); 11,000 threads blocked in performed connects
// (two descriptors each) made another sandbox of the same process fail: "pipe2: Too many
// open files".
const RED_SCRIPT = "dist/test/scripts/redteam-case.js";
function scriptTodo(name: string, args: string[], check: (out: any) => void, todo?: string): void {
  test(`${name} [root]`, { skip: isRoot ? false : "tests are not running as root", todo }, async () => check(await runScript(RED_SCRIPT, args, "root")));
  test(`${name} [user]`, { todo }, async () => check(await runScript(RED_SCRIPT, args, "user")));
}
scriptTodo(
  "20 blocked senders of 253 descriptors each do not make the supervisor hold more than 1,024 descriptors, and another sandbox still runs",
  ["${PROBE}", "20"],
  (out) => {
    assert.equal(out.out, "senders 20");
    assert.ok(out.during - out.before < 1024, `${out.during - out.before} descriptors held`);
    assert.equal(out.second, "exited");
  },
);
scriptTodo("positive control: one blocked sender makes the supervisor hold its 253 descriptors (the count sees them)", ["${PROBE}", "1"], (out) => {
  assert.equal(out.out, "senders 1");
  assert.ok(out.during - out.before >= 253, `${out.during - out.before} descriptors held`);
  assert.equal(out.second, "exited");
});
