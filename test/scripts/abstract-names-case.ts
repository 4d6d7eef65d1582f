// Abstract unix names from inside a sandbox, as whoever runs this (handlers/net.ts
// unixBind): in each view, a datagram socket bound to a name of the sandbox's choosing
// while the host sends a datagram to that name, a stream socket bound to one (no listen),
// an autobind, a bind to a path under a writable grant; the same datagram bind without a
// sandbox (the control); and the race of a thread that turns a path into an abstract name
// while the bind is decided. Path binds, which the supervisor makes in the supervised view
// (net-unix.ts bind): the name and mode the socket gets (umask 077, a relative path from
// the working directory), a directory only readable (EACCES), and a thread swapping a
// parent directory with a symlink to a directory outside the grants while binds go through
// it (what lands outside is counted from here; the control runs it without a sandbox); and
// a thread that dup2()s a unix socket onto the number of a TCP socket being bound to an
// address that is an abstract name of an IP address's length.
// Prints one JSON line.
// Usage: abstract-names-case.js FIXTURE RACE_MS

import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
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

/** The swap race in `dir` (its real/, and out -> a directory beside it outside the
 * sandbox's grants): the program's counts and the sockets that landed outside. */
async function swap(dir: string, run: (dir: string) => Promise<string>): Promise<Record<string, unknown>> {
  mkdirSync(join(dir, "real"));
  const outside = `${dir}-outside`;
  mkdirSync(outside);
  symlinkSync(outside, join(dir, "out"));
  const m = /swap tries (\d+) ok (\d+) eacces (\d+) other (\d+)/.exec(await run(dir));
  const counts = m === null ? null : { tries: Number(m[1]), ok: Number(m[2]), eacces: Number(m[3]), other: Number(m[4]) };
  return { ...counts, outside: readdirSync(outside).length, inside: readdirSync(join(dir, "real")).length };
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
    const ro = sharedDir(base, `${procView}-ro`);
    for (const [key, args] of [["umask", ["path", join(dir, "u"), "077"]], ["relative", ["path", "rel", "022", dir]], ["readonly", ["path", join(ro, "x")]]] as const) {
      const r = await Sandbox.run({ ...policy, fsReadable: [fixture, ro] }, [fixture, ...args], { timeout: 20_000 });
      view[key] = { exitCode: r.exitCode, got: lines(r.stdoutText) };
    }
    view.swap = await swap(sharedDir(base, `${procView}-swap`), (d) => Sandbox.run({ ...policy, fsWritable: [dir, d] }, [fixture, "swap", d, raceMs], { timeout: 30_000 }).then((r) => r.stdoutText));
    const dup2 = await Sandbox.run(policy, [fixture, "dup2race", raceMs], { timeout: 30_000 });
    const d = /dup2race tries (\d+) abstract (\d+)/.exec(dup2.stdoutText);
    view.dup2 = d === null ? { stdout: dup2.stdoutText, stderr: dup2.stderrText.slice(-500) } : { tries: Number(d[1]), abstract: Number(d[2]) };
    const race = await Sandbox.run(policy, [fixture, "race", join(dir, "r"), raceMs], { timeout: 30_000 });
    const m = /race tries (\d+) path (\d+) abstract (\d+) refused (\d+)/.exec(race.stdoutText);
    view.race = m === null ? { stdout: race.stdoutText, stderr: race.stderrText.slice(-500) } : { tries: Number(m[1]), path: Number(m[2]), abstract: Number(m[3]), refused: Number(m[4]) };
    out[procView] = view;
  }
  // Control: the same datagram bind without a sandbox receives the host's datagram.
  out.bare = await dgram(sharedDir(base, "bare"), (d, name) => bare(["dgram", d, name]).then((got) => ({ got })));
  // Control: without a sandbox the dup2 race binds the abstract name.
  const d = /^tries (\d+) abstract (\d+)$/.exec((await bare(["dup2race", "300"])).dup2race ?? "");
  out.bareDup2 = d === null ? null : { tries: Number(d[1]), abstract: Number(d[2]) };
  // Control: without a sandbox the swap puts sockets outside.
  out.bareSwap = await swap(sharedDir(base, "bare-swap"), (d) => new Promise((resolve) => execFile(fixture, ["swap", d, "300"], { timeout: 10_000 }, (_e, stdout) => resolve(stdout))));
  return out;
});
