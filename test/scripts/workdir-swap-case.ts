// A workdir swapped for a symbolic link, continuously, by another process that can write
// its parent, while sandboxes with that workdir start: a start whose overlay took the link's
// target as its lower layer would let the sandbox read the outside directory through the
// workdir's path (a win). Planning refuses the link by name (plan/grant-path.ts) and the
// launcher mounts the overlay on the directory it opens without following links (cow.c).
// Prints one JSON line. Usage: workdir-swap-case.js STARTS
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Sandbox } from "../../src/index.js";

const starts = Number(process.argv[2]);
const base = mkdtempSync("/tmp/sandlock-wswap-");
const parent = join(base, "p");
const outside = join(base, "outside");
mkdirSync(join(parent, "d"), { recursive: true });
mkdirSync(outside);
writeFileSync(join(outside, "secret"), "OUTSIDE\n");
const SYSTEM = ["/usr", "/lib", "/lib64", "/bin"];
const storage = join(base, "branches");

// The racer leaves the real directory in place for about 10 ms of each cycle: a start checks
// it at several moments (planning, the launcher's open, the branch at the end), so with the
// link there most of the time every start could fail (seen: 300 of 300 on a loaded machine)
// and the test could not show that starts still run. The swaps stay continuous: the case
// asserts that some starts failed because of them.
const racer = spawn("/bin/sh", ["-c", `cd ${parent} && while :; do mv d d.real 2>/dev/null; ln -s ${outside} d 2>/dev/null; rm -f d 2>/dev/null; mv d.real d 2>/dev/null; sleep 0.01; done`], { stdio: "ignore" });
let wins = 0;
let ran = 0;
let failedStarts = 0;
for (let i = 0; i < starts; i++) {
  try {
    const r = await Sandbox.run({ fsReadable: SYSTEM, workdir: join(parent, "d"), fsStorage: storage, onExit: "abort", cwd: "/" }, ["/bin/sh", "-c", `cat ${join(parent, "d", "secret")} 2>/dev/null; true`]);
    if (r.exitCode === 0) ran++;
    if (r.stdoutText.includes("OUTSIDE")) wins++;
  } catch {
    failedStarts++; // a link when planned or when the launcher opened it: refused, not a win
  }
}
racer.kill("SIGKILL");
// The control: the outside directory as the workdir is read through its path.
const control = await Sandbox.run({ fsReadable: SYSTEM, workdir: outside, fsStorage: storage, onExit: "abort", cwd: "/" }, ["/bin/cat", join(outside, "secret")]);
rmSync(base, { recursive: true, force: true });
console.log(JSON.stringify({ wins, ran, failedStarts, control: control.stdoutText }));
