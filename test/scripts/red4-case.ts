// The fifth security review's host-side cases (test/integration/redteam4.test.ts): what the
// unconfined host does for a sandbox by path in a directory the sandbox can write, and the
// files that make git run code later. Prints one JSON line.
// Usage: red4-case.js PROBE checkpoint ROUNDS | git-commondir | git-redirect

import { execFileSync } from "node:child_process";
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Sandbox } from "../../src/index.js";

const probe = process.argv[2]!;
const part = process.argv[3]!;
const base = mkdtempSync("/tmp/sandlock-red4-");
chmodSync(base, 0o755);
const system = ["/usr", "/bin", "/lib", "/lib64", "/etc"];

/**
 * A checkpoint saved into a directory the sandbox can write, while the sandbox (resumed
 * after the capture) swaps the save's temporary directory for a link to a directory it
 * cannot write. Before the fix the host wrote the checkpoint's files through the link.
 */
async function checkpoint(rounds: number): Promise<object> {
  const grant = join(base, "g"), outside = join(base, "outside");
  mkdirSync(grant);
  mkdirSync(outside);
  const sb = new Sandbox({ fsReadable: [probe], fsWritable: [grant] });
  await sb.spawn([probe, "red4-dir-swap", grant, ".cp", outside, String(2000 + rounds * 400)]);
  let saved = 0, wins = 0;
  const errors: string[] = [];
  for (let i = 0; i < rounds; i++) {
    try {
      const cp = await sb.checkpoint();
      await cp.save(join(grant, `cp${i}`));
      saved++;
    } catch (e) {
      errors.push((e as Error).message);
    }
    wins += readdirSync(outside).length;
    rmSync(outside, { recursive: true, force: true });
    mkdirSync(outside);
  }
  const r = await sb.wait();
  // The control: a checkpoint saved where no racer runs is complete and loads.
  const quiet = join(base, "quiet");
  mkdirSync(quiet);
  const sb2 = new Sandbox({ fsReadable: [probe], fsWritable: [quiet] });
  await sb2.spawn([probe, "sleep", "5"]);
  const cp2 = await sb2.checkpoint();
  await cp2.save(join(quiet, "cp"));
  await sb2.kill("SIGKILL");
  await sb2.wait();
  const { Checkpoint } = await import("../../src/index.js");
  const loaded = (await Checkpoint.load(join(quiet, "cp"))).processes.length;
  return { swaps: Number(/swaps (\d+)/.exec(r.stdoutText)?.[1] ?? -1), out: r.stdoutText.trim(), saved, wins, errors: [...new Set(errors.map((m) => m.replace(/cp\d+/g, "cpN").replace(/red4-[A-Za-z0-9]{6}/g, "red4-X").replace(/\.tmp-[0-9a-f]+/g, ".tmp-X")))], controlLoaded: loaded };
}

const parts: Record<string, () => Promise<unknown>> = {
  checkpoint: () => checkpoint(Number(process.argv[4] ?? "20")),
};
try {
  console.log(JSON.stringify(await parts[part]!()));
} finally {
  rmSync(base, { recursive: true, force: true });
}
