// A process of a traced sandbox (timeStart, policyFn) makes a child with clone(CLONE_UNTRACED),
// which the launcher's PTRACE_O_TRACEFORK/CLONE would not attach: that child's exec would
// get the host's vDSO (the real clock) and no exec check (policyFn's approval raced by a
// rewriting thread would stand). Prints one JSON line. Usage: untraced-case.js PROBE
import { Sandbox, type PolicyEvent } from "../../src/index.js";

const probe = process.argv[2]!;
const SYSTEM = ["/usr", "/lib", "/lib64", "/bin"];
const time = { fsReadable: [...SYSTEM, probe], timeStart: "2000-01-01T00:00:00Z" };
const date = async (flags: string, policy: object): Promise<string> => (await Sandbox.run(policy, [probe, "red3-untraced", flags, "/bin/date", "+%Y"])).stdoutText.trim();
const raceFn = (e: PolicyEvent) =>
  e.path === probe && (e.argv![1] === "red3-untraced" || e.argv![1] === "exec-race" || (e.argv![1] === "race-landed" && e.argv![2] === "ok" && e.env!.join("\n") === "SL_RACE=ok")) ? "allow" as const : "deny" as const;
const race = async (flags: string): Promise<string> =>
  (await Sandbox.run({ fsReadable: [...SYSTEM, probe], policyFn: raceFn }, [probe, "red3-untraced", flags, probe, "exec-race", probe, "50", "20"])).stdoutText.trim();

console.log(JSON.stringify({
  // Controls: a plain child reads timeStart's year; without timeStart the host's year.
  timeTraced: await date("0", time),
  timeHost: await date("0", { fsReadable: [...SYSTEM, probe] }),
  timeUntraced: await date("800000", time),
  timeUntracedVfork: await date("804000", time),
  // Control: the exec race in a plain child runs, and is held by the exec stop.
  raceTraced: await race("0"),
  raceUntraced: await race("800000"),
  year: new Date().getUTCFullYear(),
}));
