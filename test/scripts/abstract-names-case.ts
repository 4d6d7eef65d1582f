// Abstract unix names from inside a sandbox, as whoever runs this (handlers/net.ts
// unixBind): in each view, a datagram socket bound to a name of the sandbox's choosing
// while the host sends a datagram to that name, a stream socket bound to one (no listen),
// an autobind, a bind to a path under a writable grant; the same datagram bind without a
// sandbox (the control); and the race of a thread that turns a path into an abstract name
// while the bind is decided. Prints one JSON line.
// Usage: abstract-names-case.js FIXTURE RACE_MS

import { execFile } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Sandbox } from "../../src/index.js";
import { lines } from "../helpers/fixture-output.js";
import { scriptMain, sharedDir } from "../helpers/script-main.js";

const [fixture, raceMs] = process.argv.slice(2) as [string, string];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const bare = (args: readonly string[]): Promise<Record<string, string>> =>
  new Promise((resolve) => execFile(fixture, args, { timeout: 10_000 }, (_e, stdout) => resolve(lines(stdout))));

/** `start(dir, name)` binds a datagram socket to the abstract name (unique to this run) and
 * makes dir/ready; then the host sends one datagram there, and dir/done ends the wait. */
async function dgram(dir: string, start: (dir: string, name: string) => Promise<{ got: Record<string, string>; [k: string]: unknown }>): Promise<Record<string, unknown>> {
  const name = `sandlock-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  let ended = false;
  const run = start(dir, name).finally(() => (ended = true));
  while (!ended && !existsSync(join(dir, "ready"))) await sleep(10);
  const host = ended ? null : await bare(["send", name]);
  writeFileSync(join(dir, "done"), "");
  return { ...(await run), host };
}

scriptMain("/tmp/sl-abstract-names-", async (base) => {
  const out: Record<string, unknown> = {};
  for (const procView of ["supervised", "kernel"] as const) {
    const dir = sharedDir(base, procView);
    const policy = { fsReadable: [fixture], fsWritable: [dir], procView };
    const view: Record<string, unknown> = {};
    view.dgram = await dgram(sharedDir(base, `${procView}-dgram`), async (d, name) => {
      const r = await Sandbox.run({ ...policy, fsWritable: [dir, d] }, [fixture, "dgram", d, name], { timeout: 20_000 });
      return { procView: r.procView, exitCode: r.exitCode, got: lines(r.stdoutText), refused: r.refused.filter((x) => x.syscall === "bind") };
    });
    for (const [key, args] of [["stream", ["stream", `sandlock-test-${process.pid}-stream`]], ["autobind", ["autobind"]], ["path", ["path", join(dir, "s")]]] as const) {
      const r = await Sandbox.run(policy, [fixture, ...args], { timeout: 20_000 });
      view[key] = { exitCode: r.exitCode, got: lines(r.stdoutText) };
    }
    const race = await Sandbox.run(policy, [fixture, "race", join(dir, "r"), raceMs], { timeout: 30_000 });
    const m = /race tries (\d+) path (\d+) abstract (\d+) refused (\d+)/.exec(race.stdoutText);
    view.race = m === null ? { stdout: race.stdoutText, stderr: race.stderrText.slice(-500) } : { tries: Number(m[1]), path: Number(m[2]), abstract: Number(m[3]), refused: Number(m[4]) };
    out[procView] = view;
  }
  // Control: the same datagram bind without a sandbox receives the host's datagram.
  out.bare = await dgram(sharedDir(base, "bare"), (d, name) => bare(["dgram", d, name]).then((got) => ({ got })));
  return out;
});
