// Measures, from the supervising process itself, what a sandbox makes it hold: runs the
// probe's red-rights-flood with N senders, waits until they are all blocked in sends the
// supervisor performs, and prints one JSON line: descriptors of this process before and
// during, and whether another sandbox can still start. Usage: redteam-case.js PROBE N

import { readdirSync } from "node:fs";
import { Sandbox } from "../../src/index.js";

const [probe, n] = process.argv.slice(2) as [string, string];
const SETTLE_MS = 3000;

const fds = (): number => readdirSync("/proc/self/fd").length;

async function main(): Promise<void> {
  const before = fds();
  const sb = new Sandbox({ fsReadable: [probe] });
  await sb.spawn([probe, "red-rights-flood", n], { stdout: "pipe" });
  let out = "";
  sb.stdout!.on("data", (c: Buffer) => (out += c.toString()));
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  const during = fds();
  let second: string;
  try {
    second = (await Sandbox.run({ fsReadable: [probe] }, [probe, "exit", "0"], { timeout: 10_000 })).status;
  } catch (e) {
    second = `${(e as Error).name}: ${(e as Error).message}`;
  }
  await sb.kill();
  await sb.wait();
  process.stdout.write(JSON.stringify({ out: out.trim(), before, during, second }) + "\n");
}

void main();
