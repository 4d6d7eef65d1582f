// The supervisor's native fast path (native/fastpath.c, src/supervise/fast-path.ts): with
// /proc granted, opens outside procfs and listings of other directories are answered
// without JavaScript, while /proc's own files still reach the TypeScript handlers.
// (The races against it are in procfs.test.ts and identity.test.ts.)

import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { Sandbox } from "../../src/index.js";
import { procfsMounts } from "../../src/kernel/mounts.js";
import { Policy } from "../../src/policy/index.js";
import { computeFeatures } from "../../src/plan/features.js";
import { fastPathSpec } from "../../src/supervise/fast-path.js";

const SYSTEM = ["/usr", "/lib", "/lib64", "/bin"].filter((p) => existsSync(p));

// The fast path is the supervised view's: the kernel view traps no open at all
// (docs/kernel-view.md), so these cases pick the supervised view explicitly.
process.env.SANDLOCK_KERNEL_VIEW = "0";

interface Counts {
  fast: number;
  js: number;
}

/** Runs sh -c script in a sandbox with /proc granted; the supervisor's counts are read
 * once the script has said it is done, while it waits for its stdin to close (the
 * supervisor closes with the run). The shell's `read` is a builtin: it opens nothing; at
 * the end of its input it fails, hence `|| true`. */
async function counts(script: string): Promise<{ counts: Counts; stdout: string }> {
  const sb = new Sandbox({ fsReadable: [...SYSTEM, "/proc"] });
  await sb.spawn(["/bin/sh", "-c", `${script}; echo sl-done; read x || true`], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
  let said = "";
  sb.stdout!.on("data", (d: Buffer) => (said += d.toString()));
  for (const end = Date.now() + 20_000; !said.includes("sl-done\n"); await new Promise((r) => setTimeout(r, 10))) {
    if (Date.now() > end) throw new Error(`the script did not finish within 20 s: ${said}`);
  }
  const sup = (sb as unknown as { supervisor: { fastAnswered: number; stats: { notifications: number } } }).supervisor;
  const c = { fast: sup.fastAnswered, js: sup.stats.notifications };
  sb.stdin!.end();
  const r = await sb.wait();
  assert.equal(r.exitCode, 0, r.stderrText);
  return { counts: c, stdout: r.stdoutText };
}

test("with /proc granted, opens and listings outside procfs are answered by the fast path", async () => {
  const base = await counts("true");
  const r = await counts("cat /usr/include/stdio.h >&2; ls /usr");
  assert.match(r.stdout, /^bin$/m, "the listing reached the program");
  // cat and ls open their libraries and the file, and ls lists /usr: all outside procfs.
  assert.ok(r.counts.fast - base.counts.fast >= 4, `fast path answers: ${JSON.stringify(r.counts)} vs ${JSON.stringify(base.counts)}`);
});

test("control: opens of the sandbox's own /proc files still reach the TypeScript handlers", async () => {
  const base = await counts("true");
  const r = await counts("cat /proc/self/status; cat /proc/self/status; cat /proc/self/status");
  assert.match(r.stdout, /^Name:\s+cat$/m);
  assert.ok(r.counts.js - base.counts.js >= 3, `handler notifications: ${JSON.stringify(r.counts)} vs ${JSON.stringify(base.counts)}`);
});

test("the fast path's lists come from the same spec as the handlers", () => {
  const host = { landlockAbi: 7, cpuCount: 2 };
  const plain = fastPathSpec(computeFeatures(new Policy({ fsReadable: ["/usr"] }), host).supervision);
  assert.deepEqual(plain.trees, procfsMounts(), "every procfs mount of the host is a tree (paths.ts walks any of them)");
  assert.deepEqual(plain.exacts, []);
  assert.equal(plain.getdents, false, "no /proc view: getdents is not routed");
  const proc = fastPathSpec(computeFeatures(new Policy({ fsReadable: ["/usr", "/proc", "/etc"], name: "box", numCpus: 1, maxMemory: "64M" }), host).supervision);
  assert.equal(proc.getdents, true);
  assert.ok(proc.procDevs.length >= 1, "the /proc mount's device is listed for the filtered listings");
  for (const f of ["/etc/hostname", "/proc/cpuinfo", "/proc/meminfo", "/proc/sys/kernel/hostname", "/proc/locks"]) assert.ok(proc.exacts.includes(f), f);
  const hosts = fastPathSpec(computeFeatures(new Policy({ fsReadable: ["/usr"], netAllow: ["tcp://localhost:80"] }), host, new Map([["localhost", ["127.0.0.1"]]])).supervision);
  assert.ok(hosts.exacts.includes("/etc/hosts"), "host rules serve /etc/hosts");
});
