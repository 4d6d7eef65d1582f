// deterministicDirs keeps a directory's sorted listing and serves a listing from the start
// out of it while the directory's stamp (times, size, links) is unchanged: a change made
// right after a listing must show in the next one, a settled directory (its last change
// over 100 ms old, so the stamp is trusted) included. 200 rounds, every fifth after a
// pause (a settled round is the same every time: its stamp's times are over 100 ms old, so
// any change moves them; 40 of them, where 100 took 15 s of CI's budget in sleeps); each adds
// a name after a listing, lists, removes it, lists again. Prints one JSON line: { out, err }.

import { mkdtempSync, rmSync } from "node:fs";
import { Sandbox } from "../../src/index.js";

const dir = mkdtempSync("/tmp/sandlock-dirs-stamp-");
const program = `
import os, time
d = ${JSON.stringify(dir)}
for i in range(50): open(d + "/a%02d" % i, "w").close()
stale = 0
for k in range(200):
    time.sleep(0.15 if k % 5 == 4 else 0)
    before = os.listdir(d)
    name = "n%03d" % k
    open(d + "/" + name, "w").close()
    after = os.listdir(d)
    if name not in after or len(after) != len(before) + 1: stale += 1
    os.unlink(d + "/" + name)
    again = os.listdir(d)
    if name in again or len(again) != len(before): stale += 1
print("rounds 200 stale", stale, flush=True)
`;
try {
  const r = await Sandbox.run({ fsReadable: ["/usr", "/lib", "/lib64", "/bin", "/etc"], fsWritable: [dir], deterministicDirs: true }, ["/usr/bin/python3", "-c", program], { timeout: 60_000 });
  console.log(JSON.stringify({ out: r.stdoutText.trim(), err: r.stderrText.slice(-500) }));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
