// Runs one restore scenario about kernel state (timers, sleeps, rseq, robust futexes,
// shared open files) against real processes, as whichever user runs it, and prints what
// it saw as one JSON line for test/integration/restore-state.test.ts.
// Usage: restore-state-case.js SCENARIO STATE (test/fixtures/checkpoint-state.c built).

import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SKIPPED_IDS_MAX } from "../../src/checkpoint/restore-run.js";
import { parseProcTimers } from "../../src/checkpoint/timers.js";
import { Checkpoint, CheckpointError, Sandbox, type PolicyInput } from "../../src/index.js";
import { until } from "../helpers/until.js";
import { editSavedCheckpoint } from "../helpers/saved-checkpoint.js";

const [scenario, fixture] = process.argv.slice(2);
if (scenario === undefined || fixture === undefined) throw new Error("usage: restore-state-case.js SCENARIO STATE");
const work = mkdtempSync(join(tmpdir(), "sl-restore-state-"));
const out = join(work, "out");
mkdirSync(out);
const file = join(out, "f");
const policy: PolicyInput = { fsReadable: [fixture], fsWritable: [out] };
/** What a dynamically linked /bin/sleep needs. */
const SYSTEM = ["/usr", "/lib", "/lib64", "/bin"].filter((p) => existsSync(p));
const text = (f = file): string => (existsSync(f) ? readFileSync(f, "latin1") : "");
const lines = (f = file): string[] => text(f).split("\n").filter((l) => l !== "");

/** Runs argv until ready(), pauses it, checkpoints it (through the disk), kills it. */
async function captured(argv: string[], ready: () => boolean, under: PolicyInput = policy): Promise<Checkpoint> {
  const sb = new Sandbox(under);
  await sb.spawn(argv);
  await until("the program to be ready", ready);
  await sb.pause();
  const cp = await sb.checkpoint();
  await sb.kill();
  await sb.wait().catch(() => undefined);
  const dir = join(work, `cp-${Date.now()}`);
  await cp.save(dir);
  return Checkpoint.load(dir);
}

/** Every line "P n" / "C n", each writer's numbers 0, 1, 2... with none lost or overwritten, and both writers present. */
function oneOffset(content: string): { ok: boolean; p: number; c: number } {
  const seen = { P: [] as number[], C: [] as number[] };
  let ok = content.endsWith("\n");
  for (const l of content.split("\n").slice(0, -1)) {
    const m = /^([PC]) (\d+)$/.exec(l);
    if (m === null) ok = false;
    else seen[m[1] as "P" | "C"].push(Number(m[2]));
  }
  for (const v of Object.values(seen)) if (v.some((x, i) => x !== i)) ok = false;
  // Both writers must be there: two offsets in lockstep overwrite every line of one
  // writer with the other's, which leaves one unbroken sequence (the control passed so).
  if (seen.P.length === 0 || seen.C.length === 0) ok = false;
  return { ok, p: seen.P.length, c: seen.C.length };
}

async function run(): Promise<unknown> {
  switch (scenario) {
    case "clock": {
      // Timers and sleeps of 8 s, captured after at least 4.5 s: about 3.5 s are left.
      const started = (): number => Number(/^start (\d+)$/m.exec(text())?.[1] ?? Number.NaN);
      const cp = await captured([fixture, "clock", file, "8"], () => Date.now() - started() >= 4500);
      const capturedAt = Date.now();
      const restoredAt = Date.now();
      const sb = await Sandbox.restore(cp);
      const restoredBy = Date.now();
      // The restored process's own POSIX timers, as the kernel lists them.
      const restoredTimers = parseProcTimers(readFileSync(`/proc/${sb.pid}/timers`, "latin1")).map((t) => ({ id: t.id, clock: t.clock }));
      const guard = setTimeout(() => void sb.kill().catch(() => undefined), 30_000);
      const r = await sb.wait();
      clearTimeout(guard);
      const events = Object.fromEntries(lines().map((l) => l.split(" ")).map(([k, ...v]) => [k, v]));
      // ms after Sandbox.restore resolved (everything was re-armed before it did), and after it began.
      const at = (k: string): number | null => (events[k] === undefined ? null : Number(events[k][0]) - restoredBy);
      const since = (k: string): number | null => (events[k] === undefined ? null : Number(events[k][0]) - restoredAt);
      const [root, child] = cp.processes;
      return {
        exitCode: r.exitCode,
        restoredTimers,
        leftAtCapture: 8000 - (capturedAt - started()),
        itimer: at("itimer"),
        posix: at("posix"),
        posixDetail: events.posix?.slice(1) ?? null,
        childAlarm: at("child-alarm"),
        sleepRem: at("sleep-rem"),
        sleepAbs: at("sleep-abs"),
        sleepNull: since("sleep-null"),
        firstSinceStart: Math.min(...["itimer", "posix", "child-alarm", "sleep-rem", "sleep-abs"].map((k) => since(k) ?? -1)),
        restoreMs: restoredBy - restoredAt,
        done: at("done"),
        rootTimers: root?.timers === undefined ? null : { itimers: root.timers.itimers.map((t) => t.which), posix: root.timers.posix.map((t) => ({ id: t.id, clock: t.clock, signo: t.signo, value: t.sigValue.toString(16) })) },
        childItimers: child?.timers?.itimers.map((t) => t.which) ?? null,
      };
    }
    case "cpu": {
      const rounds = (): number => Number(lines().filter((l) => /^\d+ \d+$/.test(l)).at(-1)?.split(" ")[0] ?? 0);
      const mismatches = (): number => Number(lines().filter((l) => /^\d+ \d+$/.test(l)).at(-1)?.split(" ")[1] ?? -1);
      // Positive control, not restored: the holder exits holding the mutex, the waiter gets EOWNERDEAD.
      const control = new Sandbox(policy);
      const controlFile = join(out, "control");
      await control.spawn([fixture, "cpu", controlFile]);
      await until("the control to run", () => lines(controlFile).length >= 3);
      writeFileSync(`${controlFile}.go`, "");
      const controlExit = await control.wait();
      const controlLock = lines(controlFile).find((l) => l.startsWith("lock ")) ?? null;
      // Control of the rseq check: a stale area (no registration) is seen.
      const stale = new Sandbox(policy);
      const staleFile = join(out, "stale");
      await stale.spawn([fixture, "cpu", staleFile, "stale"]);
      const staleRounds = (): number[] => lines(staleFile).filter((l) => /^\d+ \d+$/.test(l)).at(-1)?.split(" ").map(Number) ?? [0, 0];
      await until("the stale control to run 20 rounds", () => staleRounds()[0]! >= 20);
      await stale.kill();
      await stale.wait().catch(() => undefined);
      const staleMismatches = staleRounds()[1];

      const cp = await captured([fixture, "cpu", file], () => rounds() >= 20);
      const before = { rounds: rounds(), mismatches: mismatches() };
      const sb = await Sandbox.restore(cp);
      await until("20 more rounds", () => rounds() >= before.rounds + 20);
      // The restored threads' registrations, read by a second checkpoint.
      const again = await sb.checkpoint();
      const after = { rounds: rounds(), mismatches: mismatches() };
      writeFileSync(`${file}.go`, "");
      const guard = setTimeout(() => void sb.kill().catch(() => undefined), 20_000);
      const r = await sb.wait();
      clearTimeout(guard);
      const reg = (c: Checkpoint) => c.processes[0]!.threads.map((t) => ({ rseq: t.rseq === undefined ? "absent" : t.rseq === null ? null : t.rseq.address.toString(16), robust: t.robustList?.head.toString(16) ?? "absent" }));
      return { staleMismatches, controlLock, controlExit: controlExit.exitCode, before, after, captured: reg(cp), restored: reg(again), lock: lines().find((l) => l.startsWith("lock ")) ?? null, exitCode: r.exitCode };
    }
    case "shared": {
      // Positive control: two opens (two offsets) overwrite each other, which the check sees.
      const control = new Sandbox(policy);
      const controlFile = join(out, "control");
      await control.spawn([fixture, "shared", controlFile, "separate"]);
      await until("the control to write", () => lines(controlFile).length >= 20);
      await control.kill();
      await control.wait().catch(() => undefined);
      const separate = oneOffset(text(controlFile));

      const cp = await captured([fixture, "shared", file], () => lines().length >= 20);
      const before = oneOffset(text());
      const sb = await Sandbox.restore(cp);
      await until("40 more lines", () => lines().length >= before.p + before.c + 40);
      await sb.kill();
      await sb.wait().catch(() => undefined);
      const [root, child] = cp.processes;
      const sharing = (p: typeof root) => (p?.fds ?? []).filter((f) => f.fd > 2).map((f) => ({ fd: f.fd, sharedWith: f.sharedWith === undefined ? null : { parent: f.sharedWith.pid === p!.ppid, self: f.sharedWith.pid === p!.pid, fd: f.sharedWith.fd } }));
      return { separate, before, after: oneOffset(text()), rootFds: sharing(root), childFds: sharing(child) };
    }
    case "tids": {
      // The same program captured in each view. The kernel view's capture comes back with
      // every thread's id; the supervised view's (host ids, which cannot be chosen) is the
      // control: new ids, so each lock sees another owner (the check can fail).
      const views: Record<string, unknown> = {};
      for (const view of ["kernel", "supervised"] as const) {
        const f = join(out, `tids-${view}`);
        const ids = (kind: "id" | "after"): Record<string, number[]> => Object.fromEntries(lines(f).filter((l) => l.startsWith(`${kind} `)).map((l) => [l.split(" ")[1]!, l.split(" ").slice(2).map(Number)]));
        const cp = await captured([fixture, "tids", f], () => Object.keys(ids("id")).length === 5, { ...policy, procView: view });
        const capturedIn = cp.procView;
        if (view === "kernel") {
          // The same checkpoint with thread B's id edited (saved, its checksum redone, so
          // restored with the policy given): past the bound on ids to use up, and the root's.
          // First: nothing of the image runs in either, so the output file stays as captured.
          const edited = async (nsTid: number): Promise<unknown> => {
            const dir = join(work, `tids-edited-${nsTid}`);
            await cp.save(dir);
            editSavedCheckpoint(dir, (meta) => {
              const root = meta.processes.find((x: { pid: number }) => x.pid === cp.processes[0]!.pid);
              root.threads.at(-1).nsTid = nsTid;
            });
            const started = Date.now();
            try {
              const back = await Sandbox.restore(await Checkpoint.load(dir), { policy: { ...policy, procView: "kernel" } });
              await back.kill();
              return { name: "none" };
            } catch (e) {
              if (!(e instanceof CheckpointError)) throw e;
              return { code: e.code, message: e.message, ms: Date.now() - started };
            }
          };
          views.farId = await edited(2 * SKIPPED_IDS_MAX);
          views.takenId = await edited(2);
        }
        const sb = await Sandbox.restore(cp);
        writeFileSync(`${f}.go`, "");
        // Bounded: a lock that waits for good is killed after 20 s (the checks take 2 s at most).
        let hung = false;
        const guard = setTimeout(() => {
          hung = true;
          void sb.kill().catch(() => undefined);
        }, 20_000);
        const r = await sb.wait();
        clearTimeout(guard);
        views[view] = { capturedIn, restoredIn: sb.procView ?? null, before: ids("id"), after: ids("after"), exitCode: r.exitCode, hung };
      }
      return views;
    }
    case "winch": {
      // Restores raced by a flood of SIGWINCH at every thread this process traces (what a
      // terminal sends a group on a resize): a traced process is sent even the signals it
      // ignores, and before the fix every restore failed on an unexpected stop (20 of 20).
      const cp = await captured(["/bin/sleep", "30"], () => true, { ...policy, fsReadable: [...SYSTEM, fixture] });
      let sent = 0;
      const flood = setInterval(() => {
        for (const n of readdirSync("/proc")) {
          if (!/^\d+$/.test(n)) continue;
          try {
            if (/^TracerPid:\s*(\d+)/m.exec(readFileSync(`/proc/${n}/status`, "latin1"))?.[1] === String(process.pid)) {
              process.kill(Number(n), "SIGWINCH");
              sent++;
            }
          } catch {
            // gone meanwhile
          }
        }
      }, 1);
      const failures: string[] = [];
      const rounds = 10;
      try {
        for (let i = 0; i < rounds; i++) {
          try {
            const sb = await Sandbox.restore(cp);
            await sb.kill();
            await sb.wait().catch(() => undefined);
          } catch (e) {
            failures.push((e as Error).message);
          }
        }
      } finally {
        clearInterval(flood);
      }
      return { rounds, failures, sent };
    }
    case "refused": {
      const cp = await captured([fixture, "cputimer", file], () => lines().length >= 3);
      try {
        const sb = await Sandbox.restore(cp);
        await sb.kill();
        return { name: "none" };
      } catch (e) {
        if (!(e instanceof CheckpointError)) throw e;
        return { name: e.name, code: e.code, message: e.message, pid: e.pid ?? null, untouched: lines().length };
      }
    }
    default:
      throw new Error(`unknown scenario ${scenario}`);
  }
}

try {
  console.log(JSON.stringify(await run()));
} finally {
  rmSync(work, { recursive: true, force: true });
}
