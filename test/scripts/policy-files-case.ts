// policyFn's file events (policyFnFiles) through the library, as whoever runs this: an
// audit of every open, an open the callback denies or answers with an errno, denyPath after
// the first read (a descriptor already open still reads), allowPath inside a denied
// directory, a thread flipping the path buffer during the callback (and the same with every
// open allowed: the control), a static denial, a bad ctx argument. Prints one JSON line.
// Usage: policy-files-case.js PROBE

import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { Sandbox, type PolicyEvent, type PolicyInput } from "../../src/index.js";

const [probe] = process.argv.slice(2) as [string];
const dir = mkdtempSync("/tmp/sandlock-pfiles-");
chmodSync(dir, 0o755);
const A = join(dir, "aaaa");
const B = join(dir, "bbbb");
writeFileSync(A, "A", { mode: 0o644 });
writeFileSync(B, "B", { mode: 0o644 });
const outside = mkdtempSync("/tmp/sandlock-pfiles-out-");
chmodSync(outside, 0o755);
const hidden = join(outside, "h");
writeFileSync(hidden, "H", { mode: 0o644 });
const BASE: PolicyInput = { fsReadable: ["/usr", "/lib", "/lib64", "/bin", "/etc", dirname(probe)], fsWritable: [dir] };

type Fn = NonNullable<PolicyInput["policyFn"]>;
async function run(fn: Fn | undefined, argv: string[]) {
  const events: string[] = [];
  const policyFn = fn === undefined ? undefined : (e: PolicyEvent, ctx: Parameters<Fn>[1]) => {
    if (e.category === "file") events.push(`${e.syscall} ${e.path} denied=${e.denied} ppid=${e.parentPid > 0}`);
    return fn(e, ctx);
  };
  const r = await Sandbox.run({ ...BASE, ...(policyFn ? { policyFn, policyFnFiles: true } : {}) }, argv, { timeout: 120_000 });
  return { code: r.exitCode, stdout: r.stdout!.toString(), stderr: r.stderr!.toString(), refused: r.refused.map((x) => `${x.syscall} ${x.errno} ${x.target}: ${x.why}`), events };
}

const out: Record<string, unknown> = { A, B, dir, hidden };
out.audit = await run(() => "audit", ["/bin/sh", "-c", `cat ${A}; echo x > ${dir}/new && echo wrote`]);
out.denied = await run((e) => (e.path === A ? "deny" : "allow"), ["/bin/sh", "-c", `cat ${A} || echo refused`]);
out.deniedControl = await run(undefined, ["/bin/sh", "-c", `cat ${A} || echo refused`]);
out.errno = await run((e) => (e.path === A ? { errno: 5 } : "allow"), [probe, "read-twice", A]);
let first = true;
out.denyAfter = await run((e, ctx) => {
  if (e.path === A && first) {
    first = false;
    ctx.denyPath(A);
  }
  return "allow";
}, [probe, "read-twice", A]);
let once = true;
out.allowInside = await run((e, ctx) => {
  if (e.path === A && once) {
    once = false;
    ctx.denyPath(dir);
    ctx.allowPath(A);
  }
  return "allow";
}, ["/bin/sh", "-c", `cat ${A}; echo; cat ${B} || echo b-refused; cat ${A}`]);
out.flip = await run((e) => (e.path === B ? "deny" : "allow"), [probe, "open-flip", A, B, "1500"]);
out.flipControl = await run(() => "allow", [probe, "open-flip", A, B, "1500"]);
out.outside = await run(() => "allow", ["/bin/sh", "-c", `cat ${hidden} || echo refused`]);
out.bad = await run((e, ctx) => {
  if (e.path === A) ctx.denyPath("relative/path");
  return "allow";
}, ["/bin/sh", "-c", `cat ${A} || echo refused`]);
rmSync(dir, { recursive: true, force: true });
rmSync(outside, { recursive: true, force: true });
process.stdout.write(`${JSON.stringify(out)}\n`);
