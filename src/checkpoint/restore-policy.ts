// Whether a policy given to Sandbox.restore is within the checkpoint's saved policy: every
// grant inside one of the saved grants, every denial kept, limits lower or equal, and every
// other field the same. Refused with a CheckpointError naming the field otherwise.

import { CheckpointError } from "../errors.js";
import type { Policy } from "../policy/policy.js";

const refuse = (field: string, why: string): never => {
  throw new CheckpointError("CHECKPOINT_REFUSED", `restore: the policy given is wider than the checkpoint's: ${field} ${why}`);
};

/** path is dir or below it. */
export function within(path: string, dir: string): boolean {
  return path === dir || dir === "/" || path.startsWith(dir.endsWith("/") ? dir : `${dir}/`);
}

const json = (v: unknown): string => JSON.stringify(v, (_k, x: unknown) => (typeof x === "bigint" ? x.toString() : x));

/** Fields compared as whole values (a different value could widen the sandbox or change
 * what the image expects); the ones handled above and `name` are left out. */
const HANDLED = new Set([
  "fsReadable", "fsWritable", "fsDenied", "extraAllowSyscalls", "extraDenySyscalls", "netAllow", "netDeny",
  "netAllowBind", "netDenyBind", "maxMemory", "maxProcesses", "maxProcessesExplicit", "maxOpenFiles", "maxEpollWatches", "maxCpu", "maxDisk", "name", "policyFn",
]);

/** Throws CHECKPOINT_REFUSED naming the first field of `given` that is wider than `saved`. */
export function assertWithin(given: Policy, saved: Policy): void {
  for (const p of given.fsReadable) {
    if (![...saved.fsReadable, ...saved.fsWritable].some((d) => within(p, d))) refuse("fsReadable", `grants ${p}, which the saved policy does not`);
  }
  for (const p of given.fsWritable) if (!saved.fsWritable.some((d) => within(p, d))) refuse("fsWritable", `grants ${p}, which the saved policy does not grant writable`);
  for (const p of saved.fsDenied) if (!given.fsDenied.some((d) => within(p, d))) refuse("fsDenied", `no longer denies ${p}`);
  for (const s of given.extraAllowSyscalls) if (!saved.extraAllowSyscalls.includes(s)) refuse("extraAllowSyscalls", `allows ${s}, which the saved policy does not`);
  for (const s of saved.extraDenySyscalls) if (!given.extraDenySyscalls.includes(s)) refuse("extraDenySyscalls", `no longer denies ${s}`);
  const has = (list: readonly unknown[], v: unknown): boolean => list.some((x) => json(x) === json(v));
  for (const r of given.netAllow) if (!has(saved.netAllow, r)) refuse("netAllow", `has ${json(r)}, which the saved policy does not`);
  for (const r of saved.netDeny) if (!has(given.netDeny, r)) refuse("netDeny", `no longer has ${json(r)}`);
  for (const r of given.netAllowBind) if (!has(saved.netAllowBind, r)) refuse("netAllowBind", `has ${json(r)}, which the saved policy does not`);
  for (const r of saved.netDenyBind) if (!has(given.netDenyBind, r)) refuse("netDenyBind", `no longer has ${json(r)}`);
  const limit = (field: string, g: bigint | number | undefined, s: bigint | number | undefined): void => {
    if (s === undefined) return;
    if (g === undefined) refuse(field, `is unlimited, the saved policy's is ${s}`);
    else if (BigInt(g) > BigInt(s)) refuse(field, `${g} is above the saved policy's ${s}`);
  };
  limit("maxMemory", given.maxMemory, saved.maxMemory);
  limit("maxProcesses", given.maxProcesses, saved.maxProcesses);
  limit("maxOpenFiles", given.maxOpenFiles, saved.maxOpenFiles);
  limit("maxCpu", given.maxCpu, saved.maxCpu);
  // Unset is the host's default share, not unlimited: refused when the saved policy set one.
  const watches = given.maxEpollWatches;
  if (saved.maxEpollWatches !== undefined && (watches === undefined || watches > saved.maxEpollWatches)) {
    refuse("maxEpollWatches", watches === undefined ? `is unset (a quarter of fs.epoll.max_user_watches), the saved policy's is ${saved.maxEpollWatches}` : `${watches} is above the saved policy's ${saved.maxEpollWatches}`);
  }
  limit("maxDisk", given.maxDisk, saved.maxDisk);
  const g = given as unknown as Record<string, unknown>;
  const s = saved as unknown as Record<string, unknown>;
  for (const k of new Set([...Object.keys(g), ...Object.keys(s)])) {
    if (HANDLED.has(k)) continue;
    if (json(g[k]) !== json(s[k])) refuse(k, `is ${json(g[k]) ?? "unset"}, the saved policy's is ${json(s[k]) ?? "unset"} (only grants and limits may differ)`);
  }
  if (json(given.timeStart) !== json(saved.timeStart)) refuse("timeStart", "differs from the saved policy's");
}
