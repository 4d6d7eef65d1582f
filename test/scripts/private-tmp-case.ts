// The private temporary directory's removal, against a process that may write the
// temporary directory (a sandbox granted it), and after its maker was killed. Prints one
// JSON line. Usage: private-tmp-case.js race PROBE ROUNDS | sweep PROBE
//
// race: each round a run with privateTmp fills $TMPDIR/sub with N files and points
// ctl/cur at its $TMPDIR; a racer sandbox granted the temporary directory swaps sub, once
// its removal began, for a link to a host directory outside every grant holding entries
// of the same names (the probe's red3-rm-swap). A removal that goes on by path removes
// those entries with the user's rights (a win). Control: the same race against fs.rmSync
// of a directory laid out the same way, which goes on by path.
//
// sweep: a process running a sandbox with privateTmp is killed (SIGKILL: no handler
// runs); its directory stays until another process removes its own, which removes it.
// Directories named for a live process, another pid namespace, or without a name that
// says who made them stay; what a link in a swept directory names stays.
import { spawn } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Sandbox } from "../../src/index.js";

const [mode, probe, roundsArg] = process.argv.slice(2) as [string, string, string];
const SYSTEM = ["/usr", "/lib", "/lib64", "/bin"].filter((p) => existsSync(p));
const N = 300;
const base = mkdtempSync("/tmp/sandlock-ptmp-");
const tmp = join(base, "tmp"), victim = join(base, "outside", "keep"), ctl = join(base, "ctl");
for (const d of [tmp, victim, ctl]) mkdirSync(d, { recursive: true });
process.env.TMPDIR = tmp; // where makePrivateTmp makes its directories (os.tmpdir())
const fill = (dir: string): void => {
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < N; i++) writeFileSync(join(dir, `c${i}`), "x", { mode: 0o600 });
};
const left = (): number => readdirSync(victim).length;
const ours = (): string[] => readdirSync(tmp).filter((n) => n.startsWith("sandlock-tmp-"));

async function race(): Promise<object> {
  fill(victim);
  const racer = Sandbox.run({ fsReadable: [...SYSTEM, probe, ctl], fsWritable: [tmp] }, [probe, "red3-rm-swap", join(ctl, "cur"), String(N), victim, join(ctl, "stop"), "120000"]);
  let result: Record<string, unknown>;
  try {
    result = await rounds(Number(roundsArg));
  } finally {
    writeFileSync(join(ctl, "stop"), "");
  }
  const out = await racer;
  result.swaps = Number(/swaps (\d+)/.exec(out.stdoutText)?.[1] ?? -1);
  if (result.swaps === -1) (result.errors as string[]).push(`racer: exit ${out.exitCode} ${out.stderrText.slice(0, 200)}`);
  return result;
}

async function rounds(count: number): Promise<Record<string, unknown>> {
  const point = (to: string): void => {
    rmSync(join(ctl, "cur"), { force: true });
    symlinkSync(to, join(ctl, "cur"));
  };
  const wait = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
  // Control: a removal by path (fs.rmSync) of such a directory, raced the same way.
  let controlWins = 0, controlTries = 0;
  while (controlWins === 0 && controlTries < 10) {
    controlTries++;
    const fake = join(tmp, `control-${controlTries}`);
    fill(join(fake, "tmp", "sub"));
    point(join(fake, "tmp"));
    await wait(100); // the racer arms on a full sub
    try {
      rmSync(fake, { recursive: true, force: true });
    } catch {
      // it fails on the link once it went through it: the count says whether it did
    }
    if (left() < N) {
      controlWins++;
      fill(victim);
    }
  }
  let wins = 0, lost = 0, runs = 0;
  const errors: string[] = [];
  const warnings: string[] = [];
  process.on("warning", (w) => warnings.push(w.message.slice(0, 300)));
  const cur = join(ctl, "cur");
  const script = `mkdir "$TMPDIR/sub" && cd "$TMPDIR/sub" && i=0 && while [ $i -lt ${N} ]; do : > c$i; i=$((i+1)); done && ln -sfn "$TMPDIR" ${cur}.new && mv -T ${cur}.new ${cur} && sleep 0.1`;
  for (let r = 0; r < count; r++) {
    const res = await Sandbox.run({ fsReadable: SYSTEM, fsWritable: [ctl], privateTmp: true }, ["/bin/sh", "-c", script]);
    if (res.exitCode === 0) runs++;
    else if (errors.length < 3) errors.push(`exit ${res.exitCode} ${res.stderrText.slice(0, 200)}`);
    if (left() < N) {
      wins++;
      lost += N - left();
      fill(victim);
    }
  }
  return { wins, lost, runs, controlWins, controlTries, errors, warnings: warnings.length };
}

/** `NS.PID.START` of a process, as private-tmp.ts names directories. */
function tag(pid: number): string {
  const ns = /\[(\d+)\]/.exec(readlinkSync(`/proc/${pid}/ns/pid`))![1];
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return `${ns}.${pid}.${stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]}`;
}

/** A process that runs a sandbox with privateTmp, which prints its TMPDIR and sleeps. */
const HOLD = `import { Sandbox } from ${JSON.stringify(new URL("../../src/index.js", import.meta.url).href)};
await Sandbox.run({ fsReadable: ${JSON.stringify(SYSTEM)}, privateTmp: true }, ["/bin/sh", "-c", 'mkdir "$TMPDIR/d" && : > "$TMPDIR/d/f" && echo "$TMPDIR" && exec sleep 60'], { stdout: "inherit" });`;

async function sweep(): Promise<object> {
  fill(victim);
  // A holder killed while its sandbox runs: its directory is left.
  const child = spawn(process.execPath, ["--input-type=module", "-e", HOLD], { env: { ...process.env, TMPDIR: tmp }, stdio: ["ignore", "pipe", "inherit"] });
  const printed = await new Promise<string>((resolve) => {
    let text = "";
    child.stdout!.on("data", (d: Buffer) => {
      text += d.toString();
      if (text.includes("\n")) resolve(text.trim());
    });
    child.once("exit", () => resolve(text.trim()));
  });
  const held = printed.replace(/\/tmp$/, "");
  const heldTag = /^sandlock-tmp-(\d+\.\d+\.\d+)-/.exec(held.slice(tmp.length + 1))?.[1];
  child.kill("SIGKILL");
  await new Promise((r) => child.once("exit", r));
  await new Promise((r) => setTimeout(r, 300)); // its sandbox is ended by the kernel meanwhile
  const leftAfterKill = existsSync(join(held, "tmp", "d", "f"));
  const [ns] = tag(process.pid).split(".");
  const plant = (name: string, file = false): string => {
    const p = join(tmp, name);
    if (file) writeFileSync(p, "");
    else {
      mkdirSync(join(p, "tmp", "locked"), { recursive: true });
      writeFileSync(join(p, "tmp", "locked", "f"), "x");
      chmodSync(join(p, "tmp", "locked"), 0);
      symlinkSync(victim, join(p, "tmp", "link"));
    }
    return p;
  };
  const planted = {
    // pid reused: this process's pid with another start time
    reused: plant(`sandlock-tmp-${ns}.${process.pid}.1-AAAAAA`),
    live: plant(`sandlock-tmp-${tag(process.pid)}-BBBBBB`),
    otherNs: plant(`sandlock-tmp-1.${child.pid}.5-CCCCCC`),
    untagged: plant("sandlock-tmp-DDDDDD"),
    file: plant(`sandlock-tmp-${ns}.${child.pid}.7-EEEEEE`, true),
    ...(process.getuid!() === 0 ? { otherUser: plant(`sandlock-tmp-${ns}.${child.pid}.9-FFFFFF`) } : {}),
  };
  if (planted.otherUser !== undefined) chownSync(planted.otherUser, 12345, 12345);
  const res = await Sandbox.run({ fsReadable: SYSTEM, privateTmp: true }, ["/bin/sh", "-c", 'echo "$TMPDIR"']);
  const own = res.stdoutText.trim().replace(/\/tmp$/, "");
  const after = Object.fromEntries(Object.entries(planted).map(([k, p]) => [k, existsSync(p)]));
  return {
    heldTag, childTag: child.pid, leftAfterKill, heldGone: !existsSync(held), ownGone: own.startsWith(tmp) && !existsSync(own),
    after, victimLeft: left(), remaining: ours().length,
  };
}

let out: object;
try {
  out = mode === "race" ? await race() : await sweep();
} catch (e) {
  out = { error: String((e as Error).stack ?? e) };
}
// what the test planted unreadable, opened up so the cleanup can remove it
for (const name of existsSync(tmp) ? readdirSync(tmp) : []) {
  try {
    chmodSync(join(tmp, name, "tmp", "locked"), 0o700);
  } catch {
    // not planted here
  }
}
rmSync(base, { recursive: true, force: true });
console.log(JSON.stringify(out));
