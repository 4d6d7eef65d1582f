// Checkpoint cost: time to checkpoint a sandboxed process holding 100 MiB of dirty heap,
// the image's size, save and load times, against the bare floor measured in the same
// invocation (process_vm_readv of the same pages, no freeze, no /proc), and the fixed
// cost of checkpointing a small process (sleep). Restore: Sandbox.restore of the loaded
// image into a new sandbox, against the load time of the same directory.

import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Checkpoint, Sandbox } from "../src/index.js";
import { native } from "../src/confine/native.js";
import { fmt, summarize, type Summary } from "./stats.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const DIRTY_MIB = 100;

function buildCounter(): string {
  const out = join(ROOT, "build", "bench", "checkpoint-counter");
  mkdirSync(join(ROOT, "build", "bench"), { recursive: true });
  execFileSync("gcc", ["-O2", "-static", "-o", out, join(ROOT, "test", "fixtures", "checkpoint-counter.c"), "-lpthread"]);
  return out;
}

function ms(since: bigint): number {
  return Number(process.hrtime.bigint() - since) / 1e6;
}

async function untilReady(sb: Sandbox): Promise<void> {
  const out = sb.stdout!;
  let seen = "";
  for await (const chunk of out) {
    seen += String(chunk);
    if (seen.includes("ready")) return;
  }
  throw new Error(`the dirty-memory fixture ended before it was ready: ${seen}`);
}

export interface CheckpointBench {
  dirtyMiB: number;
  checkpointMs: Summary;
  /** process_vm_readv of the captured segments alone (no freeze, no /proc): the floor. */
  rawReadMs: Summary;
  ratioToRawRead: Summary;
  imageBytes: number;
  memoryBytes: number;
  saveMs: Summary;
  loadMs: Summary;
  /** Sandbox.restore of the loaded checkpoint, until the process runs again. */
  restoreMs: Summary;
  ratioRestoreToLoad: Summary;
  smallCheckpointMs: Summary;
}

export async function benchCheckpoint(rounds: number): Promise<CheckpointBench> {
  const bin = buildCounter();
  const work = mkdtempSync(join(tmpdir(), "sl-bench-cp-"));
  const sb = new Sandbox({ fsReadable: [bin] });
  const small = new Sandbox({ fsReadable: ["/usr", "/lib", "/lib64", "/bin"].filter((p) => statSync(p, { throwIfNoEntry: false })) });
  const checkpointMs: number[] = [];
  const rawReadMs: number[] = [];
  const saveMs: number[] = [];
  const loadMs: number[] = [];
  const restoreMs: number[] = [];
  const smallMs: number[] = [];
  let imageBytes = 0;
  let memoryBytes = 0;
  try {
    await sb.spawn([bin, "dirty", String(DIRTY_MIB)]);
    await untilReady(sb);
    await small.spawn(["sleep", "600"]);
    for (let r = 0; r < rounds; r++) {
      let t = process.hrtime.bigint();
      const cp = await sb.checkpoint();
      checkpointMs.push(ms(t));
      memoryBytes = cp.memoryBytes;

      // The floor: copying the same pages out of the process, and nothing else.
      const p = cp.processes[0]!;
      const bufs = p.memory.map((s) => Buffer.allocUnsafe(s.data.length));
      t = process.hrtime.bigint();
      p.memory.forEach((s, i) => native().readMemory(p.pid, Number(s.start), bufs[i]!));
      rawReadMs.push(ms(t));

      const dir = join(work, `cp-${r}`);
      t = process.hrtime.bigint();
      await cp.save(dir);
      saveMs.push(ms(t));
      imageBytes = readdirSync(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
      t = process.hrtime.bigint();
      const loaded = await Checkpoint.load(dir);
      loadMs.push(ms(t));
      t = process.hrtime.bigint();
      const restored = await Sandbox.restore(loaded, { stdout: "ignore" });
      restoreMs.push(ms(t));
      await restored.kill();
      await restored.wait().catch(() => undefined);
      rmSync(dir, { recursive: true });

      t = process.hrtime.bigint();
      await small.checkpoint();
      smallMs.push(ms(t));
    }
  } finally {
    await sb[Symbol.asyncDispose]();
    await small[Symbol.asyncDispose]();
    rmSync(work, { recursive: true, force: true });
  }
  return {
    dirtyMiB: DIRTY_MIB,
    checkpointMs: summarize(checkpointMs),
    rawReadMs: summarize(rawReadMs),
    ratioToRawRead: summarize(checkpointMs.map((c, i) => c / rawReadMs[i]!)),
    imageBytes,
    memoryBytes,
    saveMs: summarize(saveMs),
    loadMs: summarize(loadMs),
    restoreMs: summarize(restoreMs),
    ratioRestoreToLoad: summarize(restoreMs.map((x, i) => x / loadMs[i]!)),
    smallCheckpointMs: summarize(smallMs),
  };
}

export function reportCheckpoint(c: CheckpointBench): string {
  const mib = (n: number): string => `${(n / (1 << 20)).toFixed(1)} MiB`;
  return [
    `Checkpoint of a process with ${c.dirtyMiB} MiB of dirty heap`,
    `  ${"sb.checkpoint()".padEnd(34)} ${fmt(c.checkpointMs, " ms", 1)}`,
    `  ${"process_vm_readv of the same pages".padEnd(34)} ${fmt(c.rawReadMs, " ms", 1)}`,
    `  ${"ratio to the raw read".padEnd(34)} ${fmt(c.ratioToRawRead, "x", 2)}`,
    `  ${"cp.save(dir) (fsync included)".padEnd(34)} ${fmt(c.saveMs, " ms", 1)}`,
    `  ${"Checkpoint.load(dir) (verified)".padEnd(34)} ${fmt(c.loadMs, " ms", 1)}`,
    `  ${"Sandbox.restore(loaded)".padEnd(34)} ${fmt(c.restoreMs, " ms", 1)}`,
    `  ${"ratio of restore to load".padEnd(34)} ${fmt(c.ratioRestoreToLoad, "x", 2)}`,
    `  ${"image size".padEnd(34)} ${mib(c.imageBytes)} (memory captured ${mib(c.memoryBytes)})`,
    `  ${"sb.checkpoint() of sleep".padEnd(34)} ${fmt(c.smallCheckpointMs, " ms", 1)}`,
  ].join("\n");
}
