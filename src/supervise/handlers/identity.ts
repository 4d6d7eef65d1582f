// The sandbox's identity and CPU count (SPEC 4.4): uname's node name is the sandbox name,
// sched_getaffinity shows numCpus CPUs, and the virtual files the grants reach (hostname,
// cpuinfo, CPU lists, meminfo under maxMemory, the /proc files naming host processes) are
// sealed memfds. sethostname stays on the blocklist.

import { readFileSync } from "node:fs";
import { native } from "../../confine/native.js";
import type { ViewSpec, VirtualKind } from "../../plan/view.js";
import { deny, returnValue } from "../action.js";
import type { Handler, HandlerTable, SupervisorContext } from "../handler.js";
import { O, readOpen } from "../paths.js";
import { cpuListText, hostnameText, trimCpuinfo } from "../virtual-content.js";
import { unitCharge } from "./memory.js";
import { virtualMeminfo } from "./meminfo.js";
import { hostFileContent } from "./procfs-host.js";
import { seededRandom, type SeededRandom } from "./random.js";

const EACCES = 13;
const EEXIST = 17;
const EFAULT = 14;
const ENOTDIR = 20;
/** struct utsname: six fields of 65 bytes; nodename is the second. */
const UTS_FIELD = 65;

function utsname(name: string): Buffer {
  const uts = native().uname();
  uts.fill(0, UTS_FIELD, 2 * UTS_FIELD);
  uts.write(name, UTS_FIELD, UTS_FIELD - 1, "utf8");
  return uts;
}

export function identityHandlers(view: ViewSpec, ctx: SupervisorContext): HandlerTable {
  const table: Record<string, Handler> = {};
  const hostname = view.hostname;
  if (hostname !== undefined) {
    let uts: Buffer | undefined;
    // Nothing the caller can change matters after the write: the answer is our bytes,
    // written into the buffer it handed over while it is still blocked in the call.
    table.uname = (n) => {
      uts ??= utsname(hostname);
      if (!ctx.memory.stillValid(n) || !ctx.memory.write(n, n.argAddr(0), uts)) return deny(EFAULT);
      return returnValue(0);
    };
  }
  const numCpus = view.numCpus;
  if (numCpus !== undefined) {
    table.sched_getaffinity = (n) => {
      // The real call on the same thread and length gives the kernel's exact answer (its
      // mask size, or EINVAL/ESRCH); only the mask's bits are ours. numCpus never exceeds
      // the host's CPUs (plan/features.ts), so the mask size always holds them.
      const pid = n.argI32(0);
      const size = native().schedGetaffinity(pid === 0 ? n.pid : pid, n.argU32(1));
      if (size < 0) return deny(-size);
      const mask = Buffer.alloc(size);
      for (let i = 0; i < numCpus && i < size * 8; i++) mask[i >> 3]! |= 1 << (i & 7);
      if (!ctx.memory.stillValid(n) || !ctx.memory.write(n, n.argAddr(2), mask)) return deny(EFAULT);
      return returnValue(size);
    };
  }
  const random = view.randomSeed === undefined ? undefined : seededRandom(view.randomSeed, ctx);
  if (random !== undefined) Object.assign(table, random.handlers);
  if (view.files.length > 0) {
    const open = virtualFileHandler(view, ctx, random);
    for (const name of ["open", "openat", "openat2", "creat"]) table[name] = open;
  }
  return table;
}

/** How old a pass over the host's /proc the figures of a /proc/meminfo open may share (see
 * processTree): an open in a loop would otherwise cost the supervisor a pass over every
 * process of the host each time (1.2 ms with 93 processes here, 35 ms with 2,074: the twelfth
 * review). A process made since is missing from the figures for that long; they inform, and
 * the cap itself is kept by the memory handlers (memory.ts), not by what they show. */
const MEMINFO_TREE_AGE_MS = 100;

function virtualFileHandler(view: ViewSpec, ctx: SupervisorContext, random: SeededRandom | undefined): Handler {
  const kinds = new Map(view.files.map((f) => [f.path, f.kind]));
  let cpuinfo: string | undefined;
  const content = (kind: VirtualKind, path: string, caller: number): string => {
    if (kind === "locks" || kind === "sysvipc") return hostFileContent(kind, path, ctx.launcherPid);
    if (kind === "hostname") return hostnameText(view.hostname!);
    if (kind === "cpulist") return cpuListText(view.numCpus!);
    if (kind === "meminfo") {
      return virtualMeminfo(readFileSync("/proc/meminfo", "latin1"), view.memoryCap!, BigInt(unitCharge(ctx.launcherPid, ctx.forkParent(), caller, MEMINFO_TREE_AGE_MS)));
    }
    return (cpuinfo ??= trimCpuinfo(readFileSync("/proc/cpuinfo", "latin1"), view.numCpus!));
  };
  // Served from the supervisor's copy of the path, so this open cannot be redirected. A
  // racing rewrite of some other path that we let continue cannot reach the real file
  // either: Landlock has no rule on it (plan/carve.ts), unless a writable grant covers it.
  return (n) => {
    const req = readOpen(n, ctx.memory);
    if (req === null || req.target.kind !== "path") return undefined;
    const kind = kinds.get(req.target.path);
    if (kind === undefined || (req.flags & O.PATH) !== 0) return undefined;
    if (req.target.trailingSlash || (req.flags & O.DIRECTORY) !== 0) return deny(ENOTDIR);
    if ((req.flags & (O.CREAT | O.EXCL)) === (O.CREAT | O.EXCL)) return deny(EEXIST);
    // Read-only: writing the host's hostname would be sethostname by another name (and
    // entropy written to a seeded device would go nowhere).
    if ((req.flags & O.ACCMODE) !== 0 || (req.flags & O.TRUNC) !== 0) return deny(EACCES);
    // A seeded random device: a pipe, blocking (O_NONBLOCK is not carried over: it would
    // only ever say EAGAIN between two refills, which the real device never does).
    if (kind === "random") {
      const fd = random!.openDevice();
      return fd < 0 ? deny(-fd) : { kind: "inject", fd, cloexec: (req.flags & O.CLOEXEC) !== 0, close: true };
    }
    const fd = native().memfdReadonly(`sandlock-${kind}`, Buffer.from(content(kind, req.target.path, n.pid), "latin1"));
    return { kind: "inject", fd, cloexec: (req.flags & O.CLOEXEC) !== 0, close: true };
  };
}
