// The wire contract: every number of native/sl_protocol.h equals its mirror in
// src/plan/protocol.ts, and encodePlan's blob has the framing the launcher parses, with
// the steps of makePlan in a safe order.

import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Policy, type PolicyInput } from "../../src/policy/index.js";
import { computeFeatures, type HostFacts } from "../../src/plan/features.js";
import { encodePlan, makePlan, type CommandSpec, type Plan } from "../../src/plan/plan.js";
import { Cmd, Fatal, LauncherFd, LauncherFlag, MSG_BYTES, Msg, PLAN_MAGIC, PLAN_MAX_BYTES, PLAN_VERSION, Step, SubCall } from "../../src/plan/protocol.js";
import { runFilter } from "../helpers/bpf-interpreter.js";
import { BEFORE_FORK } from "../../src/confine/standby.js";
import { ProcsKind } from "../../src/supervise/fast-path.js";

const HEADER = readFileSync(new URL("../../../native/sl_protocol.h", import.meta.url), "utf8");

/** The value of a #define: integers (hex or decimal, with a u suffix), shifts, char literals. */
function evalDefine(name: string, text: string, file = "sl_protocol.h"): number {
  const t = text.trim().replace(/^\((.*)\)$/, "$1").trim();
  const ch = /^'(.)'$/.exec(t);
  if (ch) return ch[1]!.charCodeAt(0);
  const int = (s: string): number => {
    const m = /^(0x[0-9a-f]+|\d+)u?l*$/i.exec(s.trim());
    if (!m) throw new Error(`${file}: cannot read ${name} = ${text}`);
    return Number(m[1]);
  };
  const shift = /^(.+)<<(.+)$/.exec(t);
  if (shift) return int(shift[1]!) * 2 ** int(shift[2]!);
  return int(t);
}

/** A header's numeric SL_* #defines (its include guard left out). */
function defines(text: string, file: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    const m = /^\s*#define\s+(SL_\w+)\s+(.*?)\s*(\/\*.*\*\/)?\s*$/.exec(line);
    if (!m || m[1]!.endsWith("_H")) continue;
    assert.ok(!out.has(m[1]!), `${m[1]} defined twice in ${file}`);
    out.set(m[1]!, evalDefine(m[1]!, m[2]!, file));
  }
  return out;
}

const DEFS = defines(HEADER, "sl_protocol.h");

function withPrefix(prefix: string, defs: Map<string, number>): Map<string, number> {
  return new Map([...defs].filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]));
}

/** Asserts that the header's PREFIX_* constants and the TypeScript object hold the same pairs. */
function sameTable(prefix: string, ts: Record<string, number | string>, except: readonly string[] = [], defs = DEFS, mirror = "src/plan/protocol.ts"): void {
  const c = withPrefix(prefix, defs);
  for (const e of except) c.delete(e);
  assert.ok(c.size > 0, `no ${prefix}* constants in the header`);
  const tsNumbers = new Map(Object.entries(ts).map(([k, v]) => [k, typeof v === "string" ? v.charCodeAt(0) : v]));
  for (const [k, v] of Object.entries(ts)) if (typeof v === "string") assert.equal(v.length, 1, `${k} is one byte`);
  for (const [name, value] of c) {
    assert.ok(tsNumbers.has(name), `${prefix}${name} has no mirror in ${mirror}`);
    assert.equal(tsNumbers.get(name), value, `${prefix}${name}`);
  }
  for (const name of tsNumbers.keys()) assert.ok(c.has(name), `${name} of ${mirror} is not ${prefix}${name} in the header`);
}

test("the header defines the constants this test checks", () => {
  for (const name of ["SL_PLAN_MAGIC", "SL_PLAN_VERSION", "SL_STEP_PDEATHSIG", "SL_STEP_EXEC", "SL_STEP_MAX", "SL_FD_PLAN", "SL_MSG_EXIT", "SL_FATAL_FORK", "SL_CMD_KILL"]) {
    assert.ok(DEFS.has(name), name);
  }
  assert.equal(DEFS.get("SL_PLAN_MAGIC"), 0x314c5053);
  assert.equal(DEFS.get("SL_CMD_STOP"), 0x53);
  assert.equal(DEFS.get("SL_PLAN_MAX_BYTES"), 64 * 1024 * 1024);
  assert.equal(Buffer.from("SPL1").readUInt32LE(0), 0x314c5053, "the magic reads \"SPL1\" in memory");
});

test("plan magic and version agree", () => {
  assert.equal(PLAN_MAGIC, DEFS.get("SL_PLAN_MAGIC"));
  assert.equal(PLAN_VERSION, DEFS.get("SL_PLAN_VERSION"));
  assert.equal(PLAN_MAX_BYTES, DEFS.get("SL_PLAN_MAX_BYTES"));
});

test("every SL_STEP_* code has its mirror in Step, and SL_STEP_MAX is the largest", () => {
  sameTable("SL_STEP_", Step, ["MAX"]);
  const codes = Object.values(Step).sort((a, b) => a - b);
  assert.equal(DEFS.get("SL_STEP_MAX"), codes[codes.length - 1]);
  assert.deepEqual(codes, codes.map((_, i) => i + 1), "step codes are 1..MAX without gaps or duplicates");
});

test("launcher fds, status messages, fatal codes and commands agree", () => {
  sameTable("SL_FD_", LauncherFd);
  sameTable("SL_MSG_", Msg);
  sameTable("SL_FATAL_", Fatal);
  sameTable("SL_CMD_", Cmd);
  sameTable("SL_SUB_", SubCall);
  sameTable("SL_LAUNCHER_", LauncherFlag);
});

test("the fork credit's kinds agree with native/proccredit.h", () => {
  const text = readFileSync(new URL("../../../native/proccredit.h", import.meta.url), "utf8");
  sameTable("SL_PROCS_", ProcsKind, ["CREDIT_MAX", "KINDS"], defines(text, "proccredit.h"), "ProcsKind of src/supervise/fast-path.ts");
});

test("the header's structs have the sizes TypeScript assumes", () => {
  const fields = (struct: string): string[] => {
    const m = new RegExp(`struct ${struct} \\{([^}]*)\\}`).exec(HEADER);
    assert.ok(m, `struct ${struct} not found`);
    return m[1]!.split(";").map((s) => s.replace(/\/\*.*?\*\//gs, "").trim()).filter((s) => s.length > 0);
  };
  const bytes = (fs: string[]): number => fs.reduce((n, f) => n + (/^u?int32_t\s+\w+$/.test(f) ? 4 : NaN), 0);
  assert.equal(bytes(fields("sl_msg")), MSG_BYTES);
  assert.equal(bytes(fields("sl_plan_header")), 16);
  assert.equal(bytes(fields("sl_step_header")), 8);
  assert.deepEqual(fields("sl_plan_header").map((f) => f.split(/\s+/)[1]), ["magic", "version", "total_len", "nsteps"]);
  assert.deepEqual(fields("sl_step_header").map((f) => f.split(/\s+/)[1]), ["op", "len"]);
});

// ---- encodePlan and makePlan ----

const TMP = mkdtempSync(join(tmpdir(), "sandlock-protocol-"));
after(() => rmSync(TMP, { recursive: true, force: true }));
const HOST: HostFacts = { landlockAbi: 7, cpuCount: 2 };

const FULL: PolicyInput = {
  fsReadable: ["/usr", "/etc/hostname"],
  fsWritable: [TMP],
  netAllow: ["tcp://:443"],
  netAllowBind: [8080],
  maxOpenFiles: 128,
  noCoredump: true,
  cpuCores: [1],
  noRandomizeMemory: true,
  noHugePages: true,
};

function cmd(over: Partial<CommandSpec> = {}): CommandSpec {
  return { path: "/usr/bin/env", argv: ["env", "-0"], env: { A: "1", PATH: "/usr/bin" }, cwd: TMP, ownProcessGroup: true, ...over };
}

function plan(input: PolicyInput = FULL, over: Partial<CommandSpec> = {}, host: HostFacts = HOST): Plan {
  return makePlan(computeFeatures(new Policy(input), host), cmd(over));
}

interface Decoded {
  magic: number;
  version: number;
  totalLen: number;
  nsteps: number;
  steps: { op: number; payload: Buffer; offset: number }[];
}

/** Parses the blob the way native/launcher/main.c does, asserting every framing rule. */
function decodePlan(blob: Buffer): Decoded {
  assert.ok(blob.length >= 16);
  const d: Decoded = {
    magic: blob.readUInt32LE(0), version: blob.readUInt32LE(4), totalLen: blob.readUInt32LE(8), nsteps: blob.readUInt32LE(12), steps: [],
  };
  let off = 16;
  for (let i = 0; i < d.nsteps; i++) {
    assert.ok(blob.length - off >= 8, `step ${i} header inside the blob`);
    const op = blob.readUInt32LE(off);
    const len = blob.readUInt32LE(off + 4);
    off += 8;
    assert.equal(off % 8, 0, `step ${i} payload is 8-byte aligned`);
    assert.ok(op >= 1 && op <= DEFS.get("SL_STEP_MAX")!, `step ${i} op ${op}`);
    const padded = (len + 7) & ~7;
    assert.ok(off + padded <= blob.length, `step ${i} payload inside the blob`);
    d.steps.push({ op, payload: blob.subarray(off, off + len), offset: off });
    assert.ok(blob.subarray(off + len, off + padded).every((b) => b === 0), `step ${i} padding is zero`);
    off += padded;
  }
  assert.equal(off, blob.length, "the steps fill the blob exactly");
  return d;
}

const cstrs = (b: Buffer): string[] => b.toString("utf8").split("\0").slice(0, -1);

test("encodePlan: header, 8-byte aligned steps, ops and payloads of makePlan", () => {
  const p = plan();
  const blob = encodePlan(p);
  const d = decodePlan(blob);
  assert.equal(d.magic, 0x314c5053);
  assert.equal(d.magic, DEFS.get("SL_PLAN_MAGIC"));
  assert.equal(d.version, DEFS.get("SL_PLAN_VERSION"));
  assert.equal(d.totalLen, blob.length);
  assert.equal(d.nsteps, p.steps.length);
  assert.deepEqual(d.steps.map((s) => s.op), p.steps.map((s) => s.op));
  d.steps.forEach((s, i) => assert.ok(s.payload.equals(p.steps[i]!.payload), `payload of step ${i}`));
  assert.ok(blob.length <= DEFS.get("SL_PLAN_MAX_BYTES")!);
});

test("encodePlan pads payloads of every length to 8 bytes", () => {
  const steps = [0, 1, 7, 8, 9, 15, 16, 17].map((n) => ({ op: Step.CHDIR, payload: Buffer.alloc(n, 0xaa), describe: "x" }));
  const blob = encodePlan({ steps, landlock: { handledFs: 0n, handledNet: 0n, scoped: 0n, paths: [], ports: [] }, seccompInsns: 0 });
  const d = decodePlan(blob);
  assert.equal(d.totalLen, blob.length);
  assert.deepEqual(d.steps.map((s) => s.payload.length), [0, 1, 7, 8, 9, 15, 16, 17]);
  assert.equal(blob.length, 16 + 8 * 8 + (0 + 8 + 8 + 8 + 16 + 16 + 16 + 24));
  for (const s of d.steps) assert.ok(s.payload.every((b) => b === 0xaa));
});

test("the payloads have the layouts the launcher reads", () => {
  const p = plan();
  const d = decodePlan(encodePlan(p));
  const one = (op: number): Buffer => {
    const found = d.steps.filter((s) => s.op === op);
    assert.equal(found.length, 1, `one step ${op}`);
    return found[0]!.payload;
  };
  assert.equal(one(Step.PDEATHSIG).readUInt32LE(0), 9, "SIGKILL");
  const rl = d.steps.filter((s) => s.op === Step.RLIMIT).map((s) => [s.payload.length, s.payload.readUInt32LE(0), s.payload.readUInt32LE(4), s.payload.readBigUInt64LE(8), s.payload.readBigUInt64LE(16)]);
  assert.deepEqual(rl, [[24, 4, 0, 0n, 0n], [24, 7, 0, 128n, 128n]]);
  const aff = one(Step.AFFINITY);
  assert.ok(aff.length >= 8 && aff.length % 8 === 0);
  assert.equal(aff[0], 0b10, "CPU 1 only");
  assert.ok(aff.subarray(1).every((b) => b === 0));
  assert.equal(one(Step.PERSONALITY).readBigUInt64LE(0), 0x0040000n);
  assert.equal(one(Step.THP_DISABLE).length, 0);
  assert.equal(one(Step.SETPGID).length, 0);
  assert.equal(one(Step.NO_NEW_PRIVS).length, 0);
  // SECBIT_NOROOT, NO_SETUID_FIXUP, KEEP_CAPS (off), NO_CAP_AMBIENT_RAISE, each locked.
  assert.equal(one(Step.DROP_CAPS).readUInt32LE(0), 0xef);
  assert.deepEqual(cstrs(one(Step.CHDIR)), [TMP]);
  assert.equal(one(Step.CLOSE_FDS).readUInt32LE(0), 3);
  const create = one(Step.LANDLOCK_CREATE);
  assert.deepEqual([create.readBigUInt64LE(0), create.readBigUInt64LE(8), create.readBigUInt64LE(16)], [0xffffn, 3n, 3n]);
  const paths = d.steps.filter((s) => s.op === Step.LANDLOCK_PATH).map((s) => [s.payload.readBigUInt64LE(0), cstrs(s.payload.subarray(8))]);
  // The writable tree: every right but MAKE_CHAR (0x40) and MAKE_BLOCK (0x800).
  assert.deepEqual(paths, [[0xdn, ["/usr"]], [0x5n, ["/etc/hostname"]], [0xf7bfn, [TMP]]]);
  const ports = d.steps.filter((s) => s.op === Step.LANDLOCK_PORT).map((s) => [s.payload.length, s.payload.readBigUInt64LE(0), s.payload.readBigUInt64LE(8)]);
  assert.deepEqual(ports, [[16, 2n, 443n], [16, 1n, 8080n]]);
  assert.equal(one(Step.LANDLOCK_RESTRICT).readUInt32LE(0), 0);
  const sec = one(Step.SECCOMP);
  assert.equal(sec.readUInt32LE(0), (1 << 3) | (1 << 5), "flags: NEW_LISTENER | WAIT_KILLABLE_RECV (the default process limit is supervised)");
  assert.equal(sec.readUInt32LE(4), 0, "pad");
  assert.equal((sec.length - 8) / 8, p.seccompInsns);
  const filter = sec.subarray(8);
  assert.equal(runFilter(filter, { nr: 165 /* mount */ }), 0x00050001);
  assert.equal(runFilter(filter, { nr: 59 /* execve */ }), 0x7fff0000);
  const exec = one(Step.EXEC);
  assert.equal(exec.readUInt32LE(0), 2, "argc");
  assert.equal(exec.readUInt32LE(4), 2, "envc");
  assert.deepEqual(cstrs(exec.subarray(8)), ["/usr/bin/env", "env", "-0", "A=1", "PATH=/usr/bin"]);
});

test("makePlan orders the steps safely", () => {
  for (const [input, host] of [[FULL, HOST], [{}, HOST], [{ protection: { disable: ["fs", "fs-refer", "fs-truncate", "net-tcp", "ioctl-dev", "scopes"] } }, { landlockAbi: 0, cpuCount: 1 }]] as [PolicyInput, HostFacts][]) {
    for (const ownProcessGroup of [true, false]) {
      const ops: number[] = plan(input, { ownProcessGroup }, host).steps.map((s) => s.op);
      const at = (op: number): number => ops.indexOf(op);
      const last = (op: number): number => ops.lastIndexOf(op);
      const where = JSON.stringify({ input, ownProcessGroup });
      assert.equal(ops[0], Step.PDEATHSIG, where);
      assert.equal(ops[ops.length - 1], Step.EXEC, where);
      // The seccomp filter comes last; with a supervisor, only the listener's hand-over and
      // the descriptor limit (which needs no descriptor after it) follow it.
      const tail = ops.slice(at(Step.SECCOMP) + 1, -1);
      assert.equal(tail[0], Step.LISTENER, where);
      assert.ok(tail.slice(1).every((o) => o === Step.RLIMIT), where);
      const nofile = plan(input, { ownProcessGroup }, host).steps.filter((s) => s.op === Step.RLIMIT && s.payload.readUInt32LE(0) === 7);
      assert.equal(nofile.length, input.maxOpenFiles === undefined ? 0 : 1, where);
      if (nofile.length > 0) assert.ok(last(Step.RLIMIT) > at(Step.LISTENER), "RLIMIT_NOFILE after the hand-over");
      assert.equal(ops.filter((o) => o === Step.EXEC).length, 1);
      assert.equal(ops.filter((o) => o === Step.SECCOMP).length, 1);
      assert.equal(ops.includes(Step.SETPGID), ownProcessGroup, where);
      if (ownProcessGroup) assert.equal(at(Step.SETPGID), 1);
      assert.ok(at(Step.NO_NEW_PRIVS) >= 0, where);
      assert.ok(at(Step.CHDIR) >= 0 && at(Step.CHDIR) < at(Step.NO_NEW_PRIVS), where);
      assert.ok(at(Step.CLOSE_FDS) >= 0 && at(Step.CLOSE_FDS) < at(Step.SECCOMP), where);
      assert.ok(!ops.includes(Step.DUMPABLE), "the sandbox stays dumpable");
      // Capabilities go after the steps that may need them and before NO_NEW_PRIVS.
      assert.equal(ops.filter((o) => o === Step.DROP_CAPS).length, 1, where);
      assert.equal(at(Step.DROP_CAPS), at(Step.NO_NEW_PRIVS) - 1, where);
      assert.ok(at(Step.CHDIR) < at(Step.DROP_CAPS), where);
      for (const op of [Step.AFFINITY, Step.PERSONALITY, Step.THP_DISABLE]) {
        if (ops.includes(op)) assert.ok(last(op) < at(Step.NO_NEW_PRIVS), `${op} before NO_NEW_PRIVS`);
      }
      if (!ops.includes(Step.LANDLOCK_CREATE)) {
        assert.ok(![Step.LANDLOCK_PATH, Step.LANDLOCK_PORT, Step.LANDLOCK_RESTRICT].some((o) => ops.includes(o)), where);
        continue;
      }
      assert.equal(ops.filter((o) => o === Step.LANDLOCK_CREATE).length, 1);
      assert.equal(ops.filter((o) => o === Step.LANDLOCK_RESTRICT).length, 1);
      assert.ok(at(Step.NO_NEW_PRIVS) < at(Step.LANDLOCK_CREATE), where);
      assert.ok(at(Step.CHDIR) < at(Step.LANDLOCK_CREATE), where);
      for (const op of [Step.LANDLOCK_PATH, Step.LANDLOCK_PORT]) {
        if (!ops.includes(op)) continue;
        assert.ok(at(op) > at(Step.LANDLOCK_CREATE), where);
        assert.ok(last(op) < at(Step.LANDLOCK_RESTRICT), where);
      }
      assert.ok(at(Step.LANDLOCK_RESTRICT) < at(Step.SECCOMP), where);
    }
  }
});

// The supervised view's plan, pinned (the kernel view's steps: kernel-view.test.ts).
test("the full plan has exactly the expected steps", () => {
  const ops = plan({ ...FULL, procView: "supervised" }).steps.map((s) => s.op);
  const S = Step;
  assert.deepEqual(ops, [
    S.PDEATHSIG, S.SETPGID, S.RLIMIT, S.AFFINITY, S.PERSONALITY, S.THP_DISABLE, S.NICE, S.CHDIR, S.CLOSE_FDS, S.DROP_CAPS, S.NO_NEW_PRIVS,
    S.LANDLOCK_CREATE, S.LANDLOCK_PATH, S.LANDLOCK_PATH, S.LANDLOCK_PATH, S.LANDLOCK_PORT, S.LANDLOCK_PORT, S.LANDLOCK_RESTRICT,
    S.SECCOMP, S.LISTENER, S.RLIMIT, S.EXEC,
  ]);
  const minimal = plan({ procView: "supervised" }, { ownProcessGroup: false }).steps.map((s) => s.op);
  assert.deepEqual(minimal, [S.PDEATHSIG, S.NICE, S.CHDIR, S.CLOSE_FDS, S.DROP_CAPS, S.NO_NEW_PRIVS, S.LANDLOCK_CREATE, S.LANDLOCK_RESTRICT, S.SECCOMP, S.LISTENER, S.EXEC]);
  const noLandlock = plan({ procView: "supervised", protection: { allowDegraded: ["fs", "fs-refer", "fs-truncate", "net-tcp", "ioctl-dev", "scopes"] } }, { ownProcessGroup: false }, { landlockAbi: 0, cpuCount: 2 });
  assert.deepEqual(noLandlock.steps.map((s) => s.op), [S.PDEATHSIG, S.NICE, S.CHDIR, S.CLOSE_FDS, S.DROP_CAPS, S.NO_NEW_PRIVS, S.SECCOMP, S.LISTENER, S.EXEC]);
});

test("a supervised sandbox is lowered by RECEIVER_RAISE unless this process raises its receiving threads instead", () => {
  const nice = (host: object): string[] =>
    makePlan(computeFeatures(new Policy({ fsReadable: ["/usr"] }), { ...HOST, ...host }), cmd()).steps.filter((s) => s.op === Step.NICE).map((s) => `${s.describe} ${s.payload.readUInt32LE(0)}`);
  assert.deepEqual(nice({}), ["setpriority(nice +5) 5"]);
  assert.deepEqual(nice({ raisesPriority: true }), [], "CAP_SYS_NICE: the thread is raised, the sandbox keeps its priority");
  const f = computeFeatures(new Policy({ fsReadable: ["/usr"] }), HOST);
  const unsupervised = makePlan({ ...f, supervision: {}, seccomp: { ...f.seccomp, notify: [] }, niceIncrement: 0 }, cmd());
  assert.ok(!unsupervised.steps.some((s) => s.op === Step.NICE), "no supervisor, no reason to lower the sandbox");
});

test("every step is described for error messages", () => {
  const p = plan();
  for (const s of p.steps) assert.ok(s.describe.length > 0, String(s.op));
  const describe = (op: number): string[] => p.steps.filter((s) => s.op === op).map((s) => s.describe);
  assert.deepEqual(describe(Step.SECCOMP), ["seccomp(SET_MODE_FILTER, NEW_LISTENER)"]);
  assert.deepEqual(describe(Step.LISTENER), ["pidfd_getfd(seccomp listener)"]);
  assert.deepEqual(describe(Step.DROP_CAPS), ["capset(drop every capability, lock securebits)"]);
  assert.deepEqual(describe(Step.EXEC), ["execve(/usr/bin/env)"]);
  assert.deepEqual(describe(Step.LANDLOCK_PORT), ["landlock_add_rule(port 443)", "landlock_add_rule(port 8080)"]);
  assert.deepEqual(p.steps.filter((s) => s.op === Step.LANDLOCK_PATH).map((s) => s.openDescribe), ["/usr", "/etc/hostname", TMP].map((p) => `open(${p}, O_PATH, following no symbolic link; ELOOP: the path became a symbolic link since it was planned)`));
});

test("strings with NUL bytes are refused", () => {
  assert.throws(() => plan({}, { cwd: "/tm\0p" }), /string contains NUL/);
  assert.throws(() => plan({}, { argv: ["a\0b"] }), /string contains NUL/);
  assert.throws(() => plan({}, { env: { A: "x\0y" } }), /string contains NUL/);
});

test("with nothing to supervise, the plan installs no listener at all", () => {
  const f = computeFeatures(new Policy({ fsReadable: ["/usr"] }), HOST);
  const bare = { ...f, supervision: {}, seccomp: { ...f.seccomp, notify: [] } };
  const p = makePlan(bare, cmd());
  assert.ok(!p.steps.some((s) => s.op === Step.LISTENER), "no hand-over step");
  const sec = p.steps.find((s) => s.op === Step.SECCOMP)!;
  assert.equal(sec.payload.readUInt32LE(0), 0, "no SECCOMP_FILTER_FLAG_NEW_LISTENER");
  for (let nr = 0; nr <= 469; nr++) {
    assert.notEqual(runFilter(sec.payload.subarray(8), { nr, args: [17] }), 0x7fc00000, `nr ${nr} is never routed to a listener`);
  }
  // The default policy is supervised: its process limit (64) needs fork accounting.
  assert.ok(plan({ fsReadable: ["/usr"] }).steps.some((s) => s.op === Step.LISTENER));
});

test("a standby is refused the same steps by TypeScript and by the launcher, and every step the launcher runs before its fork is one of them", () => {
  const native = (file: string): string => readFileSync(new URL(`../../../native/launcher/${file}`, import.meta.url), "utf8");
  const stepName = (c: string): string => {
    const name = c.replace(/^SL_STEP_/, "");
    assert.ok(name in Step, `${c} has no mirror in Step`);
    return name;
  };
  // standby.c's sl_standby_fits: the cases that return 0.
  const fits = /int sl_standby_fits\(const struct sl_plan \*plan\) \{([\s\S]*?)\n\}/.exec(native("standby.c"))![1]!;
  const refusing = /((?:\s*case SL_STEP_\w+:)+)\s*return 0;/.exec(fits)![1]!;
  const inC = [...refusing.matchAll(/SL_STEP_\w+/g)].map((m) => stepName(m[0])).sort();
  const stepNames = Object.fromEntries(Object.entries(Step).map(([k, v]) => [v, k]));
  const inTs = [...BEFORE_FORK].map((op) => stepNames[op]!).sort();
  assert.deepEqual(inTs, inC, "standby.ts BEFORE_FORK and standby.c sl_standby_fits");
  // main.c: every step its main() acts on before the standby's wait or the fork.
  const main = native("main.c");
  const body = main.slice(main.indexOf("int main("), main.indexOf("standby_wait((pid_t)root"));
  const acted = new Set([...body.matchAll(/steps\[i\]\.op (?:!=|==) (SL_STEP_\w+)/g)].map((m) => stepName(m[1]!)));
  assert.ok(acted.size >= 4, `main.c's pre-fork steps read: ${[...acted].join(", ")}`);
  for (const name of acted) assert.ok(inC.includes(name), `main.c acts on ${name} before its fork, and a standby would not`);
});
