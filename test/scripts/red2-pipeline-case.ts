// Pipeline stages looking around, as whoever runs this: three stages of the probe's
// "red2-stage" (its descriptors, the processes whose descriptors it can list) under a
// policy that lets it read /proc; the same probe unsandboxed with a descriptor more (the
// control). Prints one JSON line. Usage: red2-pipeline-case.js PROBE

import { spawn } from "node:child_process";
import { Pipeline, Stage } from "../../src/index.js";

const probe = process.argv[2]!;
const stage = (): Stage => new Stage({ fsReadable: [probe, "/proc"] }, [probe, "red2-stage"]);
const r = await Pipeline.of(stage(), stage(), stage()).run({ input: "through three stages\n", timeout: 60_000 });

// Control: the listing sees what a process is given (fd 3 here) and the processes of its
// user outside any sandbox (this script's at least).
const bare = await new Promise<string>((resolve) => {
  const c = spawn(probe, ["red2-stage"], { stdio: ["ignore", "ignore", "pipe", "pipe"] });
  let err = "";
  c.stdio[2]!.on("data", (d: Buffer) => (err += d.toString()));
  c.on("close", () => resolve(err));
});

console.log(JSON.stringify({
  out: r.stdout?.toString() ?? null,
  stages: r.stages.map((s) => ({ status: s.status, code: s.exitCode, err: s.stderr?.toString() ?? "", procView: s.procView })),
  bare,
}));
