// One race of test/integration/registry-claim.test.ts, as whichever user runs it: an owner
// claiming and releasing a name (every other one dying as a SIGKILLed owner would, its
// entry left stale) against another process asking the entry as `sandlock ps` does, for
// RACE_MS. Prints one JSON line: the claims made, those whose entry was gone or replaced
// while its owner held it, and what the racer's requests met.
// Usage: registry-race.js

import { spawn } from "node:child_process";
import { lstatSync, mkdtempSync, rmSync } from "node:fs";
import type { Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { entryFile } from "../../src/registry/protocol.js";

const RACE_MS = 3000;

const runtime = mkdtempSync(join(tmpdir(), "sandlock-claim-"));
try {
  process.env.XDG_RUNTIME_DIR = runtime;
  const { claimName } = await import("../../src/registry/server.js");
  const path = join(runtime, "sandlock", entryFile("racy"));
  const client = pathToFileURL(join(import.meta.dirname, "../../src/registry/client.js")).href;
  const racer = spawn(process.execPath, ["--input-type=module", "-e", `
    const { ask } = await import(${JSON.stringify(client)});
    const counts = {};
    const end = Date.now() + ${RACE_MS};
    while (Date.now() < end) { const o = await ask(${JSON.stringify(path)}, "info"); counts[o.kind] = (counts[o.kind] ?? 0) + 1; }
    console.log(JSON.stringify(counts));`], { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env } });
  let racerOut = "";
  racer.stdout.on("data", (c: Buffer) => (racerOut += c.toString()));
  const racerDone = new Promise<number | null>((resolve) => racer.on("exit", (code) => resolve(code)));
  let claims = 0;
  let unregistered = 0;
  const lost: string[] = [];
  const end = Date.now() + RACE_MS;
  while (Date.now() < end) {
    const reg = await claimName("racy");
    if (reg === undefined) {
      unregistered++;
      continue;
    }
    claims++;
    // The entry must be there, a socket, for as long as its owner holds it: let the racer's
    // requests in (a turn of the event loop) and look again.
    const seen = (when: string): void => {
      try {
        if (!lstatSync(path).isSocket()) lost.push(`claim ${claims}: ${when}: not a socket`);
      } catch (e) {
        lost.push(`claim ${claims}: ${when}: ${(e as NodeJS.ErrnoException).code}`);
      }
    };
    seen("just claimed");
    await new Promise((resolve) => setImmediate(resolve));
    seen("a turn later");
    // Every other owner dies as a SIGKILLed one would: its server closed, its entry left
    // stale for the racer and the next claim to remove, both at once.
    if (claims % 2 === 0) reg.close();
    else (reg as unknown as { server: Server }).server.close();
  }
  const racerCode = await racerDone;
  const lostClaims = new Set(lost.map((l) => Number(/^claim (\d+)/.exec(l)![1])));
  console.log(JSON.stringify({ claims, unregistered, lostClaims: lostClaims.size, lost: lost.slice(0, 5), racerCode, racer: JSON.parse(racerOut || "{}") as Record<string, number> }));
} finally {
  rmSync(runtime, { recursive: true, force: true });
}
