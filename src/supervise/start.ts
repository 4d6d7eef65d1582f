// Builds the supervisor of one sandbox once its listener arrives: the context handlers
// share (child memory, the launcher's process count, kill) and the handler tables its
// supervision features call for.

import type { LauncherProcess } from "../confine/launcher.js";
import type { Supervision } from "../plan/features.js";
import type { LimitExceeded, Refusal as PublicRefusal } from "../result.js";
import { Cmd } from "../plan/protocol.js";
import { errnoName } from "../confine/errno.js";
import { ChildMemory } from "./child-memory.js";
import type { Observation, SupervisorContext } from "./handler.js";
import { dnsQuestion, type Observed } from "../learn/observed.js";
import type { PortMapping } from "./handlers/port-remap.js";
import { handlerTables } from "./handlers/index.js";
import { descendsFrom, killMember } from "./kill.js";
import { fastPathSpec } from "./fast-path.js";
import { Supervisor } from "./supervisor.js";
import type { DomainProxy } from "../proxy/proxy.js";
import { policyExec } from "./handlers/policy-exec.js";
import { policyNet } from "./handlers/policy-net.js";
import { PidNetwork } from "./pid-network.js";
import { callPolicyFn, policyContext, type DynamicNet } from "./policy-call.js";
import { DynamicFiles } from "./policy-files.js";
import { parentFromStat } from "./members.js";
import type { PolicyFn } from "../policy/policy-fn.js";
import { readProcText } from "../kernel/proc-text.js";
import { syscallName } from "../kernel/syscalls.js";

/** What the sandbox may change after the supervisor started. */
export interface SupervisorShared {
  /** Set when the sandbox's root becomes a fork group's zygote. */
  forkParent?: number;
  /** The first limit that killed a process of the sandbox. */
  limit?: LimitExceeded;
  /** Told when a limit killed a process of a fork group's clone (the clone's pid). */
  cloneLimit?: (clonePid: number, hit: LimitExceeded) => void;
  /** A fork group's pipes for its clones' outputs (two per clone alive or asked for). */
  clonePipes?: () => number;
  /** Told the pipes (inodes) the fork group received from the zygote (set by the supervisor). */
  pipesReceived?: (inodes: readonly number[]) => void;
  /** With maxCpu: milliseconds the supervisor spent on the sandbox's behalf and the CPU
   * throttle has not charged yet (undefined: nothing is measured). */
  supervisorMs?: number;
  /** Calls the supervisor refused, for the RunResult (the first MAX_REFUSED kinds). */
  refused?: Refusal[];
  /** Domain rules: the sandbox's filtering proxy (src/proxy). */
  proxy?: DomainProxy;
  /** portRemap: the ports the sandbox was given elsewhere on the host. */
  ports?: readonly PortMapping[];
  /** A learning run's record (sandlock learn): the recorder and the network fill it. */
  learned?: Observed;
  /** The policy's callback (SPEC 6), with supervision.policyExec. */
  policyFn?: PolicyFn;
}

/** A Refusal whose count still grows. */
type Refusal = { -readonly [K in keyof PublicRefusal]: PublicRefusal[K] };

/** Kinds of refusal kept per sandbox; later new ones are not listed (counts still grow). */
export const MAX_REFUSED = 50;

/** policyFnFiles: opens of one sandbox that may wait for the callback at once (each holds
 * its pins, up to two descriptors); the next gets ENFILE. */
export const FILE_EVENTS_WAITING = 256;
const ENFILE = 23;
const EPERM = 1;

function noteRefusal(list: Refusal[], o: Extract<Observation, { kind: "refused" }>): void {
  const same = list.find((r) => r.syscall === o.syscall && r.target === o.target && r.why === o.why);
  if (same !== undefined) same.count++;
  else if (list.length < MAX_REFUSED) list.push({ syscall: o.syscall, errno: errnoName(o.errno), target: o.target, why: o.why, count: 1 });
}

export function startSupervisor(listener: number, supervision: Supervision, launcher: LauncherProcess, shared: SupervisorShared = {}): Supervisor {
  const closers: (() => void)[] = [];
  const chargeCpu = (ms: number): void => {
    if (shared.supervisorMs !== undefined) shared.supervisorMs += ms;
  };
  const learned = shared.learned;
  const observe = (o: Observation): void => {
    if (o.kind === "refused") noteRefusal((shared.refused ??= []), o);
    if (learned === undefined) return;
    if (o.kind === "destination") learned.destination(o);
    else if (o.kind === "datagram") {
      const name = dnsQuestion(o.data);
      if (name !== undefined) learned.name(name);
    }
  };
  // The proxy's refusals are the sandbox's too (RunResult.refused), as ECONNRESET.
  // (DNS refusals are in RunResult.network only: they are answers, not failed calls.)
  if (shared.proxy !== undefined) {
    shared.proxy.onRefused = (target, why) => {
      if (target !== "dns") observe({ kind: "refused", syscall: "connect", errno: 104, target: `${target} over tcp`, why });
    };
  }
  const ctx: SupervisorContext = {
    observe,
    proxy: shared.proxy,
    portsChanged: (ports) => {
      shared.ports = ports;
    },
    memory: new ChildMemory(listener),
    countProcesses: () => launcher.command(Cmd.COUNT),
    // A pid from a /proc scan may be another process's by now: pinned, then checked (kill.ts).
    killProcess: (pid) => void killMember(pid, (p) => descendsFrom(p, launcher.pid)),
    launcherPid: launcher.pid,
    holdTraced: (interrupted, timeoutMs) => launcher.holdThreads(interrupted, timeoutMs),
    stageFd: launcher.stageFd,
    limits: {},
    forkParent: () => shared.forkParent,
    forkPipes: () => shared.clonePipes?.() ?? 0,
    onClose: (fn) => closers.push(fn),
    limitExceeded: (hit) => {
      shared.limit ??= hit;
    },
    cloneLimitExceeded: (unit, hit) => shared.cloneLimit?.(unit, hit),
    chargeCpu,
    clockOffsetNs: () => launcher.clockOffsetNs,
    // The supervisor is made below, before any notification can arrive.
    memoryCredit: {
      spent: () => supervisor.memoryCredit.spent(),
      settle: (grant) => supervisor.memoryCredit.settle(grant),
      revoke: () => supervisor.memoryCredit.revoke(),
    },
    // (the first fork is decided by the handlers, which grant the first credit)
    procsCredit: {
      grant: (n) => supervisor.procsCredit.grant(n),
      take: () => supervisor.procsCredit.take(),
    },
    threadsCredit: {
      grant: (n) => supervisor.threadsCredit.grant(n),
      take: () => supervisor.threadsCredit.take(),
    },
    epollCredit: {
      grant: (n) => supervisor.epollCredit.grant(n),
      take: () => supervisor.epollCredit.take(),
    },
    pipesCredit: {
      grant: (n) => supervisor.pipesCredit.grant(n),
      take: () => supervisor.pipesCredit.take(),
    },
    spliceThreads: {
      grant: (tid) => supervisor.spliceThreads.grant(tid),
      take: () => [],
    },
  };
  shared.pipesReceived = (inodes) => ctx.limits.pipesReceived?.(inodes);
  let pe: ReturnType<typeof policyExec> | undefined;
  if (supervision.policyExec !== undefined) {
    // Without the callback nothing can approve an exec: every one is refused, and an exec
    // stop without an approval is killed.
    const fn: PolicyFn = shared.policyFn ?? (() => "deny");
    const perPid = new PidNetwork(launcher.pid, (p) => descendsFrom(p, launcher.pid));
    const dyn: DynamicNet = { allowed: undefined, perPid };
    // policyFnFiles: the opens the supervisor performs are events (handlers/names-open.ts),
    // and ctx.denyPath/allowPath rules it applies to them (policy-files.ts).
    const files = supervision.names?.events === true ? new DynamicFiles() : undefined;
    const pctx = policyContext(dyn, ctx.limits, files);
    if (files !== undefined) {
      ctx.files = files;
      // Each open waiting for the verdict keeps its pins (descriptors of the supervising
      // process) for as long as the callback takes: at most FILE_EVENTS_WAITING of one
      // sandbox wait at once, the next gets ENFILE, as a held FIFO open beyond the hold
      // budget does (tenth review: the sends' and execs' bounds, the same for opens).
      let waiting = 0;
      ctx.gateFile = async (n, syscall, path, denied) => {
        if (waiting >= FILE_EVENTS_WAITING) {
          ctx.observe({ kind: "refused", syscall, errno: ENFILE, target: path, why: `the supervisor already holds ${FILE_EVENTS_WAITING} opens of this sandbox's waiting for policyFn` });
          return ENFILE;
        }
        waiting++;
        try {
          let parentPid = 0;
          try {
            parentPid = parentFromStat(readProcText(`/proc/${n.pid}/stat`)) ?? 0;
          } catch {
            // Gone: the verdict no longer matters.
          }
          const d = await callPolicyFn(fn, { syscall, category: "file", pid: n.pid, parentPid, path, denied }, pctx);
          if (d.allow) return undefined;
          ctx.observe({ kind: "refused", syscall, errno: d.errno, target: path, why: d.why });
          return d.errno;
        } finally {
          waiting--;
        }
      };
    }
    pe = policyExec(fn, supervision.policyExec.granted, ctx, pctx);
    const gates = policyNet(fn, dyn, ctx, pctx);
    // The explicit proxy names its destinations after the connect to it was allowed: the
    // narrowing in force then applies to them (proxy/session.ts, narrowedNow).
    if (shared.proxy !== undefined) {
      shared.proxy.narrow = (pid, host) =>
        dyn.allowed !== undefined && !dyn.allowed.has(host) ? "not allowed by policyFn's ctx.restrictNetwork"
          : dyn.perPid !== undefined && !dyn.perPid.allows(pid, host) ? "not allowed for this process by policyFn's ctx.restrictPidNetwork" : undefined;
    }
    ctx.gateConnect = (n, sock, copied) => gates.connect(n, sock, copied, "connect");
    ctx.gateSend = gates.send;
    ctx.gateBind = (n, sock, name) => gates.bind(n, sock, name, "bind");
    const verify = pe.verify;
    launcher.onExec = (pid, tid) => {
      // The first exec stop is the command's first process (pid-network.ts: not an orphan).
      perPid.sawRoot(pid);
      launcher.execVerdict(pid, verify(pid, tid));
    };
  }
  const tables = handlerTables(supervision, ctx, learned);
  if (pe !== undefined) tables.push(pe.handlers);
  const supervisor = new Supervisor(listener, tables, shared.supervisorMs === undefined ? undefined : chargeCpu, fastPathSpec(supervision));
  supervisor.onClose = () => {
    for (const fn of closers.splice(0)) fn();
  };
  // A handler that failed answered EPERM (fail closed): the run's refusals say so, and why,
  // where the caller otherwise saw a bare EPERM with no rule behind it.
  supervisor.onFailure = (nr, message) =>
    observe({ kind: "refused", syscall: syscallName(nr) ?? `syscall ${nr}`, errno: EPERM, target: "", why: `the supervisor failed to decide, so refused it: ${message.slice(0, 200)}` });
  return supervisor;
}
