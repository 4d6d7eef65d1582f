// policyFn's ctx limits through the library, as whoever runs this: restrictMaxProcesses and
// restrictMaxMemory called at the exec of python3 (started by a shell, so a denied exec is
// the shell's child's) (and an attempt to raise again), with
// controls that run the same without them, and the refusals of bad values. One JSON line.
// Usage: policy-ctx-case.js

import { Sandbox, type PolicyEvent, type PolicyInput } from "../../src/index.js";

type Ctx = Parameters<NonNullable<PolicyInput["policyFn"]>>[1];
const BASE: PolicyInput = { fsReadable: ["/usr", "/lib", "/lib64", "/bin", "/etc"] };

async function run(onExec: ((ctx: Ctx) => void) | undefined, code: string, extra: PolicyInput = {}) {
  const policyFn = (e: PolicyEvent, ctx: Ctx) => {
    if (e.syscall.startsWith("execve") && e.path?.endsWith("python3") && onExec) onExec(ctx);
    return "allow" as const;
  };
  const r = await Sandbox.run({ ...BASE, ...extra, policyFn }, ["/bin/sh", "-c", '/usr/bin/python3 -c "$0"', code], { timeout: 60_000 });
  return { status: r.status, code: r.exitCode, stdout: r.stdout!.toString(), stderr: r.stderr!.toString(), limit: r.limit, refused: r.refused.map((x) => `${x.syscall} ${x.errno} ${x.target}: ${x.why}`) };
}

// Five forks, each child sleeping until the parent has tried them all.
const FORKS = `import os, time
ok = fail = 0
kids = []
for i in range(5):
    try:
        pid = os.fork()
    except OSError as e:
        fail += 1
        print("errno", e.errno)
        continue
    if pid == 0:
        time.sleep(1); os._exit(0)
    ok += 1; kids.append(pid)
for k in kids: os.waitpid(k, 0)
print("forks", ok, fail)`;
// 100 MB touched.
const ALLOC = `b = bytearray(100 * 1024 * 1024)
print("allocated", len(b))`;

const out: Record<string, unknown> = {};
out.procs = await run((ctx) => ctx.restrictMaxProcesses(4), FORKS);
out.procsControl = await run(undefined, FORKS);
out.memory = await run((ctx) => {
  ctx.restrictMaxMemory("32M");
  ctx.restrictMaxMemory("1G"); // never raises
}, ALLOC, { maxMemory: "512M" });
out.memoryControl = await run(undefined, ALLOC, { maxMemory: "512M" });
out.badSize = await run((ctx) => ctx.restrictMaxMemory("12X"), "print('ran')", { maxMemory: "512M" });
out.noMemoryLimit = await run((ctx) => ctx.restrictMaxMemory("32M"), "print('ran')");
out.badCount = await run((ctx) => ctx.restrictMaxProcesses(0), "print('ran')");
console.log(JSON.stringify(out));
