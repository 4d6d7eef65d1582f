// A named sandbox's registry entry against the clients that read the registry at the same
// moment (`sandlock ps`, inspect, kill: client.ts's ask()). A client that finds an entry
// nobody listens on removes it as stale; an owner's entry must therefore never be seen
// before it listens, nor be removed for another entry's death. A CI run lost an entry that
// way: `sandlock ps` never listed a sandbox started a moment before (docs/running.md).
// Raced for a bounded time. Narrowed, not closed: an entry is named by inode number and
// change time (server.ts, entryId), and a freed inode's number comes back at once on ext4
// while a fresh inode's change time is coarse (a clock tick) until someone looks at it, so
// a client that found an entry dead can still remove the next one made within that tick
// under the same number: 2 of 14,721 claims once in CI (61 of 50,568 and 99 of 46,768 before
// the link and the id). Zero losses is todo; the regression check holds the fix to fewer
// than 1 in 2,000 claims.

import { spawn } from "node:child_process";
import { lstatSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { test } from "node:test";
import assert from "node:assert/strict";
import { entryFile } from "../../src/registry/protocol.js";

const RACE_MS = 4000;

/** Claims made and claims that lost their entry, from the one race this file runs. */
let raced: { claims: number; lost: Set<number>; report: string } | undefined;

test("a client asking while owners claim and release a name seldom removes a listening entry (raced: fewer than 1 in 2,000 claims; 1 in 470 to 830 before)", async () => {
  const runtime = mkdtempSync(join(tmpdir(), "sandlock-claim-"));
  try {
    process.env.XDG_RUNTIME_DIR = runtime;
    const { claimName } = await import("../../src/registry/server.js");
    const path = join(runtime, "sandlock", entryFile("racy"));
    // The racer: another process asking the entry as fast as it can, as `sandlock ps` does.
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
    const lost: string[] = [];
    const end = Date.now() + RACE_MS;
    while (Date.now() < end) {
      const reg = await claimName("racy");
      assert.ok(reg !== undefined, "the runtime directory is usable");
      claims++;
      // The entry must be there, a socket, for as long as its owner holds it: let the
      // racer's requests in (a turn of the event loop) and look again.
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
      reg.close();
    }
    assert.equal(await racerDone, 0, "the racer ran to its end");
    const counts = JSON.parse(racerOut) as Record<string, number>;
    // The race happened: the racer reached live entries and found none too.
    assert.ok((counts.answered ?? 0) + (counts.failed ?? 0) > 0, `the racer never reached a live entry: ${racerOut}`);
    assert.ok(claims > 100, `only ${claims} claims in ${RACE_MS} ms`);
    const lostClaims = new Set(lost.map((l) => Number(/^claim (\d+)/.exec(l)![1])));
    raced = { claims, lost: lostClaims, report: `${lostClaims.size} of ${claims} claims lost their entry to the racer (${racerOut}): ${lost.slice(0, 5).join("; ")}` };
    assert.ok(lostClaims.size * 2000 < claims, raced.report);
  } finally {
    rmSync(runtime, { recursive: true, force: true });
  }
});

test("a client asking while owners claim and release a name never removes a listening entry (the same race: zero losses)", { todo: "an entry claimed again within one clock tick under a reused inode number is not told from the old one (see the file's header)" }, () => {
  assert.ok(raced !== undefined, "the race ran");
  assert.equal(raced.lost.size, 0, raced.report);
});
