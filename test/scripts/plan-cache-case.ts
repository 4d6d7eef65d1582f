// The plan cache against a host that changes under it: one policy object run again and
// again while the path it grants changes between runs. As root, in a directory only root
// can change, the grant is a symlink swapped between a directory, another one, /proc and
// nothing (links there are followed). In /tmp, where others can write, a link is never
// followed: a grant that is a directory, then a link, then a directory again, is refused
// while it is a link (never served from the directory's plan). Prints one JSON line.
// Usage: plan-cache-case.js

import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Sandbox } from "../../src/index.js";
import { planCacheStats } from "../../src/plan/cache.js";

const SYSTEM = ["/usr", "/lib", "/lib64", "/bin", "/etc"].filter((p) => existsSync(p));

function dirs(base: string): [string, string] {
  chmodSync(base, 0o755);
  return ["a", "b"].map((d) => {
    const p = join(base, d);
    mkdirSync(p);
    writeFileSync(join(p, `in-${d}`), d);
    return p;
  }) as [string, string];
}

async function list(policy: object, path: string): Promise<{ listed?: string[]; error?: string; misses: number; hits: number }> {
  const before = { ...planCacheStats };
  try {
    const r = await Sandbox.run(policy, ["/bin/ls", "-1", `${path}/`]);
    return { listed: r.stdout!.toString().split("\n").filter((x) => x !== ""), misses: planCacheStats.misses - before.misses, hits: planCacheStats.hits - before.hits };
  } catch (e) {
    return { error: `${(e as Error).name}: ${(e as Error).message}`, misses: planCacheStats.misses - before.misses, hits: planCacheStats.hits - before.hits };
  }
}

/** Root only: a link in a directory only root can change, swapped between runs. */
async function trustedLinks(): Promise<Record<string, unknown>> {
  const base = mkdtempSync("/run/sandlock-plancache-");
  const out: Record<string, unknown> = {};
  try {
    const [A, B] = dirs(base);
    const link = join(base, "link");
    const point = (to: string): void => {
      if (readdirSync(base).includes("link")) unlinkSync(link);
      symlinkSync(to, link);
    };
    // One plain object for every run: the cache keys on its content, never on its identity.
    const policy = { fsReadable: [...SYSTEM, link] };
    point(A);
    out.first = await list(policy, link);
    out.again = await list(policy, link);
    point(B);
    out.swapped = await list(policy, link);
    point("/proc");
    out.proc = await list(policy, link);
    // The control: unconfined, the same path lists this process's pid.
    out.procUnsandboxed = readdirSync(`${link}/`).includes(String(process.pid));
    out.pid = String(process.pid);
    point(join(base, "nothing-here"));
    out.gone = await list(policy, link);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
  return out;
}

/** Anyone: in /tmp a granted directory becomes a link, then a directory again. */
async function untrustedLink(): Promise<Record<string, unknown>> {
  const base = mkdtempSync("/tmp/sandlock-plancache-");
  const out: Record<string, unknown> = {};
  try {
    const [A, B] = dirs(base);
    const path = join(base, "grant");
    const policy = { fsReadable: [...SYSTEM, path] };
    renameSync(A, path);
    out.dir = await list(policy, path);
    out.dirAgain = await list(policy, path);
    renameSync(path, A);
    symlinkSync(B, path);
    out.link = await list(policy, path);
    out.linkAgain = await list(policy, path);
    unlinkSync(path);
    renameSync(A, path);
    out.dirBack = await list(policy, path);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
  return out;
}

const out: Record<string, unknown> = { untrusted: await untrustedLink() };
if (process.getuid!() === 0) out.trusted = await trustedLinks();
console.log(JSON.stringify(out));
