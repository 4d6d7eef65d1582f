// SysV objects with sysv_ipc lifted (src/supervise/handlers/sysv.ts), as whoever runs this:
// the fixture (test/fixtures/sysv-objects.c) gives its objects away (IPC_SET), races a
// maker against a remover on one key, makes private objects, and gets a key the host made
// (its own, and as root another user's). After each run the host looks for what was left.
// Prints one JSON line.
// Usage: sysv-case.js SYSV

import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { Sandbox } from "../../src/index.js";
import { lines } from "../helpers/fixture-output.js";
import { scriptMain } from "../helpers/script-main.js";

const [sysv] = process.argv.slice(2) as [string];
const isRoot = process.getuid?.() === 0;
const LIFTED = { fsReadable: [sysv], extraAllowSyscalls: ["sysv_ipc"] };
/** Keys of this run's own. */
const base = 0x5b300000 + ((process.pid & 0xfff) << 6);
const RACE_ROUNDS = 30;
const bare = (args: readonly string[], asUser = false): Record<string, string> =>
  lines(execFileSync(asUser ? "setpriv" : sysv, asUser ? ["--reuid=999", "--regid=999", "--clear-groups", "--", sysv, ...args] : args, { encoding: "utf8" }));
const present = (kind: string): Set<number> =>
  new Set(readFileSync(`/proc/sysvipc/${kind}`, "latin1").split("\n").slice(1).map((l) => Number(l.trim().split(/\s+/)[1])).filter(Number.isInteger));

scriptMain("/tmp/sl-sysv-", async () => {
  const out: Record<string, unknown> = {};
  const run = async (name: string, policy: object, args: readonly string[]): Promise<Record<string, string>> => {
    const r = await Sandbox.run(policy, [sysv, ...args], { timeout: 30_000 });
    out[name] = { procView: r.procView, exitCode: r.exitCode, got: lines(r.stdoutText) };
    return lines(r.stdoutText);
  };
  await run("set supervised", { ...LIFTED, procView: "supervised" }, ["set"]);
  await run("set kernel", { ...LIFTED, procView: "kernel" }, ["set"]);

  // 30 rounds of 40 ms on keys of their own (a CONTINUE of the creating get instead of the
  // supervisor's own get left 6 of 30 behind).
  const raceKey = base + 16;
  await run("race", { ...LIFTED, procView: "supervised" }, ["race", String(raceKey), "40", String(RACE_ROUNDS)]);
  let left = 0;
  for (let i = 0; i < RACE_ROUNDS; i++) {
    const l = bare(["host-left", String(raceKey + i)]);
    left += (l.left_shm !== "none" ? 1 : 0) + (l.left_msg !== "none" ? 1 : 0);
  }
  out["race left"] = left;

  const got = await run("private", { ...LIFTED, procView: "supervised" }, ["private", "20"]);
  const ids = (got.private ?? "").split(" ").map((t) => t.split(":").map(Number));
  const now = { shm: present("shm"), msg: present("msg"), sem: present("sem") };
  out["private left"] = ids.filter(([a, b, c]) => now.shm.has(a!) || now.msg.has(b!) || now.sem.has(c!)).length;

  // A key the host made (this uid's): got, not made, and not removed at the end.
  const hostKey = String(base + 2);
  out["host made"] = bare(["host-make", hostKey, "644"]);
  await run("host get", { ...LIFTED, procView: "supervised" }, ["get", hostKey]);
  out["host left"] = bare(["host-left", hostKey]);

  if (isRoot) {
    // Another user's key, mode 0600: the sandbox (root without capabilities) may not get
    // it; bare root may (CAP_IPC_OWNER): what a supervisor with its own capabilities lent.
    const foreignKey = String(base + 3);
    out["foreign made"] = bare(["host-make", foreignKey, "600"], true);
    await run("foreign get", { ...LIFTED, procView: "supervised" }, ["get", foreignKey]);
    out["foreign bare"] = bare(["get", foreignKey]);
    out["foreign left"] = bare(["host-left", foreignKey]);
  }
  return out;
});
