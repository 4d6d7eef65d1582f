// A granted directory swapped for a symbolic link while sandboxes start, as whoever runs
// this: another process (here unsandboxed; in life another sandbox that can write the
// parent) keeps replacing P/d with a link to an outside directory and back, while sandboxes
// that were given P/d writable try to write into the outside directory by its own path.
// A start whose Landlock rule followed the link would grant the outside directory: a win;
// so would a supervisor whose proof of "beneath a writable grant" (for the metadata calls
// it performs: chmod) followed it: a chmod of a file outside that succeeds is a win too.
// Prints one JSON line. Usage: grant-swap-case.js STAGE STARTS
import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const [stage, startsText] = process.argv.slice(2) as [string, string];
const { Sandbox } = (await import(join(stage, "dist", "src", "index.js"))) as typeof import("../../src/index.js");
const base = mkdtempSync("/tmp/sandlock-swap-");
const parent = join(base, "p");
const outside = join(base, "outside");
mkdirSync(join(parent, "d"), { recursive: true });
mkdirSync(outside);
const probeFile = join(outside, "mode-probe");
writeFileSync(probeFile, "");
chmodSync(probeFile, 0o644);
const SYSTEM = ["/usr", "/lib", "/lib64", "/bin"];

// The racer: a shell loop swapping d between the real directory and a link to outside.
const racer = spawn("/bin/sh", ["-c", `cd ${parent} && while :; do mv d d.real 2>/dev/null; ln -s ${outside} d 2>/dev/null; rm -f d 2>/dev/null; mv d.real d 2>/dev/null; done`], { stdio: "ignore" });

let wins = 0;
let ran = 0;
let failedStarts = 0;
const starts = Number(startsText);
for (let i = 0; i < starts; i++) {
  const marker = join(outside, `won-${i}`);
  try {
    const r = await Sandbox.run({ fsReadable: SYSTEM, fsWritable: [join(parent, "d")] }, ["/bin/sh", "-c", `echo x > ${marker} 2>/dev/null; chmod 600 ${probeFile} 2>/dev/null; true`]);
    if (r.exitCode === 0) ran++;
  } catch {
    failedStarts++; // the path was a link or gone when planned or opened: refused, not a win
  }
  if (existsSync(marker)) wins++;
  if ((statSync(probeFile).mode & 0o777) !== 0o644) {
    wins++;
    chmodSync(probeFile, 0o644);
  }
}
racer.kill("SIGKILL");
// The control: the outside directory granted directly is writable.
const control = await Sandbox.run({ fsReadable: SYSTEM, fsWritable: [outside] }, ["/bin/sh", "-c", `echo x > ${join(outside, "control")} && echo ok`]);
rmSync(base, { recursive: true, force: true });
console.log(JSON.stringify({ wins, ran, failedStarts, control: control.stdoutText }));
