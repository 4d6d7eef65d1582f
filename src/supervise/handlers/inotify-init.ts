// inotify_init and inotify_init1 under the supervised view (the twentieth review). The
// kernel counts inotify instances and watches per user, at each level of user namespaces,
// and charges them to the namespace of the process that made the instance; a sandbox of
// this view shares its caller's, so it could hold every instance (128 here) and every
// watch (192,540) of the uid, whose editors and watchers then got EMFILE and ENOSPC until
// it ended. The kernel view sets lower limits in the sandbox's own user namespace
// (plan/kernel-view.ts); this view has none, so a broker does it: a process of the
// launcher binary (native/launcher/broker.c) started at the sandbox's first inotify_init,
// in a user namespace of its own whose limits are half of the caller's. It makes each
// instance the sandbox asks for and the supervisor hands it in (ADDFD): the sandbox's
// instances, and every watch added to them (the supervisor adds those: watches.ts), are
// charged to the broker's namespace and stop at its limits, whoever holds them later
// (passed on, kept in a socket's queue), and the uid's processes outside keep the rest.
//
// The decision rests on nothing of the caller's memory or descriptors: the flags are a
// register, passed to the broker's inotify_init1 as they are (unknown bits get EINVAL from
// the kernel, IN_NONBLOCK is the file's own flag), IN_CLOEXEC becomes the injected
// descriptor's. Where no broker can start (user namespaces refused to this user), the
// call goes to the kernel as before (docs/security.md, Known limits).

import { closeSync } from "node:fs";
import { launcherPath, native } from "../../confine/native.js";
import { sandboxUserLimits } from "../../plan/kernel-view.js";
import { CONTINUE, deny, type Action } from "../action.js";
import type { SupervisorContext } from "../handler.js";
import type { Notification } from "../notification.js";

const IN_CLOEXEC = 0o2000000;
const EMFILE = 24;
const ENOMEM = 12;
/** What inotify_init1 itself can answer: EINVAL, EMFILE, ENFILE, ENOMEM. */
const KERNEL_ERRNOS = new Set([22, EMFILE, 23, ENOMEM]);

/** One sandbox's broker: started at its first inotify_init, ended with the sandbox. */
export class InotifyBroker {
  private state: { pid: number; pidfd: number; sock: number } | "none" | number = "none";

  constructor(private readonly ctx: SupervisorContext) {}

  /** The broker's socket, started now if need be; a number: it cannot run (-errno). */
  private socket(): number | { sock: number } {
    if (typeof this.state === "object") return { sock: this.state.sock };
    if (typeof this.state === "number") return this.state;
    const limits = new Map(sandboxUserLimits());
    const instances = limits.get("max_inotify_instances");
    const watches = limits.get("max_inotify_watches");
    if (instances === undefined || watches === undefined) return (this.state = -EMFILE);
    const got = native().spawnInotifyBroker(launcherPath(), instances, watches);
    if (typeof got === "number") return (this.state = got);
    const [pid, pidfd, sock] = got;
    this.state = { pid, pidfd, sock };
    this.ctx.onClose(() => this.close());
    return { sock };
  }

  /** Ends the broker: EOF on its socket, then reaped through its pidfd once it exits. */
  close(): void {
    const s = this.state;
    if (typeof s !== "object") return;
    this.state = "none";
    closeSync(s.sock);
    const n = native();
    const handle: object = n.pollFd(s.pidfd, () => {
      if (n.waitPidfd(s.pidfd) === null) return;
      n.pollClose(handle);
      closeSync(s.pidfd);
    });
    // (A broker left alone never outlives its socket: it reads EOF and exits.)
    n.pollRef(handle, false);
  }

  /** inotify_init (no flags) and inotify_init1(flags). */
  handler(withFlags: boolean): (n: Notification) => Action {
    return (n) => {
      const flags = withFlags ? n.argU32(0) : 0;
      const s = this.socket();
      // No broker here: the kernel makes the instance, as before (docs/security.md).
      if (typeof s === "number") return CONTINUE;
      const fd = native().brokerInotify(s.sock, flags);
      // The kernel's own errno (EMFILE past the broker's limit, EINVAL, ENFILE, ENOMEM), or
      // a broker that stopped answering: ENOMEM, as a kernel short of memory answers.
      if (fd < 0) return deny(KERNEL_ERRNOS.has(-fd) ? -fd : ENOMEM);
      return { kind: "inject", fd, cloexec: (flags & IN_CLOEXEC) !== 0, close: true };
    };
  }
}
