// The output and input API under a real sandbox, as the user running it: input is data
// ("inherit" included), maxBuffer ends a run with OutputLimitError, buffer: false streams
// with backpressure, lines(). Prints one JSON line. Usage: output-case.js PROBE [sub]

import { spawn } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, chmodSync } from "node:fs";
import { join } from "node:path";
import { OutputLimitError, Sandbox } from "../../src/index.js";

const probe = process.argv[2]!;
const policy = { fsReadable: [probe, "/usr", "/lib", "/lib64", "/bin"] };
const BLOCK = 64 * 1024;
const SECRET = "host-stdin-secret-7f3a";

/** The process's RSS in bytes, read now. */
const rss = (): number => process.memoryUsage.rss();

/** Sub-process mode: stdin is a file holding SECRET; what two sandboxes read from stdin. */
async function sub(): Promise<void> {
  const asData = await Sandbox.run(policy, ["/bin/cat"], { input: "inherit" });
  const asMode = await Sandbox.run(policy, ["/bin/cat"], { stdin: "inherit" });
  console.log(JSON.stringify({ asData: asData.stdout!.toString(), asMode: asMode.stdout!.toString() }));
}

/** input "inherit" is data; the positive control, stdin "inherit", does reach the host's stdin. */
async function inputIsData(): Promise<unknown> {
  const dir = mkdtempSync("/tmp/sandlock-input-");
  chmodSync(dir, 0o755);
  const file = join(dir, "stdin");
  writeFileSync(file, SECRET);
  const fd = openSync(file, "r");
  try {
    const child = spawn(process.execPath, [process.argv[1]!, probe, "sub"], { stdio: [fd, "pipe", "inherit"] });
    let out = "";
    child.stdout!.on("data", (c: Buffer) => (out += c.toString()));
    await new Promise((r) => child.once("close", r));
    return JSON.parse(out.trim().split("\n").pop()!);
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A run writing 16 MiB with maxBuffer 1 MiB, and the control with maxBuffer 32 MiB. */
async function overflow(): Promise<unknown> {
  const before = rss();
  let error: Record<string, unknown> | null = null;
  try {
    await Sandbox.run(policy, [probe, "write-blocks", "256", String(BLOCK)], { maxBuffer: 1 << 20 });
  } catch (e) {
    if (!(e instanceof OutputLimitError)) throw e;
    error = { name: e.name, code: e.code, message: e.message, stream: e.stream, maxBuffer: e.maxBuffer, status: e.result.status, kept: e.result.stdout!.length };
  }
  const growth = rss() - before;
  let stderrError: Record<string, unknown> | null = null;
  try {
    await Sandbox.run(policy, ["/bin/sh", "-c", 'exec "$0" write-blocks 64 65536 >&2', probe], { maxBuffer: 100_000 });
  } catch (e) {
    if (!(e instanceof OutputLimitError)) throw e;
    stderrError = { stream: e.stream, kept: e.result.stderr!.length, message: e.message };
  }
  const control = await Sandbox.run(policy, [probe, "write-blocks", "256", String(BLOCK)], { maxBuffer: 32 << 20 });
  return { error, growth, stderrError, control: { status: control.status, exitCode: control.exitCode, length: control.stdout!.length } };
}

/** The state letter of /proc/PID/stat, or "gone". */
function procState(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  } catch {
    return "gone";
  }
}

/**
 * buffer: false and nobody reading stdout: the writer must stop (asleep, its progress on
 * stderr unchanged between two looks) after about the pipe's capacity plus the socket's
 * read-ahead. Then reading everything lets it finish. Progress is read with lines().
 */
async function backpressure(): Promise<unknown> {
  const blocks = 512; // 32 MiB
  const sb = new Sandbox(policy);
  await sb.spawn([probe, "write-blocks", String(blocks), String(BLOCK)], { buffer: false });
  let progress = 0;
  const progressDone = (async () => {
    for await (const line of sb.lines("stderr")) progress = Number(line);
  })();
  // Wait (no assertion on time) until the writer is asleep with no progress, or gone.
  let last = -1;
  for (;;) {
    await new Promise((r) => setTimeout(r, 50));
    const state = procState(sb.pid!);
    if (state === "gone" || state === "Z") break;
    if (state === "S" && progress === last) break;
    last = progress;
  }
  const stalledAt = progress;
  let read = 0;
  for await (const c of sb.stdout!) read += (c as Buffer).length;
  const r = await sb.wait();
  await progressDone;
  return { stalledAtBytes: stalledAt * BLOCK, totalBytes: blocks * BLOCK, read, status: r.status, exitCode: r.exitCode, kept: r.stdout, finalProgress: progress };
}

/** The control of backpressure: with buffer true sandlock reads for the caller, who never
 * touches sb.stdout, and the writer finishes. */
async function noBackpressureWhenBuffered(): Promise<unknown> {
  const sb = new Sandbox(policy);
  await sb.spawn([probe, "write-blocks", "512", String(BLOCK)]);
  const r = await sb.wait();
  return { status: r.status, exitCode: r.exitCode, length: r.stdout!.length };
}

/** 256 MiB streamed with buffer: false: the parent's memory must not follow the volume. */
async function streaming(): Promise<unknown> {
  const blocks = 4096;
  const before = rss();
  let peak = before;
  const sb = new Sandbox(policy);
  await sb.spawn([probe, "write-blocks", String(blocks), String(BLOCK)], { buffer: false, stderr: "ignore" });
  let read = 0;
  for await (const c of sb.stdout!) {
    read += (c as Buffer).length;
    if ((read & 0xffffff) < BLOCK) peak = Math.max(peak, rss());
  }
  const r = await sb.wait();
  peak = Math.max(peak, rss());
  return { read, totalBytes: blocks * BLOCK, peakGrowth: peak - before, status: r.status, exitCode: r.exitCode, kept: r.stdout };
}

if (process.argv[3] === "sub") {
  await sub();
} else {
  const out = {
    input: await inputIsData(),
    overflow: await overflow(),
    backpressure: await backpressure(),
    buffered: await noBackpressureWhenBuffered(),
    streaming: await streaming(),
  };
  console.log(JSON.stringify(out));
}
