// policyFn's file events (policyFnFiles, SPEC 6): the callback sees every open with the
// real path the supervisor opens, its verdicts hold, ctx.denyPath applies to later opens
// (a descriptor already open stays), allowPath lifts part of a denial, a path rewritten
// during the callback never gets the denied file opened (the control does), and a path the
// static policy refuses stays refused whatever the verdict.

import assert from "node:assert/strict";
import { test } from "node:test";
import { Policy } from "../../src/index.js";
import { scriptCase } from "../helpers/harness.js";

scriptCase("policyFn file events: audit, deny, errno, denyPath after the first read, allowPath inside a denied directory, a path flipped during the callback (zero wins; the control reads both), static denials, bad ctx arguments", "dist/test/scripts/policy-files-case.js", ["${PROBE}"], (o) => {
  const { A, dir, hidden } = o;
  // Every open is an event, with the real path: the shell's libraries, the file read, the file created.
  assert.equal(o.audit.stdout, "Awrote\n", o.audit.stderr);
  assert.ok(o.audit.events.includes(`openat ${A} denied=false ppid=true`), o.audit.events.join("\n"));
  assert.ok(o.audit.events.includes(`openat ${dir}/new denied=false ppid=true`), o.audit.events.join("\n"));
  assert.ok(o.audit.events.some((e: string) => /^openat \/(usr\/)?lib.*libc\.so\.6 denied=false/.test(e)), "the loader's opens are events too");
  // Deny: the open fails with EPERM and is listed; the control reads the file.
  assert.equal(o.denied.stdout, "refused\n");
  assert.ok(o.denied.refused.includes(`openat 1 ${A}: denied by policyFn`) || o.denied.refused.includes(`openat EPERM ${A}: denied by policyFn`), o.denied.refused.join("\n"));
  assert.equal(o.deniedControl.stdout, "A");
  assert.equal(o.errno.stdout, "first EIO second EIO kept EIO\n");
  // denyPath at the first read: the second open is refused without asking, the first descriptor still reads.
  assert.equal(o.denyAfter.stdout, "first ok second EACCES kept ok\n", o.denyAfter.stderr);
  assert.equal(o.denyAfter.events.filter((e: string) => e.startsWith(`openat ${A} `)).length, 1);
  assert.ok(o.denyAfter.refused.includes(`openat EACCES ${A}: denied by policyFn's ctx.denyPath`), o.denyAfter.refused.join("\n"));
  assert.equal(o.allowInside.stdout, "A\nb-refused\nA", o.allowInside.stderr);
  // The race: no read of B ever, while the control reads both.
  const flip = /A-reads (\d+) B-reads (\d+) refused (\d+)/.exec(o.flip.stdout);
  assert.ok(flip, o.flip.stdout + o.flip.stderr);
  assert.equal(Number(flip[2]), 0, "B is never opened for the callback that denies it");
  assert.ok(Number(flip[1]) > 0);
  const control = /A-reads (\d+) B-reads (\d+) refused (\d+)/.exec(o.flipControl.stdout);
  assert.ok(control && Number(control[2]) > 0 && Number(control[1]) > 0, `control: both files are read (${o.flipControl.stdout})`);
  // Outside every grant: the event says so, and "allow" does not widen the policy.
  assert.equal(o.outside.stdout, "refused\n");
  assert.ok(o.outside.events.includes(`openat ${hidden} denied=true ppid=true`), o.outside.events.join("\n"));
  assert.ok(o.bad.refused.includes(`openat EPERM ${A}: policyFn threw: SandboxError: policyFn: ctx.denyPath() takes an absolute path, got "relative/path"`), o.bad.refused.join("\n"));
});

test("policyFnFiles: needs policyFn, is a boolean, and needs the supervisor; each refused by name", () => {
  assert.throws(() => new Policy({ policyFnFiles: true }), { field: "policyFnFiles", message: "policyFnFiles: true requires policyFn (the callback that decides the opens)" });
  assert.throws(() => new Policy({ policyFn: () => "allow", policyFnFiles: "yes" as unknown as boolean }), { field: "policyFnFiles", message: `policyFnFiles: "yes" is not a boolean (true or false)` });
  assert.equal(new Policy({ policyFn: () => "allow", policyFnFiles: true }).policyFnFiles, true);
  assert.equal(new Policy(new Policy({ policyFn: () => "allow", policyFnFiles: true })).policyFnFiles, true, "a copy keeps it");
});
