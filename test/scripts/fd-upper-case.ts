// A sandbox with a copy-on-write workdir passes a descriptor of it (SCM_RIGHTS over a named
// unix socket in a shared grant) to a second sandbox that has the real workdir granted;
// that descriptor keeps the overlay usable after the first sandbox ended, so while the
// host commits, the second one turns the staged file "f" into a link to a host file
// outside every grant and back. A commit that copied "f" by a path that follows links
// would write the host file's bytes into the workdir, where the second sandbox reads
// them (a win). Prints one JSON line. Usage: fd-upper-case.js PROBE ROUNDS [QUOTA]
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { dropWorkdirBranch, listWorkdirBranches, Sandbox } from "../../src/index.js";

const [probe, roundsArg, quota] = process.argv.slice(2) as [string, string, string | undefined];
const rounds = Number(roundsArg);
const base = mkdtempSync("/tmp/sandlock-fdup-");
const work = join(base, "w"), outside = join(base, "outside"), ctl = join(base, "ctl"), sock = join(base, "sock"), storage = join(base, "branches");
for (const d of [work, outside, ctl, sock]) mkdirSync(d);
const secret = join(outside, "secret");
writeFileSync(secret, "SECRET-BYTES\n", { mode: 0o600 });
const SYSTEM = ["/usr", "/lib", "/lib64", "/bin"];
const leaked = (): boolean => {
  const st = lstatSync(join(work, "f"), { throwIfNoEntry: false });
  return st !== undefined && st.isFile() && readFileSync(join(work, "f"), "utf8").includes("SECRET");
};

// Control: the same file, staged by the first sandbox as a copy of a file it may read,
// does reach the workdir through the commit, and the check sees it.
const c = await Sandbox.run({ fsReadable: [...SYSTEM, outside], workdir: work, fsStorage: storage, cwd: work }, ["/bin/cp", secret, "f"]);
const control = c.workdir?.action === "committed" && leaked();
rmSync(join(work, "f"), { force: true });

let wins = 0, got = 0, cycles = 0, denied = 0, committed = 0, failed = 0;
const errors: string[] = [];
for (let r = 0; r < rounds; r++) {
  for (const name of readdirSync(work)) rmSync(join(work, name), { recursive: true, force: true });
  const at = join(sock, `s${r}`), stop = join(ctl, `stop${r}`);
  const holder = Sandbox.run({ fsReadable: [...SYSTEM, probe, ctl], fsWritable: [work, sock] }, [probe, "red3-hold-swap", at, secret, stop, "60000"]);
  try {
    const res = await Sandbox.run({ fsReadable: [...SYSTEM, probe], fsWritable: [sock], workdir: work, fsStorage: storage, cwd: work, ...(quota ? { maxDisk: quota } : {}) }, ["/bin/sh", "-c", `echo bait > f && ${probe} red3-send-cwd ${at}`]);
    if (res.workdir?.action === "committed") committed++;
    else if (errors.length < 3) errors.push(`exit ${res.exitCode} ${res.stderrText.slice(0, 200)}`);
  } catch (e) {
    failed++; // a commit that stopped at a link in upper (the branch is kept): not a win
    if (errors.length < 3) errors.push(String((e as Error).message).slice(0, 200));
  }
  if (leaked()) wins++;
  writeFileSync(stop, "");
  const h = await holder;
  if (/got 1/.test(h.stdoutText)) got++;
  const m = /cycles (\d+) denied (\d+)/.exec(h.stdoutText);
  cycles += Number(m?.[1] ?? 0);
  denied += Number(m?.[2] ?? 0);
  if (!/got/.test(h.stdoutText) && errors.length < 3) errors.push(`holder: exit ${h.exitCode} ${h.stderrText.slice(0, 200)}`);
}
for (const b of listWorkdirBranches({ fsStorage: storage })) dropWorkdirBranch(b.id, { fsStorage: storage }); // kept ones (refused commits)
rmSync(base, { recursive: true, force: true });
console.log(JSON.stringify({ wins, got, cycles, denied, committed, failed, control, errors }));
