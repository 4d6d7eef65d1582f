// A sandbox that can write a workdir's real directory races the host-side commit of another
// sandbox's copy-on-write run: it replaces the commit's temporary files and the
// directories it creates with symbolic links to a file outside every grant. A commit that
// set a mode or times by path would follow the link and change that file (a win: the
// committing user, root included, chmods what the sandbox names). Prints one JSON line.
// Usage: commit-swap-case.js PROBE ROUNDS
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { dropWorkdirBranch, listWorkdirBranches, Sandbox } from "../../src/index.js";

const [probe, roundsArg] = process.argv.slice(2) as [string, string];
const rounds = Number(roundsArg);
const base = mkdtempSync("/tmp/sandlock-cswap-");
const work = join(base, "w"), outside = join(base, "outside"), ctl = join(base, "ctl"), storage = join(base, "branches");
for (const d of [work, outside, ctl]) mkdirSync(d);
const victim = join(outside, "victim");
writeFileSync(victim, "not yours\n", { mode: 0o600 });
const SYSTEM = ["/usr", "/lib", "/lib64", "/bin"];
const mode = (): number => lstatSync(victim).mode & 0o7777;

// Control: a chmod by path through a link in the workdir changes the victim, and the check
// below sees it (so a commit that did the same would be counted).
symlinkSync(victim, join(work, "ctl-link"));
chmodSync(join(work, "ctl-link"), 0o640);
const control = mode().toString(8);
chmodSync(victim, 0o600);
unlinkSync(join(work, "ctl-link"));

const racer = Sandbox.run({ fsReadable: [...SYSTEM, probe, ctl], fsWritable: [work] }, [probe, "red3-commit-swap", work, victim, join(ctl, "stop"), "240000"]);
const big = Buffer.alloc(2 << 20, 0x61);
let wins = 0, committed = 0, refused = 0;
const errors: string[] = [];
for (let r = 0; r < rounds; r++) {
  // The racer renames entries meanwhile: this reset retries what a swap made fail.
  for (let k = 0; k < 50 && readdirSync(work).length > 0; k++) {
    for (const name of readdirSync(work)) {
      try {
        rmSync(join(work, name), { recursive: true, force: true });
      } catch {
        // swapped while being removed: the next pass takes it
      }
    }
  }
  for (let i = 0; i < 6; i++) writeFileSync(join(work, `f${i}`), big, { mode: 0o644 });
  try {
    const res = await Sandbox.run({ fsReadable: SYSTEM, workdir: work, fsStorage: storage, cwd: work }, ["/bin/sh", "-c", "chmod 777 f0 f1 f2 f3 f4 f5 && mkdir -m 777 d-1 d-2 d-3 d-4"]);
    if (res.workdir?.action === "committed") committed++;
    else errors.push(`exit ${res.exitCode} ${res.stderrText.slice(0, 200)}`);
  } catch (e) {
    refused++; // a commit that stopped at a swapped name (the branch is kept): not a win
    if (errors.length < 3) errors.push(String((e as Error).message).slice(0, 200));
  }
  if (mode() !== 0o600) {
    wins++;
    chmodSync(victim, 0o600);
  }
}
writeFileSync(join(ctl, "stop"), "");
const out = await racer;
const swaps = Number(/swaps (\d+)/.exec(out.stdoutText)?.[1] ?? -1);
if (swaps < 0) errors.push(`racer: exit ${out.exitCode} ${out.stdoutText} ${out.stderrText}`.slice(0, 300));
for (const b of listWorkdirBranches({ fsStorage: storage })) dropWorkdirBranch(b.id, { fsStorage: storage }); // kept ones (refused commits)
rmSync(base, { recursive: true, force: true });
console.log(JSON.stringify({ wins, swaps, committed, refused, control, errors }));
