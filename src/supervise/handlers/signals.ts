// Signals on a kernel without Landlock's signal scope (ABI < 6): then nothing in the
// kernel keeps the sandbox from signalling the launcher, the supervisor or any process
// of the same user, so the filter routes every signal-sending call here. The sandbox's
// own processes and groups may be signalled; anything else gets EPERM, as the scope would.

import { closeSync } from "node:fs";
import { native } from "../../confine/native.js";
import { deny, returnValue, type Action } from "../action.js";
import type { HandlerTable, SupervisorContext } from "../handler.js";
import { Targets } from "../targets.js";
import { fdinfoOfKind } from "../../kernel/proc-text.js";

const EPERM = 1;
const EBADF = 9;
const ESRCH = 3;

/** The pid a pidfd of ours refers to: a number, -1 once it has exited, undefined when
 * the descriptor is not a pidfd. Its fdinfo is read only once the descriptor is known to
 * be a pidfd, and off the event loop (fdinfoOfKind; docs/security.md). */
function pidfdTarget(fd: number): Promise<number | undefined> | undefined {
  return fdinfoOfKind(fd, "anon_inode:[pidfd]")?.then((text) => {
    const m = text === undefined ? null : /^Pid:\s*(-?\d+)$/m.exec(text);
    return m ? Number(m[1]) : undefined;
  });
}

/**
 * kill, tkill, tgkill, rt_sigqueueinfo, rt_tgsigqueueinfo: the targets are registers, so
 * CONTINUE after the check is right (see reach.ts for pid reuse). kill(0) is the caller's
 * group, allowed when every member of it is the sandbox's; kill(-1) is every process the
 * user owns, the supervisor included: never.
 * pidfd_send_signal names its target by descriptor, which a sibling thread could replace
 * after a check: the supervisor sends the signal itself on a duplicate of the caller's
 * pidfd, so the process it checked is the one that gets it. Sending a siginfo or flags
 * (process-group signals) is refused on such kernels.
 */
export function signalHandlers(ctx: SupervisorContext): HandlerTable {
  const targets = new Targets(ctx.launcherPid);
  const both = (a: number, b: number): Action | undefined => targets.pid(a) ?? targets.pid(b);
  return {
    kill: (n) => {
      const pid = n.argI32(0);
      if (pid > 0) return targets.pid(pid);
      if (pid === 0) return targets.callerGroup(n);
      if (pid === -1) return deny(EPERM);
      return targets.group(-pid);
    },
    tkill: (n) => targets.pid(n.argI32(0)),
    tgkill: (n) => both(n.argI32(0), n.argI32(1)),
    rt_sigqueueinfo: (n) => targets.pid(n.argI32(0)),
    rt_tgsigqueueinfo: (n) => both(n.argI32(0), n.argI32(1)),
    pidfd_send_signal: (n) => {
      if (n.arg(2) !== 0n || n.argU32(3) !== 0) return deny(EPERM);
      const fd = native().threadGetfd(n.pid, n.argI32(0));
      if (fd < 0) return deny(-fd);
      const send = (pid: number | undefined): Action => {
        try {
          if (pid === undefined) return deny(EBADF);
          if (pid <= 0) return deny(ESRCH);
          // The duplicate names the process itself: if the pid was reused after the check,
          // the signal still goes to the process checked (or fails with ESRCH).
          if (!targets.ours(pid)) return deny(EPERM);
          const rc = native().pidfdSendSignal(fd, n.argI32(1));
          return rc < 0 ? deny(-rc) : returnValue(0);
        } finally {
          closeSync(fd);
        }
      };
      const target = pidfdTarget(fd);
      return target === undefined ? send(undefined) : target.then(send);
    },
  };
}
