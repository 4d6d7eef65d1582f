// Root inside the sandbox holds no capability (SPEC 10): the sets are empty (the bounding
// set and locked securebits too when the caller could change them), and what root could
// do with them fails: interface flags, FIFREEZE, device nodes, real-time scheduling, a
// lower nice value. The positive control is the same probe run bare by the same user.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { test } from "node:test";
import type { CaseOutcome } from "../helpers/case-types.js";
import { securityCase, type Who } from "../helpers/harness.js";
import { ensureTestUser, isRoot, stagePackage } from "../helpers/stage.js";
import { SYSTEM_RO } from "../helpers/system.js";

const probe = (...args: string[]): string[] => ["${PROBE}", ...args];

/** The probe run outside any sandbox, as `who`. */
function bare(who: Who, ...args: string[]): string {
  const { probe: bin } = stagePackage();
  const argv = who === "user" && isRoot ? ["setpriv", `--reuid=${ensureTestUser().uid}`, `--regid=${ensureTestUser().gid}`, "--clear-groups", "--", bin, ...args] : [bin, ...args];
  return execFileSync(argv[0]!, argv.slice(1), { encoding: "utf8" });
}

/** "caps" output as {CapEff: bigint, ..., securebits: number}. */
function capsOf(text: string): Record<string, bigint> {
  const out: Record<string, bigint> = {};
  for (const line of text.trim().split("\n")) {
    const [k, v] = line.split(" ");
    out[k!] = BigInt(`0x${v}`);
  }
  return out;
}

function lines(o: CaseOutcome): string[] {
  if (o.error) throw new Error(`case failed before running: ${o.error.name}: ${o.error.message}`);
  return (o.result?.stdout ?? "").trim().split("\n");
}

const SECBITS_LOCKED = 0xefn; // NOROOT, NO_SETUID_FIXUP, KEEP_CAPS off, NO_CAP_AMBIENT_RAISE, each locked

test("positive control: bare root holds capabilities, so the checks below can tell", { skip: isRoot ? false : "tests are not running as root" }, () => {
  const caps = capsOf(bare("root", "caps"));
  assert.notEqual(caps.CapEff, 0n);
  assert.notEqual(caps.CapBnd, 0n);
  assert.equal(caps.securebits, 0n);
});

securityCase("no capability inside: every set empty (capget, prctl)", { policy: { fsReadable: ["${PROBE}"] }, cmd: probe("caps") }, (o, who) => {
  const caps = capsOf(lines(o).join("\n"));
  for (const set of ["CapInh", "CapPrm", "CapEff", "CapAmb"]) assert.equal(caps[set], 0n, set);
  if (who === "root" || o.observed.procView === "kernel") {
    // Under the kernel view a user holds CAP_SETPCAP in the sandbox's own user namespace
    // until DROP_CAPS, so it clears the bounding set and locks the securebits as root does.
    assert.equal(caps.CapBnd, 0n, "root (or the kernel view's namespace owner) can clear the bounding set, so it is cleared");
    assert.equal(caps.securebits, SECBITS_LOCKED, "securebits set and locked");
  } else {
    // Without CAP_SETPCAP neither can change; with nothing permitted and NO_NEW_PRIVS no
    // exec can gain anything (see drop_capabilities in native/launcher/steps.c).
    const outside = capsOf(bare("user", "caps"));
    assert.equal(outside.CapEff, 0n, "the test user holds nothing outside either");
    assert.equal(caps.CapBnd, outside.CapBnd, "the bounding set is the user's own");
    assert.equal(caps.securebits, 0n);
  }
});

securityCase(
  "no capability inside: /proc/self/status says so",
  { policy: { fsReadable: ["${PROBE}", "/proc"] }, cmd: probe("cat", "/proc/self/status") },
  (o, who) => {
    const text = lines(o).join("\n");
    const field = (k: string): bigint => BigInt(`0x${new RegExp(`^${k}:\\s+([0-9a-f]+)$`, "m").exec(text)?.[1] ?? "x"}`);
    for (const set of ["CapInh", "CapPrm", "CapEff", "CapAmb"]) assert.equal(field(set), 0n, set);
    if (who === "root") assert.equal(field("CapBnd"), 0n);
    assert.match(text, /^NoNewPrivs:\s+1$/m);
  },
);

// One sandbox runs every attack; one line each.
const ATTACKS = ["ifflags", "fifreeze", "sched-fifo", "nice-down", "mknod-char ${WRITE}/c", "mknod-block ${WRITE}/b", "mkfifo ${WRITE}/f"];
const attackScript = ATTACKS.map((a) => `${"${PROBE}"} ${a}`).join("; ");

test("positive control: bare root can do every one of these", { skip: isRoot ? false : "tests are not running as root" }, () => {
  const dir = execFileSync("mktemp", ["-d"], { encoding: "utf8" }).trim();
  try {
    assert.equal(bare("root", "ifflags").trim(), "ok");
    assert.equal(bare("root", "fifreeze").trim(), "EOPNOTSUPP", "past the CAP_SYS_ADMIN check (a pipe cannot be frozen)");
    assert.equal(bare("root", "sched-fifo").trim(), "ok");
    assert.equal(bare("root", "nice-down").trim(), "ok");
    assert.equal(bare("root", "mknod-char", `${dir}/c`).trim(), "ok");
    assert.equal(bare("root", "mknod-block", `${dir}/b`).trim(), "ok");
  } finally {
    execFileSync("rm", ["-rf", dir]);
  }
});

securityCase(
  "root's powers are gone: interface flags, FIFREEZE, SCHED_FIFO, lower nice, device nodes in a writable grant",
  { policy: { fsReadable: ["${PROBE}", ...SYSTEM_RO], fsWritable: ["${WRITE}"] }, cmd: ["/bin/sh", "-c", attackScript], fixtures: ["dirs"] },
  (o) => {
    assert.deepEqual(lines(o), [
      "EPERM", // SIOCSIFFLAGS: CAP_NET_ADMIN
      "EPERM", // FIFREEZE: CAP_SYS_ADMIN, checked before the file system
      "EPERM", // SCHED_FIFO: CAP_SYS_NICE
      "EACCES", // a lower nice value: CAP_SYS_NICE
      "EACCES", // character device: Landlock (MAKE_CHAR is never granted)
      "EACCES", // block device of the host's disk: the same
      "ok", // positive control: a FIFO in the same writable grant
    ]);
  },
);

securityCase(
  "device nodes: without Landlock's file system rules the missing CAP_MKNOD still refuses them",
  {
    policy: { fsReadable: ["${PROBE}", ...SYSTEM_RO], protection: { disable: ["fs"] } },
    cmd: ["/bin/sh", "-c", `${"${PROBE}"} mknod-char \${WRITE}/c; ${"${PROBE}"} mknod-block \${WRITE}/b; ${"${PROBE}"} mkfifo \${WRITE}/f`],
    fixtures: ["dirs"],
  },
  (o) => assert.deepEqual(lines(o), ["EPERM", "EPERM", "ok"]),
);


// The supervisor opens the sandbox's own /proc files for it (Landlock grants no process
// directory): it must do so with the caller's capabilities, not its own.
test("positive control: bare root reads frame numbers and its kernel stack", { skip: isRoot ? false : "tests are not running as root" }, () => {
  assert.equal(bare("root", "pagemap-pfn").trim(), "pfn-shown");
  assert.equal(bare("root", "read", "/proc/self/stack").trim(), "ok");
});

securityCase(
  "its own /proc files open with its own capabilities: maps yes, frame numbers and kernel stack no",
  {
    policy: { fsReadable: ["${PROBE}", "/proc", ...SYSTEM_RO] },
    cmd: ["/bin/sh", "-c", `${"${PROBE}"} read /proc/self/maps; ${"${PROBE}"} pagemap-pfn; ${"${PROBE}"} read /proc/self/stack`],
  },
  (o) => assert.deepEqual(lines(o), ["ok", "pfn-hidden", "EACCES"]),
);
