// The sixteenth review's measured cases (test/integration/redteam16.test.ts): a sandbox run
// under maxMemory while this process's event loop gaps and CPU are measured. Prints one JSON
// line. Usage: red16-case.js RT16 cost NWATCH NDUP NPIPE
//
// cost: the sandbox (maxMemory 12M) runs `rt16 inotify-dup DIR NWATCH NDUP 6 NPIPE`: an
// inotify descriptor of NWATCH watches (a fdinfo text of about 120 bytes a watch) duplicated
// NDUP times, read whole by every lock count (once a second); 1.5 s in it makes NPIPE pipes
// (64 KiB each of the cap, charged by the looks). Reports when the sandbox ended, how, and
// this process's worst event-loop gap and CPU.

import { Sandbox } from "../../src/index.js";
import { measured, scriptMain, sharedDir } from "../helpers/script-main.js";

const [rt16, mode, ...rest] = process.argv.slice(2) as [string, string, ...string[]];

async function cost(base: string, nwatch: string, ndup: string, npipe: string): Promise<Record<string, unknown>> {
  const dir = sharedDir(base, `w-${ndup}`);
  const t0 = Date.now();
  const m = await measured(() => Sandbox.run({ fsReadable: [rt16], fsWritable: [dir], maxMemory: "12M" }, [rt16, "inotify-dup", dir, nwatch, ndup, "6", npipe], { timeout: 20_000 }));
  const r = m.value;
  const out = r.stdoutText;
  const ready = /^watches (\d+) dups (\d+) fdinfo (\d+) bytes$/m.exec(out);
  const pipes = /^pipes (\d+) at (\d+) ms$/m.exec(out);
  return {
    out: out.trim(),
    ms: Date.now() - t0,
    status: r.status,
    limit: r.limit?.kind ?? null,
    used: r.limit?.used ?? null,
    watches: ready === null ? null : Number(ready[1]),
    dups: ready === null ? null : Number(ready[2]),
    fdinfoBytes: ready === null ? null : Number(ready[3]),
    pipes: pipes === null ? null : Number(pipes[1]),
    pipesStarted: /^pipes start$/m.test(out),
    held: /^held /m.test(out),
    worstGapMs: m.worstGapMs, rawWorstGapMs: m.rawWorstGapMs,
    cpuMs: m.cpuMs,
  };
}

scriptMain("/tmp/sl-red16-", async (base) => {
  switch (mode) {
    case "cost": {
      const [nwatch, ndup, npipe] = rest as [string, string, string];
      return { control: await cost(base, nwatch, "0", npipe), attack: await cost(base, nwatch, ndup, npipe) };
    }
    default:
      throw new Error(`unknown mode ${mode}`);
  }
});
