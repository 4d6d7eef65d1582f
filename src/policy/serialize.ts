// PolicyFields -> PolicyJSON: the input form with JSON types only, listing just the fields
// that differ from their defaults. Feeding it back through validation gives an equal policy.

import { formatBindSpec } from "./bind-spec.js";
import type { PolicyFields, PolicyJSON } from "./types.js";

/**
 * Byte sizes and the seed are decimal strings (exact beyond 2^53), timeStart is an ISO
 * string in UTC, net rules are their raw text. policyFn is left out: a function has no
 * JSON form. maxProcesses is written whenever it was given, even when it equals 64, so
 * the round trip keeps maxProcessesExplicit.
 */
export function policyToJSON(p: PolicyFields): PolicyJSON {
  const out: PolicyJSON = {};
  const list = <T>(xs: readonly T[]): T[] | undefined => (xs.length > 0 ? [...xs] : undefined);
  const flag = (on: boolean): true | undefined => (on ? true : undefined);
  const record = (r: Readonly<Record<string, string>>): Record<string, string> | undefined =>
    Object.keys(r).length > 0 ? { ...r } : undefined;

  out.fsReadable = list(p.fsReadable);
  out.fsWritable = list(p.fsWritable);
  out.fsDenied = list(p.fsDenied);
  out.extraDenySyscalls = list(p.extraDenySyscalls);
  out.extraAllowSyscalls = list(p.extraAllowSyscalls);
  out.netAllow = list(p.netAllow.map((r) => r.raw));
  out.netDeny = list(p.netDeny.map((r) => r.raw));
  out.netAllowBind = list(p.netAllowBind.map(formatBindSpec));
  out.netDenyBind = list(p.netDenyBind.map(formatBindSpec));
  out.maxMemory = p.maxMemory?.toString();
  out.maxProcesses = p.maxProcessesExplicit ? p.maxProcesses : undefined;
  out.maxOpenFiles = p.maxOpenFiles;
  out.maxEpollWatches = p.maxEpollWatches;
  out.maxCpu = p.maxCpu;
  out.cpuCores = p.cpuCores === undefined ? undefined : [...p.cpuCores];
  out.numCpus = p.numCpus;
  out.randomSeed = p.randomSeed?.toString();
  out.timeStart = p.timeStart?.toISOString();
  out.deterministicDirs = flag(p.deterministicDirs);
  out.noRandomizeMemory = flag(p.noRandomizeMemory);
  out.noHugePages = flag(p.noHugePages);
  out.noCoredump = flag(p.noCoredump);
  out.name = p.name;
  out.workdir = p.workdir;
  out.cwd = p.cwd;
  out.fsStorage = p.fsStorage;
  out.maxDisk = p.maxDisk?.toString();
  out.onExit = p.onExit !== "commit" ? p.onExit : undefined;
  out.onError = p.onError !== "abort" ? p.onError : undefined;
  out.chroot = p.chroot;
  out.fsMount = record(p.fsMount);
  out.cleanEnv = flag(p.cleanEnv);
  out.env = record(p.env);
  out.user = p.user === undefined ? undefined : { uid: p.user.uid, gid: p.user.gid };
  out.gpuDevices = p.gpuDevices === undefined || p.gpuDevices === "all" ? p.gpuDevices : [...p.gpuDevices];
  out.portRemap = flag(p.portRemap);
  out.privateTmp = flag(p.privateTmp);
  out.protectedFiles = flag(p.protectedFiles);
  const { allowDegraded, disable } = p.protection;
  if (allowDegraded.length > 0 || disable.length > 0) {
    out.protection = {};
    if (allowDegraded.length > 0) out.protection.allowDegraded = [...allowDegraded];
    if (disable.length > 0) out.protection.disable = [...disable];
  }
  if (!p.supervisor) out.supervisor = false;
  out.procView = p.procView;
  for (const key of Object.keys(out) as (keyof PolicyJSON)[]) {
    if (out[key] === undefined) delete out[key];
  }
  return out;
}
