// The copy-on-write branch store against a sandbox granted it (fsStorage here; `-w ~` or
// `-w /tmp` for the default store): the host writes the store with the user's rights, and
// the racer replaces names in other runs' branches with symbolic links to a victim outside
// every grant (the probe's store-swap). A host write, chmod or listing by path through such
// a link reaches the victim (a win). Prints one JSON line.
// Usage: store-swap-case.js copy|meta|work PROBE ROUNDS
//
// copy: a run with maxDisk writes N files in d (mode 777) and is kept, so the host copies
// its stage into the branch (cow/quota.ts drainStage); the racer swaps upper/d, once the
// copy of it began, for a link to a victim directory. Control: the same race against a
// copy by path (mkdir, create, chmod) into a directory of the store laid out the same way.
// meta: the racer plants meta.json.tmp as a link to a victim file in every branch; the run
// is kept (its record written twice at the start, once at the end: writeDurable).
// work: the racer swaps the branch's work directory for a link to a victim directory; the
// branch is dropped in the background (an abort) and at once (sandlock branch drop).
import { chmodSync, closeSync, existsSync, lstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { dropWorkdirBranch, listWorkdirBranches, Sandbox } from "../../src/index.js";

const [mode, probe, roundsArg] = process.argv.slice(2) as [string, string, string];
const rounds = Number(roundsArg);
const SYSTEM = ["/usr", "/lib", "/lib64", "/bin"].filter((p) => existsSync(p));
const N = 1500;
const base = mkdtempSync("/tmp/sandlock-store-");
const work = join(base, "w"), storage = join(base, "branches"), outside = join(base, "outside"), ctl = join(base, "ctl");
for (const d of [work, outside, ctl]) mkdirSync(d);
mkdirSync(storage, { mode: 0o700 });
const stop = join(ctl, "stop");
const wait = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const modeOf = (p: string): string => (lstatSync(p).mode & 0o7777).toString(8);
const errors: string[] = [];
const note = (what: string): void => {
  if (errors.length < 4) errors.push(what.slice(0, 300));
};

const racers: Promise<unknown>[] = [];

/** The racer: a sandbox granted the store (and nothing of the victim). */
function racer(how: "plant" | "swap", rel: string, n: number, target: string): Promise<{ stdoutText: string; stderrText: string; exitCode: number | null }> {
  const run = Sandbox.run({ fsReadable: [...SYSTEM, probe, ctl], fsWritable: [storage] }, [probe, "store-swap", how, storage, rel, String(n), target, stop, "100000"]);
  racers.push(run);
  return run;
}

/** Waits for `done` (a link the racer made), up to 3 s. */
async function until(done: () => boolean): Promise<boolean> {
  for (let i = 0; i < 300; i++) {
    if (done()) return true;
    await wait(10);
  }
  return false;
}

/** The racer's counts: links made, and the errno of a refused RENAME_EXCHANGE (0: none). */
function racerCounts(out: { stdoutText: string; stderrText: string; exitCode: number | null }): [number, number] {
  const m = /swaps (\d+) exchange (\d+)/.exec(out.stdoutText);
  if (m === null) note(`racer: exit ${out.exitCode} ${out.stdoutText} ${out.stderrText}`);
  return m === null ? [-1, -1] : [Number(m[1]), Number(m[2])];
}

const isLink = (p: string): boolean => lstatSync(p, { throwIfNoEntry: false })?.isSymbolicLink() === true;

/** Drops every branch left in the store (kept ones, refused ones). */
function dropAll(): void {
  for (const b of listWorkdirBranches({ fsStorage: storage })) {
    try {
      dropWorkdirBranch(b.id, { fsStorage: storage });
    } catch (e) {
      note(`drop: ${(e as Error).message}`);
    }
  }
}

async function copy(): Promise<object> {
  const victim = join(outside, "victim");
  mkdirSync(victim);
  chmodSync(victim, 0o750);
  const race = racer("swap", "upper/d", N, victim);
  // Control: a copy by path, as the copy-out went before, into a store directory laid out
  // as a branch; the racer swaps its d mid-copy and the files land in the victim.
  let controlFiles = 0, controlMode = "750", controlTries = 0;
  while (controlFiles === 0 && controlTries < 5) {
    controlTries++;
    const upper = join(storage, `00000000-000000-control${controlTries}`, "upper");
    mkdirSync(join(upper, "d"), { recursive: true, mode: 0o700 });
    try {
      for (let i = 0; i < N; i++) {
        const fd = openSync(join(upper, "d", `f${i}`), "wx", 0o600);
        writeSync(fd, "x\n");
        closeSync(fd);
      }
      chmodSync(join(upper, "d"), 0o777);
    } catch (e) {
      note(`control: ${(e as Error).message}`);
    }
    controlFiles = readdirSync(victim).length;
    controlMode = modeOf(victim);
    for (const f of readdirSync(victim)) rmSync(join(victim, f));
    chmodSync(victim, 0o750);
    await wait(50);
  }
  let wins = 0, landed = 0, modeChanged = 0, kept = 0, refused = 0;
  const script = `mkdir d && cd d && i=0 && while [ $i -lt ${N} ]; do echo x > f$i; i=$((i+1)); done && chmod 777 .`;
  for (let r = 0; r < rounds; r++) {
    try {
      const res = await Sandbox.run({ fsReadable: SYSTEM, workdir: work, fsStorage: storage, cwd: work, maxDisk: "16M", onExit: "keep" }, ["/bin/sh", "-c", script]);
      if (res.workdir?.action === "kept") kept++;
      else note(`exit ${res.exitCode} ${res.stderrText}`);
    } catch (e) {
      refused++; // the copy-out stopped at the swapped name: the branch is kept, not a win
      if (refused === 1) note((e as Error).message);
    }
    const files = readdirSync(victim).length, m = modeOf(victim);
    if (files > 0 || m !== "750") {
      wins++;
      landed += files;
      if (m !== "750") modeChanged++;
      for (const f of readdirSync(victim)) rmSync(join(victim, f), { recursive: true, force: true });
      chmodSync(victim, 0o750);
    }
    dropAll();
  }
  writeFileSync(stop, "");
  const out = await race;
  const [swaps, exchange] = racerCounts(out);
  return { wins, landed, modeChanged, kept, refused, swaps, exchange, controlFiles, controlMode, controlTries };
}

async function meta(): Promise<object> {
  const victim = join(outside, "victim.txt");
  const TEXT = "the victim's own bytes\n";
  writeFileSync(victim, TEXT, { mode: 0o600 });
  const race = racer("plant", "meta.json.tmp", 0, victim);
  // Control: a write by path through the name the racer planted reaches the victim.
  const fake = join(storage, "00000000-000000-controlmeta");
  mkdirSync(fake);
  const planted = await until(() => isLink(join(fake, "meta.json.tmp")));
  if (planted) writeFileSync(join(fake, "meta.json.tmp"), "{}");
  const control = readFileSync(victim, "utf8") !== TEXT;
  writeFileSync(victim, TEXT); // the fake branch stays: the racer keeps planting in it
  let wins = 0, kept = 0, records = 0, plantedSeen = 0;
  for (let r = 0; r < rounds; r++) {
    try {
      const res = await Sandbox.run({ fsReadable: SYSTEM, workdir: work, fsStorage: storage, cwd: work, onExit: "keep" }, ["/bin/sh", "-c", "echo x > m && sleep 0.2"]);
      if (res.workdir?.action === "kept") kept++;
      else note(`exit ${res.exitCode} ${res.stderrText}`);
      const dir = join(storage, res.workdir!.branch!);
      // The record is a file of its own holding the run's end, whatever was planted beside it.
      const st = lstatSync(join(dir, "meta.json"));
      if (st.isFile() && (JSON.parse(readFileSync(join(dir, "meta.json"), "utf8")) as { state: string }).state === "kept") records++;
      if (isLink(join(dir, "meta.json.tmp")) && readlinkSync(join(dir, "meta.json.tmp")) === victim) plantedSeen++;
    } catch (e) {
      note((e as Error).message);
    }
    if (readFileSync(victim, "utf8") !== TEXT || modeOf(victim) !== "600") {
      wins++;
      writeFileSync(victim, TEXT);
      chmodSync(victim, 0o600);
    }
    dropAll();
  }
  writeFileSync(stop, "");
  const out = await race;
  const [swaps] = racerCounts(out);
  return { wins, kept, records, plantedSeen, swaps, control };
}

async function workSwap(): Promise<object> {
  const victim = join(outside, "vwork");
  mkdirSync(join(victim, "sub"), { recursive: true });
  chmodSync(join(victim, "sub"), 0o751);
  chmodSync(victim, 0o751);
  writeFileSync(join(victim, "sub", "f"), "x");
  const intact = (): boolean => modeOf(victim) === "751" && modeOf(join(victim, "sub")) === "751" && existsSync(join(victim, "sub", "f"));
  const restore = (): void => {
    chmodSync(victim, 0o751);
    mkdirSync(join(victim, "sub"), { recursive: true });
    chmodSync(join(victim, "sub"), 0o751);
    writeFileSync(join(victim, "sub", "f"), "x");
  };
  const race = racer("swap", "work", 0, victim);
  // Control: a chmod by path of the name the racer swapped reaches the victim.
  const fake = join(storage, "00000000-000000-controlwork");
  mkdirSync(join(fake, "work"), { recursive: true });
  if (await until(() => isLink(join(fake, "work")))) chmodSync(join(fake, "work"), 0o700);
  const control = modeOf(victim);
  restore(); // the fake branch stays, swapped, until the end
  let wins = 0, aborted = 0, dropped = 0, swappedSeen = 0, refusedAtStart = 0, keptGaveUp = 0;
  // A run whose branch's work directory the racer swapped while it was being made is
  // refused at its start (the swap is seen, not followed): an outcome, not a failure.
  const refusal = (e: unknown): boolean => /\(replaced since it was made\)/.test((e as Error).message) && ++refusedAtStart > 0;
  const trashLeft = (): boolean => readdirSync(storage).some((n) => n.startsWith(".trash-"));
  for (let r = 0; r < rounds; r++) {
    // An abort: the branch is dropped in the background (the run does not wait for it).
    try {
      const res = await Sandbox.run({ fsReadable: SYSTEM, workdir: work, fsStorage: storage, cwd: work, maxDisk: "1M", onExit: "abort" }, ["/bin/sh", "-c", "mkdir -p a/b && echo x > a/b/f && sleep 0.2"]);
      if (res.workdir?.action === "aborted") aborted++;
      else note(`exit ${res.exitCode} ${res.stderrText}`);
    } catch (e) {
      if (!refusal(e)) note((e as Error).message);
    }
    if (!(await until(() => !trashLeft()))) note("a background removal did not end within 3 s");
    if (!intact()) {
      wins++;
      restore();
    }
    // A kept branch dropped at once (sandlock branch drop). A run refused at its start is
    // tried again (up to 5 times), so that the drop itself meets the racer in most rounds:
    // a fast racer once had every kept run of a case refused, and no drop was raced at all.
    let reached = false;
    for (let attempt = 0; attempt < 5 && !reached; attempt++) {
      try {
        const res = await Sandbox.run({ fsReadable: SYSTEM, workdir: work, fsStorage: storage, cwd: work, maxDisk: "1M", onExit: "keep" }, ["/bin/sh", "-c", "echo x > k && sleep 0.2"]);
        reached = true;
        const id = res.workdir!.branch!;
        if (isLink(join(storage, id, "work"))) swappedSeen++;
        dropWorkdirBranch(id, { fsStorage: storage });
        dropped++;
      } catch (e) {
        if (!refusal(e)) {
          note((e as Error).message);
          reached = true;
        }
      }
    }
    if (!reached) keptGaveUp++;
    if (!intact()) {
      wins++;
      restore();
    }
    dropAll();
  }
  writeFileSync(stop, "");
  const out = await race;
  const [swaps, exchange] = racerCounts(out);
  const left = readdirSync(storage).filter((n) => !n.startsWith(".lock-") && n !== "00000000-000000-controlwork");
  return { wins, aborted, dropped, swappedSeen, refusedAtStart, keptGaveUp, swaps, exchange, control, left };
}

let result: object;
try {
  result = mode === "copy" ? await copy() : mode === "meta" ? await meta() : mode === "work" ? await workSwap() : { error: `unknown mode ${mode}` };
} catch (e) {
  result = { error: String((e as Error).stack ?? e) };
} finally {
  writeFileSync(stop, "");
  await Promise.allSettled(racers); // gone before its store is removed
}
rmSync(base, { recursive: true, force: true });
console.log(JSON.stringify({ ...result, errors }));
