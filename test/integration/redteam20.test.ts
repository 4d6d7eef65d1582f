// The twentieth review (2026-12-06): what a sandbox can take from its uid and from the host,
// as root and as the test user, in both views (programs in test/fixtures/redteam20.c, cases
// in test/scripts/red20-case.ts). Each taking run holds what it took while a bare program
// of the same uid tries the same thing ("during"), and again once the run ended ("after").
// While a case holds its take (a few ms to 3 s), the same uid's other processes fail as the
// cases show, for the [root] cases root's (the test runner's too; ptys: every user's): the
// file belongs among scripts/test.mjs's ALONE.
//
// Fixed:
// - queued signals: RLIMIT_SIGPENDING is counted per user (ucounts, every level of user
//   namespaces up to the host's): a sandbox queued 96,367 real-time signals to itself in
//   55 ms, and the uid's processes got EAGAIN from sigqueue and timer_create until it
//   ended, both views, root too (no capability passes this limit). The sandbox's own limit
//   is now half of its caller's (features.ts), so it stops there.
// - inotify: 128 instances and 192,540 watches (5.2 s), the uid's processes EMFILE and
//   ENOSPC. The kernel view's user namespace gets half of the caller's limits (88e025d);
//   the supervised view's instances are made by a broker in a user namespace with those
//   limits (handlers/inotify-init.ts): both stop at half (64 and 96,270 here).
// - names: an abstract unix name ("@/tmp/.X11-unix/X<n>") bound by a sandbox with no
//   network rights at all served the host client that connected to it (supervised view):
//   a listen on an abstract name of the sandbox's choosing is now EPERM, rechecked after
//   the listen against a racing bind (abstract-race), and in the supervised view the bind
//   itself is EPERM since (abstract-names.test: a datagram socket there received the
//   host's datagrams); with netAllowBind naming a port a
//   host server of the same uid listens on with SO_REUSEPORT, the sandbox joined the group
//   and served about half of the host's connections: SO_REUSEPORT is now EPERM outside the
//   kernel view.
//
// - epoll watches (fs.epoll.max_user_watches, per user, not per namespace): 5,491,631
//   watches in 2.5-2.8 s, both views; the uid's epoll_ctl got ENOSPC, and a Node process of
//   the uid started meanwhile aborted (SIGABRT: libuv aborts when epoll_ctl fails), as does
//   the supervising process itself if its loop adds a descriptor in that window. Every
//   add is now counted by the supervisor (handlers/epoll.ts): a sandbox stops at a quarter
//   of the limit (epoll-budget.test tries to get past it from inside).
// - descriptors in flight over unix sockets (per user, bounded by the sending process's
//   RLIMIT_NOFILE): 20,240 in flight (as root 40,000, the program's stop, before the
//   supervisor's sends dropped CAP_SYS_RESOURCE and CAP_SYS_ADMIN) and the uid's processes
//   at 1,024 got ETOOMANYREFS for any descriptor they passed, both views; maxOpenFiles did
//   not bound them. The sends are now made by the sender under the sandbox's maxOpenFiles
//   at most 256 (native/launcher/sender.c): 506 at most, the host's try at 1,024 works
//   (inflight.test tries the sender's shapes and limits).
// - SysV IPC with sysv_ipc lifted (supervised view): 4,096 segments (kernel.shmmni, for
//   every user), left behind with the message queues and semaphore sets once the run ended
//   (under maxMemory the segments were removed, the queues and sets not). The supervisor
//   now makes every object (handlers/sysv.ts): at most a quarter of each limit, all removed
//   at the end (sysv-objects.test tries to keep one).
// - pseudo-terminals (kernel.pty.max, host-wide): under a writable /dev, 4,095 in 70 ms and
//   /dev/ptmx gave every user ENOSPC; a read-only grant too (O_RDONLY makes a pair), in
//   both views. The supervisor makes the multiplexer's opens (handlers/dev-ptmx.ts): at
//   most a quarter of kernel.pty.max a sandbox, the host keeping kernel.pty.reserve.
//
// Found open, each fixed since (its case was marked todo until its fix landed):
// - pipe pages (fs.pipe-user-pages-soft, per user): past 1,024 pipes of the sandbox, every
//   new pipe of the uid got 8 KiB instead of 64 KiB, both views (root's processes with
//   CAP_SYS_RESOURCE or CAP_SYS_ADMIN keep 64 KiB; root's without them got 8 KiB). The
//   same through threads' splice pipes, no pipe made (found 2026-12-07). Fixed since: a
//   pipe budget (handlers/pipes.ts), a quarter of the limit.
// - UDP (supervised view): with any UDP allowance a local UDP port was bound and received
//   the host's datagrams. Fixed since: netAllowBind covers UDP binds (EACCES), and each UDP
//   socket is the supervisor's making with a locked filter on its destination port (a bind
//   raced past the check receives nothing): docs/network.md, Limits.
//
// Held: SysV by default
// (EPERM) and in the kernel view with it lifted (its own IPC namespace); processes and
// threads under the default policy (64 and 4,096: 12.7% of this host's pid_max, the uid's
// fork went on); an abstract name in the kernel view (its own network namespace); binds
// without netAllowBind (EACCES) or a UDP allowance (EPERM at socket); the blocklist (keys,
// POSIX queues, SysV, fanotify, user namespaces).

import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { after } from "node:test";
import { scriptCase, sharedScriptCase } from "../helpers/harness.js";
import { buildStaged } from "../helpers/stage.js";
import { IN_FLIGHT_MAX } from "../../src/plan/net-supervision.js";
import { pipeBudget } from "../../src/plan/features.js";

const SCRIPT = "dist/test/scripts/red20-case.js";

// The watch limits, lowered while this file runs where it may (as root): the sandbox's
// budgets are shares of them (a quarter of fs.epoll.max_user_watches, half of
// fs.inotify.max_user_watches), and at this host's 5,491,667 epoll watches the epoll case
// made 1.37 million supervised adds in each view, 22-25 s a user (of the file's 124 s in
// CI's alone part, 2026-12-07); the inotify case 9-10 s. The rule and its checks are the
// same at any limit (each reads the limit it is a share of); a sandbox filling a quarter of
// 400,000 starves the uid as surely, were the count gone. Restored when the file ends,
// whatever ends it but SIGKILL; only ever lowered (a host set lower keeps its value).
// The file runs in the alone part, where no other process of the suite needs the limits.
const LOWERED: readonly [path: string, value: number][] = [
  ["/proc/sys/fs/epoll/max_user_watches", 400_000],
  ["/proc/sys/fs/inotify/max_user_watches", 40_000],
];
if (process.getuid?.() === 0) {
  const restore: (() => void)[] = [];
  for (const [path, value] of LOWERED) {
    const was = readFileSync(path, "latin1").trim();
    if (Number(was) <= value) continue;
    writeFileSync(path, String(value));
    restore.push(() => writeFileSync(path, was));
  }
  const undo = (): void => void restore.splice(0).forEach((r) => r());
  after(undo);
  process.on("exit", undo);
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => (undo(), process.exit(1)));
}

// The attack programs, built static into the staged package so the test user can run them.
buildStaged("redteam20.c", "sl-rt20");
const RT20 = "${STAGE}/sl-rt20";

type Got = Record<string, string>;
interface Taken {
  procView?: string;
  exitCode?: number | null;
  got: Got;
  before: Got;
  during: Got | null;
  after: Got;
  capless?: Got | null;
}
const VIEWS = ["supervised", "kernel"] as const;

/** The count a taking mode printed for `name` ("N ERRNO Tms"). */
const count = (t: Taken, name: string): number => Number((t.got[name] ?? "").split(" ")[0]);

/** Every view ran, took what it says, and the host's try before and after was fine. */
function ran(out: Record<string, Taken>, views: readonly string[], checks: Got, msg: string): void {
  for (const view of views) {
    const t = out[view]!;
    assert.ok(t !== undefined, `${view} ran: ${msg}`);
    assert.equal(t.procView, view, msg);
    assert.equal(t.exitCode, 0, `${view}: ${msg}`);
    assert.ok(t.during !== null, `${view}: the program said it was ready: ${msg}`);
    assert.deepEqual(t.before, checks, `${view} before: ${msg}`);
    assert.deepEqual(t.after, checks, `${view} after: ${msg}`);
  }
}

/** The views (and checks) where the host's try failed while the sandbox held its take. */
function starved(out: Record<string, Taken>, views: readonly string[], checks: Got, who: string): string[] {
  return views.flatMap((view) => {
    const t = out[view]!;
    const bad = Object.entries(checks).filter(([k, v]) => t.during?.[k] !== v);
    const capless = who === "root" && t.capless != null ? Object.entries(checks).filter(([k, v]) => t.capless?.[k] !== v) : [];
    return [...bad.map(([k]) => `${view}: ${k} ${t.during?.[k]}`), ...capless.map(([k]) => `${view}, root without capabilities: ${k} ${t.capless?.[k]}`)];
  });
}

scriptCase(
  "inotify instances: a sandbox stops at half of its uid's (EMFILE), the uid's inotify_init1 keeps working (both views: the kernel view's own user namespace, the supervised view's broker's)",
  SCRIPT,
  [RT20, "inotify"],
  (out) => {
    const msg = JSON.stringify(out);
    ran(out, VIEWS, { host_inotify: "ok" }, msg);
    const limit = Number(readFileSync("/proc/sys/user/max_inotify_instances", "latin1").trim());
    for (const view of VIEWS) {
      assert.match(out[view].got.inotify_instances, /^\d+ EMFILE/, `${view}: ${msg}`);
      assert.ok(count(out[view], "inotify_instances") <= Math.floor(limit / 2), `${view}: at most half of ${limit}: ${msg}`);
    }
    assert.deepEqual(starved(out, VIEWS, { host_inotify: "ok" }, "user"), [], msg);
  },
);

scriptCase(
  "inotify watches: a sandbox stops at half of its uid's (ENOSPC), the uid's inotify_add_watch keeps working (both views: the broker's user namespace, the kernel view's own)",
  SCRIPT,
  [RT20, "watches"],
  (out) => {
    const msg = JSON.stringify(out);
    ran(out, VIEWS, { host_watch: "ok" }, msg);
    for (const view of VIEWS) assert.match(out[view].got.inotify_watches, /ENOSPC/, `${view}: ${msg}`);
    assert.deepEqual(starved(out, VIEWS, { host_watch: "ok" }, "user"), [], msg);
  },
  30_000,
);

scriptCase(
  "queued real-time signals are counted per user: a sandbox stops at half of RLIMIT_SIGPENDING, the uid's sigqueue and timer_create keep working (both views)",
  SCRIPT,
  [RT20, "sigq"],
  (out) => {
    const msg = JSON.stringify(out);
    const checks = { host_sigq: "ok", host_timer: "ok" };
    ran(out, VIEWS, checks, msg);
    for (const view of VIEWS) assert.match(out[view].got.sigqueue, /EAGAIN/, msg);
    assert.deepEqual(starved(out, VIEWS, checks, "user"), [], msg);
  },
);

scriptCase(
  "epoll watches are counted per user: a sandbox stops at a quarter of fs.epoll.max_user_watches, and the uid's epoll_ctl and a Node process started meanwhile keep working (both views)",
  SCRIPT,
  [RT20, "epoll"],
  (out) => {
    const msg = JSON.stringify(out);
    const budget = Math.floor(Number(readFileSync("/proc/sys/fs/epoll/max_user_watches", "latin1")) / 4);
    const starvedViews: string[] = [];
    for (const view of VIEWS) {
      const o = out[view] as { supervisor: { code: number | null; signal: string | null }; result: { procView: string; exitCode: number; got: Got } | null; host: Got | null };
      assert.equal(o.result?.procView, view, msg);
      assert.equal(o.result?.exitCode, 0, msg);
      const [made, err] = (o.result?.got.epoll_watches ?? "").split(" ");
      assert.equal(err, "ENOSPC", `${view}: the sandbox's adds stop at its budget (as root the program would stop at 2,000,000 by itself): ${msg}`);
      assert.ok(Number(made) <= budget, `${view}: ${made} watches, budget ${budget}: ${msg}`);
      assert.match(o.host?.host_epoll_after ?? "", /^ok/, `${view}: ${msg}`);
      starvedViews.push(...(o.host?.host_epoll !== "ok" ? [`${view}: host_epoll ${o.host?.host_epoll}`] : []));
      starvedViews.push(...(o.host?.host_node !== "exit 0" ? [`${view}: node ${o.host?.host_node}`] : []));
    }
    assert.deepEqual(starvedViews, [], msg);
  },
  90_000,
);

/** The uid's new pipes kept their 64 KiB while the sandbox held its pipe pages (`made`:
 * what the taking program printed, checked first). */
const pipesKept = (made: (t: Taken, view: string) => void) => (out: Record<string, Taken>, who: string): void => {
  const msg = JSON.stringify(out);
  const checks = { host_pipe: "size 65536" };
  ran(out, VIEWS, checks, msg);
  for (const view of VIEWS) made(out[view]!, view);
  assert.deepEqual(starved(out, VIEWS, checks, who), [], msg);
};

/** The sandbox's pipe budget on this host (features.ts pipeBudget). */
const pipeBudgetHere = (): number => pipeBudget(Number(readFileSync("/proc/sys/fs/pipe-user-pages-soft", "latin1")));

scriptCase(
  "pipe pages are counted per user: a sandbox's pipes stop at its budget (ENFILE), and the uid's new pipes keep 64 KiB (both views; root's processes without CAP_SYS_RESOURCE too)",
  SCRIPT,
  [RT20, "pipes"],
  pipesKept((t, view) => {
    const [made, err] = (t.got.pipes ?? "").split(" ");
    assert.equal(err, "ENFILE", `${view}: the sandbox's pipes stop at its budget: ${JSON.stringify(t)}`);
    // The pipes of its stdio, held from the start, are in the count too.
    assert.ok(Number(made) <= pipeBudgetHere() && Number(made) >= pipeBudgetHere() - 3, `${view}: ${made} pipes, budget ${pipeBudgetHere()}: ${JSON.stringify(t)}`);
  }),
);

// Found 2026-12-07: the pipe a thread's first sendfile (or copy_file_range) between two
// files makes to move the data through (the task's splice pipe) is charged to the uid as
// pipe(2)'s are and kept until the thread exits; the memory cap sees none of them (no
// descriptor holds them, and they hold no page once the copy is done). 1,100 threads of one
// process did it in 107 ms bare; the default policy allows 4,096 threads (65,536 pages, four
// times the soft limit). Now each thread's first such call counts against the pipe budget,
// and past it gets EINVAL (copy_file_range EXDEV), from which programs copy by read and write.
scriptCase(
  "splice pipes are pipe pages too: of 1,100 threads that each try one sendfile between two files, those past the budget get EINVAL, and the uid's new pipes keep 64 KiB (both views)",
  SCRIPT,
  [RT20, "splice-pipes"],
  pipesKept((t, view) => assert.match(t.got.splice_pipes ?? "", /^1100 EINVAL/, `${view}: every thread was made, those past the budget refused: ${JSON.stringify(t)}`)),
);

scriptCase(
  `descriptors in flight over unix sockets are counted per user: a sandbox's sends stop near ${IN_FLIGHT_MAX} (ETOOMANYREFS), and a process of the uid at the usual soft limit of 1,024 keeps passing descriptors (both views; root too)`,
  SCRIPT,
  [RT20, "inflight"],
  (out, who) => {
    const msg = JSON.stringify(out);
    const checks = { host_inflight: "ok" };
    // The control: the same program bare under RLIMIT_NOFILE 1,600 starves the host's try.
    assert.match(out.control.got.inflight ?? "", /^\d+ ETOOMANYREFS/, `control: ${msg}`);
    assert.equal(out.control.during?.host_inflight, "ETOOMANYREFS", `the control must starve the host's try: ${msg}`);
    ran(out, VIEWS, checks, msg);
    assert.deepEqual(starved(out, VIEWS, checks, who), [], msg);
    // The sender makes the sandbox's sends with descriptors under RLIMIT_NOFILE 256: the
    // kernel refuses once the uid's count passes it, a message past it adding at most 253
    // (before: 20,240 here, the supervisor's limit; as root 40,000, the program's stop).
    for (const view of VIEWS) {
      assert.match(out[view].got.inflight, /ETOOMANYREFS/, `${view}: ${msg}`);
      assert.ok(count(out[view], "inflight") <= IN_FLIGHT_MAX + 253, `${view}: ${out[view].got.inflight} in flight: ${msg}`);
    }
    // maxOpenFiles 512 (above 256): files of its own making, sent and closed, stop there too
    // (before: 20,240 as the test user, 40,000 as root; the host's fs/file-nr grew as much).
    for (const view of VIEWS) {
      const f = out.files[view] as Taken;
      assert.equal(f.procView, view, msg);
      assert.ok(count(f, "inflight_files") <= IN_FLIGHT_MAX + 253, `${view}: ${f.got.inflight_files} files in flight under maxOpenFiles 512: ${msg}`);
    }
  },
);

// Pseudo-terminals (fixed): each open of /dev/ptmx makes a pair out of kernel.pty.max,
// which every user shares; a grant on /dev let a sandbox take them all (4,095 in 70 ms, and
// a read-only grant as well: O_RDONLY makes a pair too). The supervisor makes those opens
// now (handlers/dev-ptmx.ts), a sandbox holding at most a quarter of kernel.pty.max and the
// host keeping kernel.pty.reserve. Held every way the count must see: multiplexers opened
// for reading and writing, or reading only (both views), pairs held by their terminal alone
// (multiplexer closed: its /proc link then says "(deleted)"), multiplexers in flight in
// unix sockets (uncounted, up to the uid's 256 in flight); and four sandboxes at once.
scriptCase(
  "pseudo-terminals: a sandbox holds at most a quarter of kernel.pty.max (ENOSPC) however it holds them, four at once leave the host kernel.pty.reserve, and the host's /dev/ptmx keeps working",
  SCRIPT,
  [RT20, "pty"],
  (out) => {
    const msg = JSON.stringify(out);
    const sysctl = (name: string): number => Number(readFileSync(`/proc/sys/kernel/pty/${name}`, "latin1").trim());
    const [max, reserve] = [sysctl("max"), sysctl("reserve")];
    const share = Math.floor(max / 4);
    const checks = { host_pty: "ok" };
    for (const [label, view] of [["rdwr", "supervised"], ["rdonly", "supervised"], ["rdonly-kernel", "kernel"], ["slaves", "supervised"], ["flight", "supervised"]] as const) {
      ran({ [view]: out[label] }, [view], checks, `${label}: ${msg}`);
      assert.deepEqual(starved({ [view]: out[label] }, [view], checks, "user"), [], `${label}: ${msg}`);
      const t = out[label] as Taken & { nrDuring: number };
      assert.match(t.got.ptys ?? "", /^\d+ ENOSPC /, `${label}: refused at its share: ${msg}`);
      const n = count(t, "ptys");
      // In flight, up to the uid's IN_FLIGHT_MAX (and one message) are out of every table.
      assert.ok(n <= share + (label === "flight" ? IN_FLIGHT_MAX + 1 : 0), `${label}: ${n} pairs held under a share of ${share}: ${msg}`);
      assert.ok(n >= share / 2, `control: ${label}: the sandbox took many pairs: ${msg}`);
      assert.ok(t.nrDuring <= max - reserve, `${label}: the host's pty/nr ${t.nrDuring} left less than kernel.pty.reserve (${reserve} of ${max}): ${msg}`);
    }
    const four = out.four as { got: Got[]; exitCodes: number[]; during: Got | null; nrDuring: number };
    assert.deepEqual(four.exitCodes, [0, 0, 0, 0], msg);
    assert.deepEqual(four.during, checks, `four at once: the host's /dev/ptmx: ${msg}`);
    const held = four.got.map((g) => Number((g.ptys ?? "").split(" ")[0]));
    assert.ok(held.every((n) => n <= share), `four at once: each at most its share: ${msg}`);
    assert.ok(held.reduce((a, b) => a + b, 0) <= max - reserve && four.nrDuring <= max - reserve, `four at once took ${held.join(" + ")} (pty/nr ${four.nrDuring}): more than kernel.pty.max less kernel.pty.reserve (${max} - ${reserve}): ${msg}`);
    // Control: together they asked for more than the host may give (the reserve refused some).
    assert.ok(4 * share > max - reserve, `control: four shares exceed what the reserve leaves: ${msg}`);
  },
  120_000,
);

// The multiplexer's opens the supervisor serves are those of its path (plain, relative, from
// a descriptor of /dev: the path as resolved); any other way to it meets Landlock, which has
// no rule on it, so it makes no pair uncounted: a symlink to it or to /dev, /proc/self/fd/N
// of an O_PATH descriptor, openat2 with RESOLVE_* rules, a node made with mknod.
scriptCase(
  "pseudo-terminals: /dev/ptmx reached by another spelling than its path (a symlink, /proc/self/fd, openat2, a node of one's own) is refused, so no pair escapes the count",
  SCRIPT,
  [RT20, "pty-spell"],
  (out) => {
    const msg = JSON.stringify(out);
    const served = ["plain", "openat", "relative"];
    const others = ["symlink", "through-link", "openat2"];
    const bare = out.bare as Got;
    for (const k of [...served, ...others, "proc-fd"]) assert.equal(bare[k], "ok", `control: bare, ${k} reaches it: ${msg}`);
    for (const [label, view] of [["rdwr", "supervised"], ["rdonly", "supervised"], ["rdonly-kernel", "kernel"]] as const) {
      const t = out[label] as { procView: string; exitCode: number; got: Got };
      assert.deepEqual([t.procView, t.exitCode], [view, 0], `${label}: ${msg}`);
      for (const k of served) assert.equal(t.got[k], "ok", `${label}: ${k}: ${msg}`);
      // (The kernel view's /dev has no node where no rule is: ENOENT there.)
      for (const k of others) assert.match(t.got[k] ?? "", /^(EACCES|ENOENT)$/, `${label}: ${k}: ${msg}`);
      assert.match(t.got["proc-fd"] ?? t.got["o-path"] ?? "", /^(EACCES|ENOENT)$/, `${label}: /proc/self/fd: ${msg}`);
      assert.equal(t.got["mknod-made"], "EACCES", `${label}: mknod of 5:2: ${msg}`);
    }
  },
);

sharedScriptCase(
  "held: SysV IPC is refused by default (both views); lifted in the kernel view, its objects are its own IPC namespace's and go with it",
  SCRIPT,
  [RT20, "sysv"],
  (out) => {
    const msg = JSON.stringify(out);
    for (const view of VIEWS) {
      const d = out[`default-${view}`] as Taken & { left: number };
      assert.equal(d.procView, view, msg);
      assert.match(d.got.shm ?? "", /^0 EPERM/, msg);
      assert.equal(d.left, 0, msg);
    }
    const k = out["lifted-kernel"] as Taken & { left: number };
    assert.equal(k.procView, "kernel", msg);
    assert.match(k.got.shm ?? "", /^4096 ENOSPC|^\d+ ENOSPC/, msg);
    assert.equal(k.during?.host_shm, "ok", msg);
    assert.equal(k.after.host_shm, "ok", msg);
    assert.equal(k.left, 0, msg);
  },
);

sharedScriptCase(
  "SysV IPC lifted under the supervised view: a sandbox holds at most a quarter of kernel.shmmni (the host's shmget keeps working) and leaves no object behind, with or without maxMemory",
  SCRIPT,
  [RT20, "sysv"],
  (out) => {
    const msg = JSON.stringify(out);
    const quarter = Math.floor(Number(readFileSync("/proc/sys/kernel/shmmni", "latin1")) / 4);
    for (const label of ["lifted-supervised", "lifted-mem-supervised"]) {
      const s = out[label] as Taken & { left: number };
      assert.equal(s.procView, "supervised", msg);
      assert.equal(s.before.host_shm, "ok", msg);
      const [made, err] = (s.got.shm ?? "").split(" ");
      assert.equal(err, "ENOSPC", `${label}: ${msg}`);
      assert.ok(Number(made) <= quarter, `${label}: ${made} segments, a quarter of kernel.shmmni is ${quarter}: ${msg}`);
      assert.equal(s.got.msg, "4", msg);
      assert.equal(s.got.sem, "4", msg);
      assert.deepEqual([s.during?.host_shm, s.after.host_shm, s.left], ["ok", "ok", 0], `${label}: ${msg}`);
    }
  },
);

scriptCase(
  "held: the default policy's processes and threads (64 and 4,096) leave the uid's fork working (both views)",
  SCRIPT,
  [RT20, "nproc"],
  (out) => {
    const msg = JSON.stringify(out);
    ran(out, VIEWS, { host_fork: "ok" }, msg);
    for (const view of VIEWS) {
      const t = out[view] as Taken;
      assert.ok(count(t, "children") <= 63, msg);
      assert.ok(count(t, "threads") <= 4096, msg);
      assert.equal(t.during?.host_fork, "ok", msg);
    }
  },
);

sharedScriptCase(
  "held: binds without netAllowBind (EACCES) or a UDP allowance (EPERM at socket), both views",
  SCRIPT,
  [RT20, "names"],
  (out) => {
    const msg = JSON.stringify(out);
    for (const view of VIEWS) assert.equal(out[view].udp.got.udp_socket, "EPERM", msg);
    assert.equal(out["tcp-nobind"].got.tcp_bind, "EACCES", msg);
  },
);

sharedScriptCase(
  "names the host trusts: a listener on an abstract unix name is refused (EPERM, both views), SO_REUSEPORT is refused in the supervised view without portRemap (EPERM), so the host's client and server connections stay the host's",
  SCRIPT,
  [RT20, "names"],
  (out) => {
    const msg = JSON.stringify(out);
    for (const view of VIEWS) {
      assert.equal(out[view].abstract.procView, view, msg);
      // The supervised view refuses the bind already (abstract-names.test); the kernel
      // view, with a network namespace of its own, the listen.
      if (view === "supervised") assert.equal(out[view].abstract.got.abstract_bind, "EPERM", `${view}: ${msg}`);
      else assert.equal(out[view].abstract.got.abstract_listen, "EPERM", `${view}: ${msg}`);
      assert.notEqual(out[view].abstract.reached, "sandbox", `${view}: a host client of the abstract name reached the sandbox: ${msg}`);
    }
    // With netAllowBind naming the port a host server of the uid shares with SO_REUSEPORT:
    // the option is refused, so the bind meets the host's socket (EADDRINUSE).
    assert.deepEqual(out["tcp-bind"].got, { reuseport: "EPERM", tcp_bind: "EADDRINUSE" }, msg);
    assert.deepEqual(out["tcp-nobind"].got, { reuseport: "EPERM", tcp_bind: "EACCES" }, msg);
  },
);

scriptCase(
  "an abstract name bound by a racing thread between the supervisor's look and its listen is undone: 0 listens on the name in 1.5 s of races (both views; the supervised view refuses the binds themselves)",
  SCRIPT,
  [RT20, "abstract-race"],
  (out) => {
    const msg = JSON.stringify(out);
    for (const view of VIEWS) {
      assert.equal(out[view].procView, view, msg);
      // (In the supervised view each bind is a round trip to the supervisor, which the two
      // spinning threads leave little CPU: about 200 rounds.)
      assert.ok(out[view].tries > (view === "supervised" ? 100 : 1000), `${view}: the race ran: ${msg}`);
      if (view === "supervised") assert.equal(out[view].bindRefused, out[view].tries, `${view}: every bind refused: ${msg}`);
      else assert.ok(out[view].refused > 0, `${view}: binds won the race to the look: ${msg}`);
      assert.equal(out[view].wins, 0, `${view}: ${msg}`);
    }
  },
);

sharedScriptCase(
  "fixed: under a UDP allowance a sandbox binds only the UDP ports netAllowBind lists (EACCES), and a socket bound past the check by racing a descriptor number receives nothing (supervised view)",
  SCRIPT,
  [RT20, "names"],
  (out) => {
    const msg = JSON.stringify(out);
    const s = out.supervised;
    // Before: the bind worked and the host's datagram was answered "sandbox".
    assert.equal(s.udpAllowed?.got.udp_bind, "EACCES", `a port netAllowBind does not list: ${msg}`);
    assert.notEqual(s.udpAllowed?.reached, "sandbox", msg);
    // Control: a listed port receives (its answer meets the egress rules: refused).
    assert.equal(s.udpListed?.got.udp_bind, "ok", msg);
    assert.equal(s.udpListed?.got.udp_received, "1", `a listed port receives: ${msg}`);
    // The race: a bind continued for a unix socket whose number then named the UDP socket
    // binds it past the check; the socket's filter drops what comes to that port.
    const race = s.udpRace?.got ?? {};
    assert.match(race.udp_race ?? "", /^tries \d+ won (yes|no)$/, msg);
    assert.equal(race.udp_received, "0", `the raced socket received the host's datagram: ${msg}`);
    assert.notEqual(s.udpRace?.reached, "sandbox", msg);
  },
);

scriptCase("held: the blocklist keeps keys, POSIX queues, SysV, fanotify and user namespaces out (both views)", SCRIPT, [RT20, "battery"], (out) => {
  const msg = JSON.stringify(out);
  for (const view of VIEWS) {
    assert.equal(out[view].procView, view, msg);
    const g = out[view].got as Got;
    for (const k of ["add_key", "keyctl_join", "mq_open", "shmget", "msgget", "semget", "fanotify_init", "unshare_user", "clone_newuser"]) {
      assert.equal(g[k], "EPERM", `${view} ${k}: ${msg}`);
    }
    assert.match(g.clone3_newuser ?? "", /^(ENOSYS|EPERM)$/, msg);
  }
});
