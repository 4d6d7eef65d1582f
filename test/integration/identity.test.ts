// Identity and CPU count against the real kernel (SPEC 4.4): uname, /etc/hostname and
// /proc/sys/kernel/hostname give the sandbox name; sched_getaffinity, nproc, /proc/cpuinfo
// and /sys/devices/system/cpu/online agree on numCpus.

import assert from "node:assert/strict";
import { cpus, hostname } from "node:os";
import { answer, byView, securityCase } from "../helpers/harness.js";
import { SYSTEM_RO } from "../helpers/system.js";

const probe = (...args: string[]): string[] => ["${PROBE}", ...args];
const base = { fsReadable: ["${PROBE}"] };

securityCase("uname gives the sandbox name as the node name, the rest from the host", { policy: { ...base, name: "box-1" }, cmd: probe("uname") }, (o) =>
  assert.equal(answer(o), "Linux box-1 x86_64"),
);

// SPEC 4.4: without a name the host's shows. Hiding it race-free costs a split /etc grant
// (about 1 ms per spawn), paid only by sandboxes that ask for a name.
securityCase("without a name, uname shows the host's node name", { policy: base, cmd: probe("uname") }, (o) =>
  assert.equal(answer(o), `Linux ${hostname()} x86_64`),
);

// Another thread flips the path between a granted file and the virtual one while the main
// thread opens it: the supervisor serves the name for the one, lets the other continue,
// and Landlock has no rule on the real /etc/hostname, so a flip after the check finds
// nothing. Control: unnamed, the real file is granted and the same race reaches it. The
// supervised view's mechanism (pinned): the kernel view covers /etc/hostname with a file
// holding the name in the sandbox's own mount namespace, no open is trapped.
securityCase(
  "a path rewritten during the open never reaches the real /etc/hostname of a named sandbox",
  { policy: { fsReadable: ["${PROBE}", "/etc"], name: "box-race", procView: "supervised" }, cmd: probe("race", "/etc/passwd", "/etc/hostname", "20000") },
  (o) => assert.match(answer(o), /^bad 0 good [1-9]/),
);
securityCase(
  "control: without a name the real /etc/hostname is granted and reached",
  { policy: { fsReadable: ["${PROBE}", "/etc"] }, cmd: probe("race", "/etc/passwd", "/etc/hostname", "300000") },
  (o) => assert.match(answer(o), /^bad [1-9]/),
);
securityCase(
  "the same race never reaches the real /proc/cpuinfo under numCpus",
  { policy: { fsReadable: ["${PROBE}", "/proc"], numCpus: 1 }, cmd: probe("race", "/proc/version", "/proc/cpuinfo", "20000") },
  (o) => assert.match(answer(o), /^bad 0 good [1-9]/),
);

securityCase("uname -n prints the name", { policy: { fsReadable: [...SYSTEM_RO], name: "box-2" }, cmd: ["uname", "-n"] }, (o) => assert.equal(answer(o), "box-2"));

securityCase("/etc/hostname holds the name", { policy: { ...base, fsReadable: ["${PROBE}", "/etc"], name: "box-3" }, cmd: probe("cat", "/etc/hostname") }, (o) =>
  assert.equal(o.result?.stdout, "box-3\n"),
);

securityCase(
  "every spelling of /etc/hostname is served",
  { policy: { fsReadable: ["${PROBE}", "/etc"], name: "box-4" }, cmd: probe("open-each", "/etc//hostname", "/etc/../etc/./hostname", "/etc::hostname", "@/etc::hostname") },
  (o) => {
    const got = (o.result?.stdout ?? "").trim().split("\n");
    assert.deepEqual(got, ["/etc//hostname ok", "/etc/../etc/./hostname ok", "/etc::hostname ok", "@/etc::hostname ok"]);
  },
);

securityCase("/proc/sys/kernel/hostname holds the name", { policy: { fsReadable: ["${PROBE}", "/proc"], name: "box-5" }, cmd: probe("cat", "/proc/sys/kernel/hostname") }, (o) =>
  assert.equal(o.result?.stdout, "box-5\n"),
);

securityCase("the virtual hostname files refuse writers", { policy: { fsReadable: ["${PROBE}", "/proc"], name: "box-6" }, cmd: probe("open-write", "/proc/sys/kernel/hostname") }, (o) =>
  assert.equal(answer(o), "EACCES"),
);

// Outside the grants: EACCES from Landlock, or ENOENT under the kernel view (absent from its root).
securityCase("/etc/hostname is not served when /etc is not granted (Landlock refuses it)", { policy: { ...base, name: "box-7" }, cmd: probe("read", "/etc/hostname") }, (o) =>
  assert.equal(answer(o), byView(o, "EACCES", "ENOENT")),
);

securityCase("sethostname stays refused", { policy: { ...base, name: "box-8" }, cmd: probe("sys", "sethostname") }, (o) => assert.equal(answer(o), "EPERM"));

const hostCpus = cpus().length;
const CPU = { fsReadable: [...SYSTEM_RO, "${PROBE}", "/proc", "/sys"], numCpus: 1 };

securityCase("numCpus: nproc prints it", { policy: CPU, cmd: ["nproc"] }, (o) => assert.equal(answer(o), "1"));

securityCase("numCpus: sched_getaffinity reports CPU 0 only", { policy: CPU, cmd: probe("affinity") }, (o) =>
  assert.equal(o.result?.stdout, "0\n"),
);

securityCase("numCpus: sched_getaffinity keeps the kernel's size and its EINVAL", { policy: CPU, cmd: ["/bin/sh", "-c", "${PROBE} affinity-size 8; ${PROBE} affinity-size 4; ${PROBE} affinity-size 12"] }, (o) =>
  assert.deepEqual(o.result?.stdout?.trim().split("\n"), ["8", "EINVAL", "EINVAL"]),
);

securityCase("numCpus: /proc/cpuinfo lists that many processors", { policy: CPU, cmd: ["/bin/sh", "-c", "grep -c ^processor /proc/cpuinfo; grep -m1 ^siblings /proc/cpuinfo"] }, (o) => {
  const [count, siblings] = o.result?.stdout?.trim().split("\n") ?? [];
  assert.equal(count, "1");
  if (siblings !== undefined) assert.match(siblings, /^siblings\s*: 1$/);
});

securityCase("numCpus: /sys/devices/system/cpu/online and possible agree", { policy: CPU, cmd: ["/bin/sh", "-c", "cat /sys/devices/system/cpu/online /sys/devices/system/cpu/possible"] }, (o) =>
  assert.equal(o.result?.stdout, "0\n0\n"),
);

securityCase("control: without numCpus, nproc prints the host's count", { policy: { fsReadable: [...SYSTEM_RO] }, cmd: ["nproc"] }, (o) =>
  assert.equal(answer(o), String(hostCpus)),
);

securityCase("numCpus above the host's CPU count is a PolicyError", { policy: { ...base, numCpus: hostCpus + 1 }, cmd: probe("exit", "0") }, (o) => {
  assert.equal(o.error?.name, "PolicyError");
  assert.equal(o.error?.message, `numCpus: ${hostCpus + 1} is more than this host's ${hostCpus} CPUs (a sandbox can be shown fewer CPUs than exist, not more)`);
});
