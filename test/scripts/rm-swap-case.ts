// A sandbox with a copy-on-write workdir removes a real directory (rm -rf old); while the
// host commits that removal, a second sandbox that has the real workdir granted swaps
// old/sub, once its removal began, for a link to a host directory outside every grant
// holding entries of the same names. An rm -r that goes on by path removes those
// entries with the committing user's rights (a win). Prints one JSON line.
// Usage: rm-swap-case.js PROBE ROUNDS
import { mkdirSync, renameSync, mkdtempSync, readdirSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { dropWorkdirBranch, listWorkdirBranches, Sandbox } from "../../src/index.js";

const [probe, roundsArg] = process.argv.slice(2) as [string, string];
const rounds = Number(roundsArg);
const N = 300;
const base = mkdtempSync("/tmp/sandlock-rmswap-");
const work = join(base, "w"), victim = join(base, "outside", "keep"), ctl = join(base, "ctl"), storage = join(base, "branches");
for (const d of [work, victim, ctl]) mkdirSync(d, { recursive: true });
const SYSTEM = ["/usr", "/lib", "/lib64", "/bin"];
const fill = (dir: string): void => {
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < N; i++) writeFileSync(join(dir, `c${i}`), "x", { mode: 0o600 });
};
fill(victim);

// Control: removing by path through a link in the workdir removes the victim's entries,
// and the count below sees it.
symlinkSync(victim, join(work, "ctl-link"));
unlinkSync(join(work, "ctl-link", "c0"));
const control = readdirSync(victim).length;
unlinkSync(join(work, "ctl-link"));
fill(victim);

const racer = Sandbox.run({ fsReadable: [...SYSTEM, probe, ctl], fsWritable: [work] }, [probe, "red3-rm-swap", join(work, "old"), String(N), victim, join(ctl, "stop"), "300000"]);
let wins = 0, lost = 0, committed = 0, refused = 0;
const errors: string[] = [];
for (let r = 0; r < rounds; r++) {
  for (const name of readdirSync(work)) rmSync(join(work, name), { recursive: true, force: true });
  fill(join(work, "new", "sub")); // made aside, then moved in whole: the racer arms on a full sub
  renameSync(join(work, "new"), join(work, "old"));
  try {
    const res = await Sandbox.run({ fsReadable: SYSTEM, workdir: work, fsStorage: storage, cwd: work }, ["/bin/rm", "-rf", "old"]);
    if (res.workdir?.action === "committed") committed++;
    else if (errors.length < 3) errors.push(`exit ${res.exitCode} ${res.stderrText.slice(0, 200)}`);
  } catch (e) {
    refused++;
    if (errors.length < 3) errors.push(String((e as Error).message).slice(0, 200));
  }
  const left = readdirSync(victim).length;
  if (left < N) {
    wins++;
    lost += N - left;
    fill(victim);
  }
}
writeFileSync(join(ctl, "stop"), "");
const out = await racer;
const swaps = Number(/swaps (\d+)/.exec(out.stdoutText)?.[1] ?? -1);
if (swaps < 0) errors.push(`racer: exit ${out.exitCode} ${out.stderrText.slice(0, 200)}`);
for (const b of listWorkdirBranches({ fsStorage: storage })) dropWorkdirBranch(b.id, { fsStorage: storage }); // kept ones (refused commits)
rmSync(base, { recursive: true, force: true });
console.log(JSON.stringify({ wins, lost, swaps, committed, refused, control, errors }));
