// The plan cache against a host that changes under it: one policy object run again and
// again while the symlink it grants is swapped between runs (a directory, another one,
// /proc, nothing). Prints one JSON line with what each run saw and what the cache did.
// Usage: plan-cache-case.js

import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Sandbox } from "../../src/index.js";
import { planCacheStats } from "../../src/plan/cache.js";

const base = mkdtempSync("/tmp/sandlock-plancache-");
chmodSync(base, 0o755);
const [A, B] = ["a", "b"].map((d) => {
  const p = join(base, d);
  mkdirSync(p);
  writeFileSync(join(p, `in-${d}`), d);
  return p;
}) as [string, string];
const link = join(base, "link");
const point = (to: string): void => {
  if (existsSync(link) || readdirSync(base).includes("link")) unlinkSync(link);
  symlinkSync(to, link);
};
const SYSTEM = ["/usr", "/lib", "/lib64", "/bin", "/etc"].filter((p) => existsSync(p));
// One plain object for every run: the cache keys on its content, never on its identity.
const policy = { fsReadable: [...SYSTEM, link] };

async function list(): Promise<{ listed?: string[]; error?: string; misses: number; hits: number }> {
  const before = { ...planCacheStats };
  try {
    const r = await Sandbox.run(policy, ["/bin/ls", "-1", `${link}/`]);
    return { listed: r.stdout!.toString().split("\n").filter((x) => x !== ""), misses: planCacheStats.misses - before.misses, hits: planCacheStats.hits - before.hits };
  } catch (e) {
    return { error: `${(e as Error).name}: ${(e as Error).message}`, misses: planCacheStats.misses - before.misses, hits: planCacheStats.hits - before.hits };
  }
}

const out: Record<string, unknown> = {};
try {
  point(A);
  out.first = await list();
  out.again = await list();
  point(B);
  out.swapped = await list();
  point("/proc");
  out.proc = await list();
  // The control: unconfined, the same path lists this process's pid.
  out.procUnsandboxed = readdirSync(`${link}/`).includes(String(process.pid));
  out.pid = String(process.pid);
  point(join(base, "nothing-here"));
  out.gone = await list();
} finally {
  rmSync(base, { recursive: true, force: true });
}
console.log(JSON.stringify(out));
