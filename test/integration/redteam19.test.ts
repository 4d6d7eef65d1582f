// The nineteenth review (2026-12-06): the eighteenth review's fixes attacked, as root and as
// the test user (programs in test/fixtures/redteam19.c, cases in test/scripts/red19-case.ts).
//
// Fixed (the case below):
// - a watch on a granted directory reported what happens to the entries the policy withholds
//   in it. inotify_add_watch (and fcntl(F_NOTIFY), which nothing traps) on the directory that
//   holds a denied file (fsDenied) names that file at each open, read and write the host
//   makes, in both views: the cover is a mount in the sandbox's namespace, the events come
//   from the directory's inode, which the host's own lookups share. Under the supervised view
//   the supervisor's proof accepts a directory-only grant (the split of /proc, /dev, / that
//   gives only the right to list): a watch on /proc named the host pids whose directories
//   the host opened (and on /dev, /dev/pts: the host's device and terminal use).
//
// Held: the battery case (listen on a TCP socket whose port a connect chose, after shutdown
// or connect(AF_UNSPEC), over IPv4 and IPv6, and raced against a second thread's shutdown;
// watches of a directory outside every grant through an O_PATH descriptor's /proc/self/fd/N,
// /dev/fd/N, /proc/self/root, "..", a child's cwd, "." after chdir and fchdir; noHugePages
// against PR_SET_THP_DISABLE with PR_THP_DISABLE_EXCEPT_ADVISED, MADV_HUGEPAGE and
// MADV_COLLAPSE).

import assert from "node:assert/strict";
import { scriptCase } from "../helpers/harness.js";
import { buildStaged } from "../helpers/stage.js";

const SCRIPT = "dist/test/scripts/red19-case.js";

// The attack programs, built static into the staged package so the test user can run them.
buildStaged("redteam19.c", "sl-rt19");
const RT19 = "${STAGE}/sl-rt19";

type Got = Record<string, string>;
interface Watched {
  procView?: string;
  got: Got;
  dir: string[];
  proc: string[];
  dnotify: number;
}

scriptCase(
  "a watch on a granted directory tells nothing of the entries withheld there: a denied file (both views), the host's /proc/<pid> (supervised view); inotify and dnotify",
  SCRIPT,
  [RT19, "watches"],
  (out) => {
    const msg = JSON.stringify(out);
    const o = out as Record<string, Watched> & { victim: string };
    // Control: bare, the same program names the file the host uses and the host pid.
    assert.ok(o.bare.dir.includes("secret"), msg);
    assert.ok(o.bare.proc.includes(o.victim), msg);
    assert.ok(o.bare.dnotify > 0, msg);
    assert.equal(o.supervised.procView, "supervised", msg);
    assert.equal(o.kernel.procView, "kernel", msg);
    // Every view at once, so the message names each leak.
    const leaks = (["supervised", "kernel"] as const).flatMap((view) => {
      const c = o[view];
      return [
        ...(c.dir.includes("secret") ? [`${view}: inotify on the denied file's directory named it`] : []),
        ...(c.dnotify > 0 ? [`${view}: dnotify on the denied file's directory signalled ${c.dnotify} times`] : []),
        ...(c.proc.includes(o.victim) ? [`${view}: inotify on /proc named the host pid ${o.victim}`] : []),
      ];
    });
    assert.deepEqual(leaks, [], msg);
  },
);

scriptCase(
  "held: listen on a port a connect chose (shutdown, AF_UNSPEC, v4 and v6, raced), watches of a directory outside by other names, noHugePages",
  SCRIPT,
  [RT19, "battery"],
  (out) => {
    const msg = JSON.stringify(out);
    const l = out.listen as { procView: string; got: Got; pulled: string | null };
    assert.equal(l.procView, "supervised", msg);
    // The supervisor looks at getsockname, whose port stays the connect's after the socket
    // lost it; this kernel refuses a listen after a connect (EINVAL) whatever the look said.
    for (const name of ["shutdown_then_listen", "unspec_then_listen", "shutdown_then_listen6", "unspec_then_listen6"]) {
      assert.match(l.got[name] ?? "", /^(EINVAL|EACCES) /, `${name}: ${msg}`);
    }
    assert.match(l.got.race ?? "", /^none tries \d+/, msg);
    assert.ok(Number(/tries (\d+)/.exec(l.got.race ?? "")?.[1]) >= 100, `the race ran: ${msg}`);
    assert.ok(l.pulled === null || !l.pulled.includes("from-the-sandbox"), `a peer outside the sandbox read what it sent: ${msg}`);

    const s = (out["watchpaths-supervised"] as { procView: string; got: Got });
    assert.equal(s.procView, "supervised", msg);
    assert.equal(s.got.opath_open, "ok", `the O_PATH open Landlock lets through: ${msg}`);
    assert.equal(s.got.chdir, "ok", msg);
    for (const name of ["direct", "proc_self_fd", "proc_thread_self_fd", "proc_self_fd_dot", "proc_self_root", "dotdot", "child_cwd", "cwd_dot", "proc_self_cwd", "fchdir_dot"]) {
      assert.equal(s.got[name], "EACCES", `${name}: ${msg}`);
    }
    // A plain symlink leading to a magic link (/dev/fd -> /proc/self/fd): ELOOP (docs/security.md).
    assert.ok(["EACCES", "ELOOP"].includes(s.got.dev_fd ?? ""), msg);
    const k = (out["watchpaths-kernel"] as { procView: string; got: Got });
    assert.equal(k.procView, "kernel", msg);
    for (const name of ["direct", "opath_open", "proc_self_root", "dotdot", "child_cwd", "chdir"]) assert.equal(k.got[name], "ENOENT", `${name}: ${msg}`);

    const t = out.thp as { got: Got };
    assert.equal(t.got.get_thp_disable, "ok 1", msg);
    assert.equal(t.got.thp_disable_off, "EPERM", msg);
    assert.equal(t.got.thp_except_advised, "EPERM", msg);
    assert.equal(t.got.anon_huge_kb, "ok 0", msg);
  },
);
