// Pipelines against the real kernel, as whoever runs this: three stages with their own
// policies, early exits both ways, a middle stage killed from outside, a timeout, a stage
// that cannot start, and this process's descriptors afterwards. Prints one JSON line.
// Usage: pipeline-case.js

import { mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { Pipeline, Sandbox, Stage, type RunResult } from "../../src/index.js";

const SYSTEM = { fsReadable: ["/usr", "/lib", "/lib64", "/bin"] };
const dir = mkdtempSync("/tmp/sandlock-pipe-");
writeFileSync(join(dir, "secret.txt"), "alpha\nbeta\ngamma\n");

const summary = (r: RunResult) => ({ out: r.stdout?.toString() ?? null, stages: r.stages.map((s) => ({ status: s.status, code: s.exitCode, signal: s.signal, err: s.stderrText })) });

/** Within ms, or "hung". */
async function bounded<T>(p: Promise<T>, ms: number): Promise<T | "hung"> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<"hung">((r) => (timer = setTimeout(() => r("hung"), ms)));
  try {
    return await Promise.race([p, hung]);
  } finally {
    clearTimeout(timer);
  }
}

/** Pipes this process holds open. */
function pipesHeld(): number {
  return readdirSync("/proc/self/fd").filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`).startsWith("pipe:");
    } catch {
      return false;
    }
  }).length;
}

const before = pipesHeld();
// Each stage its own policy: only the first may read the file; the second tries too.
const reader = new Stage({ ...SYSTEM, fsReadable: [...SYSTEM.fsReadable, dir] }, ["cat", join(dir, "secret.txt")]);
const filter = new Sandbox(SYSTEM).cmd(["sh", "-c", `cat ${join(dir, "secret.txt")} 2>/dev/null && echo LEAK; grep -e a -e LEAK`]);
const count = new Stage(SYSTEM, ["wc", "-l"]);
const three = summary(await reader.pipe(filter).pipe(count).run());

// Early exits: the reader stops (head), the writer gets SIGPIPE; the writer stops (false), the reader EOF.
const headEarly = summary((await bounded(Pipeline.of(new Stage(SYSTEM, ["yes"]), new Stage(SYSTEM, ["head", "-n", "2"])).run(), 20_000)) as RunResult);
const writerEarly = summary((await bounded(Pipeline.of(new Stage(SYSTEM, ["false"]), new Stage(SYSTEM, ["cat"])).run(), 20_000)) as RunResult);

// A middle stage killed from outside: nothing hangs.
const running = await Pipeline.of(new Stage(SYSTEM, ["yes"]), new Stage(SYSTEM, ["sleep", "1000"]), new Stage(SYSTEM, ["cat"])).spawn();
const middlePid = running.sandboxes[1]!.pid!;
setTimeout(() => process.kill(middlePid, "SIGKILL"), 200);
const killedMiddle = await bounded(running.wait(), 20_000);

const timedOut = await bounded(Pipeline.of(new Stage(SYSTEM, ["sleep", "100"]), new Stage(SYSTEM, ["cat"])).run({ timeout: 300 }), 20_000);
// The timeout and the caller's signal end the pipeline whatever the garbage collector does
// meanwhile: Node 20 collected an AbortSignal.timeout inside an AbortSignal.any, and the
// pipeline ran on past its timeout (one run in 50; every run with a collection every 10 ms).
setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;
const collecting = setInterval(gc, 10);
const timedOutGc = await bounded(Pipeline.of(new Stage(SYSTEM, ["sleep", "100"]), new Stage(SYSTEM, ["cat"])).run({ timeout: 300 }), 20_000);
const caller = new AbortController();
setTimeout(() => caller.abort(), 300);
const abortedGc = await bounded(Pipeline.of(new Stage(SYSTEM, ["sleep", "100"]), new Stage(SYSTEM, ["cat"])).run({ signal: caller.signal }), 20_000);
clearInterval(collecting);
let cannotStart: string;
try {
  await Pipeline.of(new Stage(SYSTEM, ["sleep", "100"]), new Stage(SYSTEM, ["/nonexistent-sandlock/cmd"])).run();
  cannotStart = "ran";
} catch (e) {
  cannotStart = (e as Error).message;
}
const errors: string[] = [];
for (const bad of [() => Pipeline.of(new Stage(SYSTEM, ["true"])), () => new Stage(SYSTEM, []), () => Pipeline.of(new Stage(SYSTEM, ["true"]), "ls" as never)]) {
  try {
    bad();
  } catch (e) {
    errors.push((e as Error).message);
  }
}
const input = summary(await Pipeline.of(new Stage(SYSTEM, ["tr", "a-z", "A-Z"]), new Stage(SYSTEM, ["rev"])).run({ input: "inherit\n" }));
const after = pipesHeld();
rmSync(dir, { recursive: true, force: true });
console.log(JSON.stringify({
  three, headEarly, writerEarly,
  killedMiddle: killedMiddle === "hung" ? "hung" : summary(killedMiddle),
  timedOut: timedOut === "hung" ? "hung" : summary(timedOut),
  timedOutGc: timedOutGc === "hung" ? "hung" : summary(timedOutGc),
  abortedGc: abortedGc === "hung" ? "hung" : summary(abortedGc),
  cannotStart, errors, input, pipesBefore: before, pipesAfter: after,
}));
