// Validation of every field of SPEC 2.1: each rejected input and its exact message.
// Messages start with the field, then the quoted value, then why.

import { test } from "node:test";
import assert from "node:assert/strict";
import { PolicyError } from "../../src/errors.js";
import { Policy, validatePolicy, type PolicyInput } from "../../src/policy/index.js";

function rejects(input: unknown, field: string, message: string): void {
  assert.throws(() => new Policy(input as PolicyInput), (e: unknown) => {
    assert.ok(e instanceof PolicyError, `expected PolicyError, got ${String(e)}`);
    assert.equal(e.code, "POLICY_INVALID", e.message);
    assert.equal(e.field, field);
    assert.equal(e.message, message);
    return true;
  });
}

type Case = readonly [name: string, input: unknown, field: string, message: string];

function cases(group: string, list: readonly Case[]): void {
  for (const [name, input, field, message] of list) {
    test(`${group}: ${name}`, () => rejects(input, field, message));
  }
}

const REL = "is a relative path (an absolute path is needed)";
const MIN = "is below the minimum of 1M: programs cannot start under a smaller cap";

cases("shape", [
  ["not an object", "fsReadable", "policy", `policy: "fsReadable" is not an object of policy fields`],
  ["null", null, "policy", "policy: null is not an object of policy fields"],
  ["array", [], "policy", "policy: [] is not an object of policy fields"],
  ["a Map", new Map(), "policy", "policy: {} is not an object of policy fields"],
  ["unknown field with a suggestion", { fsReadble: ["/usr"] }, "fsReadble",
    `unknown policy field "fsReadble" (did you mean "fsReadable"?)`],
  ["unknown field, wrong case", { maxmemory: "1G" }, "maxmemory", `unknown policy field "maxmemory" (did you mean "maxMemory"?)`],
  ["unknown field, transposed letters", { nmae: "x" }, "nmae", `unknown policy field "nmae" (did you mean "name"?)`],
  ["unknown field without a suggestion", { color: "red" }, "color", `unknown policy field "color"`],
  ["__proto__ from JSON is unknown", JSON.parse(`{"__proto__": {"x": 1}}`), "__proto__", `unknown policy field "__proto__"`],
]);

cases("paths", [
  ["fsReadable not an array", { fsReadable: "/usr" }, "fsReadable", `fsReadable: "/usr" is not an array of absolute paths`],
  ["fsReadable relative", { fsReadable: ["/usr", "lib"] }, "fsReadable", `fsReadable: "lib" ${REL}`],
  ["fsReadable dot-relative", { fsReadable: ["./lib"] }, "fsReadable", `fsReadable: "./lib" ${REL}`],
  ["fsReadable empty string", { fsReadable: [""] }, "fsReadable", `fsReadable: "" is an empty path (an absolute path is needed)`],
  ["fsReadable NUL", { fsReadable: ["/usr\0x"] }, "fsReadable", `fsReadable: "/usr\\u0000x" contains a NUL byte`],
  ["fsReadable number", { fsReadable: [5] }, "fsReadable", `fsReadable: 5 is not a string (an absolute path is needed)`],
  ["fsWritable relative", { fsWritable: ["tmp"] }, "fsWritable", `fsWritable: "tmp" ${REL}`],
  ["fsDenied relative", { fsDenied: ["~/.ssh"] }, "fsDenied", `fsDenied: "~/.ssh" ${REL}`],
  ["fsDenied empty", { fsDenied: [""] }, "fsDenied", `fsDenied: "" is an empty path (an absolute path is needed)`],
  ["fsDenied dot-dot", { fsDenied: ["/home/u/p/../.ssh"] }, "fsDenied", `fsDenied: "/home/u/p/../.ssh" contains a "." or ".." component: give the path it names without one`],
  ["fsDenied dot", { fsDenied: ["/home/u/./.ssh"] }, "fsDenied", `fsDenied: "/home/u/./.ssh" contains a "." or ".." component: give the path it names without one`],
  ["fsDenied trailing dot-dot", { fsDenied: ["/home/u/.."] }, "fsDenied", `fsDenied: "/home/u/.." contains a "." or ".." component: give the path it names without one`],
  ["workdir relative", { workdir: "work" }, "workdir", `workdir: "work" ${REL}`],
  ["cwd relative", { cwd: "." }, "cwd", `cwd: "." ${REL}`],
  ["cwd NUL", { cwd: "/a\0" }, "cwd", `cwd: "/a\\u0000" contains a NUL byte`],
  ["fsStorage relative", { workdir: "/w", fsStorage: "store" }, "fsStorage", `fsStorage: "store" ${REL}`],
  ["chroot relative", { chroot: "root" }, "chroot", `chroot: "root" ${REL}`],
  ["chroot not a string", { chroot: true }, "chroot", `chroot: true is not a string (an absolute path is needed)`],
  ["fsMount not an object", { chroot: "/r", fsMount: ["/a"] }, "fsMount", `fsMount: ["/a"] is not an object of virtual paths to host paths`],
  ["fsMount relative key", { chroot: "/r", fsMount: { data: "/srv/data" } }, "fsMount", `fsMount: "data" ${REL}`],
  ["fsMount relative value", { chroot: "/r", fsMount: { "/data": "srv" } }, `fsMount["/data"]`, `fsMount["/data"]: "srv" ${REL}`],
  ["fsMount non-string value", { chroot: "/r", fsMount: { "/data": 1 } }, `fsMount["/data"]`,
    `fsMount["/data"]: 1 is not a string (an absolute path is needed)`],
]);

cases("syscalls", [
  ["deny not an array", { extraDenySyscalls: "ptrace" }, "extraDenySyscalls", `extraDenySyscalls: "ptrace" is not an array of syscall or group names`],
  ["deny unknown", { extraDenySyscalls: ["fooo"] }, "extraDenySyscalls", `extraDenySyscalls: unknown syscall or group "fooo"`],
  ["deny typo", { extraDenySyscalls: ["ptrce"] }, "extraDenySyscalls", `extraDenySyscalls: unknown syscall or group "ptrce" (did you mean "ptrace"?)`],
  ["deny group typo", { extraDenySyscalls: ["io_urin"] }, "extraDenySyscalls", `extraDenySyscalls: unknown syscall or group "io_urin" (did you mean "io_uring"?)`],
  ["deny prototype name", { extraDenySyscalls: ["toString"] }, "extraDenySyscalls", `extraDenySyscalls: unknown syscall or group "toString"`],
  ["deny non-string", { extraDenySyscalls: [101] }, "extraDenySyscalls", `extraDenySyscalls: 101 is not a syscall or group name`],
  ["allow not an array", { extraAllowSyscalls: "sysv_ipc" }, "extraAllowSyscalls", `extraAllowSyscalls: "sysv_ipc" is not an array of group names`],
  ["allow a syscall", { extraAllowSyscalls: ["ptrace"] }, "extraAllowSyscalls",
    `extraAllowSyscalls: "ptrace" cannot be lifted: only these groups can be (sysv_ipc)`],
  ["allow a non-liftable group", { extraAllowSyscalls: ["io_uring"] }, "extraAllowSyscalls",
    `extraAllowSyscalls: "io_uring" cannot be lifted: only these groups can be (sysv_ipc)`],
  ["allow a typo", { extraAllowSyscalls: ["sysv_icp"] }, "extraAllowSyscalls",
    `extraAllowSyscalls: "sysv_icp" cannot be lifted: only these groups can be (sysv_ipc) (did you mean "sysv_ipc"?)`],
  ["allow non-string", { extraAllowSyscalls: [null] }, "extraAllowSyscalls", `extraAllowSyscalls: null is not a group name`],
  ["allow and deny the same group", { extraDenySyscalls: ["sysv_ipc"], extraAllowSyscalls: ["sysv_ipc"] }, "extraAllowSyscalls",
    `extraAllowSyscalls: "sysv_ipc" is also in extraDenySyscalls`],
]);

cases("network", [
  ["netAllow not an array", { netAllow: ":443" }, "netAllow", `netAllow: ":443" is not an array of rules`],
  ["netAllow bad rule", { netAllow: ["tcp://:443", "host:"] }, "netAllow", `netAllow: "host:" has an empty port list`],
  ["netAllow empty rule", { netAllow: [""] }, "netAllow", `netAllow: "" is an empty rule (write "*" for every address and port)`],
  ["netDeny bad rule", { netDeny: ["10.0.0.0/40"] }, "netDeny", `netDeny: "10.0.0.0/40" has prefix /40, out of range for IPv4 (0-32)`],
  ["netDeny with a hostname", { netDeny: ["10.0.0.0/8", "evil.example.com:443"] }, "netDeny",
    `netDeny: "evil.example.com:443" names a host; netDeny takes only IP addresses and CIDRs`],
  ["netAllow with netDeny", { netAllow: ["tcp://:443"], netDeny: ["10.0.0.0/8"] }, "netDeny",
    `netDeny: ["10.0.0.0/8"] cannot be combined with netAllow (choose an allowlist or a denylist)`],
  ["netAllowBind not an array", { netAllowBind: 8080 }, "netAllowBind", `netAllowBind: 8080 is not an array of ports ("lo-hi" ranges or "*")`],
  ["netAllowBind port 0", { netAllowBind: [0] }, "netAllowBind", `netAllowBind: 0 uses port 0 (ports are 1-65535)`],
  ["netDenyBind reversed", { netDenyBind: ["9-1"] }, "netDenyBind", `netDenyBind: "9-1" is a reversed range (write "1-9")`],
  ["netAllowBind with netDenyBind", { netAllowBind: [8080], netDenyBind: ["*"] }, "netDenyBind",
    `netDenyBind: ["*"] cannot be combined with netAllowBind (choose an allowlist or a denylist)`],
]);

cases("limits", [
  ["maxMemory garbage", { maxMemory: "12X" }, "maxMemory", `maxMemory: "12X" is not a byte size (use an integer with an optional K, M or G suffix)`],
  ["maxMemory 0", { maxMemory: 0 }, "maxMemory", `maxMemory: 0 ${MIN}`],
  ["maxMemory 1 (a number: bytes)", { maxMemory: 1 }, "maxMemory", `maxMemory: 1 ${MIN} (did you mean 1M?)`],
  ["maxMemory \"64\" (no unit)", { maxMemory: "64" }, "maxMemory", `maxMemory: "64" ${MIN} (did you mean 64M?)`],
  ["maxMemory 4K", { maxMemory: "4K" }, "maxMemory", `maxMemory: "4K" ${MIN}`],
  ["maxMemory one byte short of 1M", { maxMemory: "1048575" }, "maxMemory", `maxMemory: "1048575" ${MIN} (did you mean 1048575M?)`],
  ["maxDisk negative", { workdir: "/w", maxDisk: -1 }, "maxDisk", `maxDisk: -1 is negative (a byte size is 0 or more)`],
  ["maxDisk 0", { workdir: "/w", maxDisk: 0 }, "maxDisk", `maxDisk: 0 is below 4K, the least the stage can hold (one page); leave maxDisk out for no quota`],
  ["maxDisk 4095", { workdir: "/w", maxDisk: "4095" }, "maxDisk", `maxDisk: "4095" is below 4K, the least the stage can hold (one page); leave maxDisk out for no quota`],
  ["maxProcesses 0", { maxProcesses: 0 }, "maxProcesses", `maxProcesses: 0 is outside 1..4194304 (the kernel's pid limit)`],
  ["maxProcesses huge", { maxProcesses: 5_000_000 }, "maxProcesses", `maxProcesses: 5000000 is outside 1..4194304 (the kernel's pid limit)`],
  ["maxProcesses fraction", { maxProcesses: 1.5 }, "maxProcesses", `maxProcesses: 1.5 is not a whole number`],
  ["maxProcesses string", { maxProcesses: "10" }, "maxProcesses", `maxProcesses: "10" is not a number`],
  ["maxProcesses Infinity", { maxProcesses: Infinity }, "maxProcesses", `maxProcesses: Infinity is not a finite number`],
  ["maxOpenFiles 0", { maxOpenFiles: 0 }, "maxOpenFiles", `maxOpenFiles: 0 is outside 1..2147483647`],
  ["maxOpenFiles 2^31", { maxOpenFiles: 2 ** 31 }, "maxOpenFiles", `maxOpenFiles: 2147483648 is outside 1..2147483647`],
  ["maxOpenFiles NaN", { maxOpenFiles: NaN }, "maxOpenFiles", `maxOpenFiles: NaN is not a finite number`],
  ["maxEpollWatches -1", { maxEpollWatches: -1 }, "maxEpollWatches", `maxEpollWatches: -1 is outside 0..2147483647`],
  ["maxEpollWatches 2^31", { maxEpollWatches: 2 ** 31 }, "maxEpollWatches", `maxEpollWatches: 2147483648 is outside 0..2147483647`],
  ["maxEpollWatches fraction", { maxEpollWatches: 0.5 }, "maxEpollWatches", `maxEpollWatches: 0.5 is not a whole number`],
  ["maxEpollWatches string", { maxEpollWatches: "1000" }, "maxEpollWatches", `maxEpollWatches: "1000" is not a number`],
  ["maxCpu 0", { maxCpu: 0 }, "maxCpu", `maxCpu: 0 is outside 1..100 (percent of one core)`],
  ["maxCpu 101", { maxCpu: 101 }, "maxCpu", `maxCpu: 101 is outside 1..100 (percent of one core)`],
  ["maxCpu fraction", { maxCpu: 50.5 }, "maxCpu", `maxCpu: 50.5 is not a whole number`],
  ["numCpus 0", { numCpus: 0 }, "numCpus", `numCpus: 0 is outside 1..8192`],
  ["numCpus bigint", { numCpus: 2n }, "numCpus", `numCpus: 2n is not a number`],
  ["cpuCores not an array", { cpuCores: 1 }, "cpuCores", `cpuCores: 1 is not an array of core numbers`],
  ["cpuCores empty", { cpuCores: [] }, "cpuCores", `cpuCores: [] is empty (give at least one core)`],
  ["cpuCores negative", { cpuCores: [0, -1] }, "cpuCores", `cpuCores: -1 is not a core number (0..8191)`],
  ["cpuCores fraction", { cpuCores: [0.5] }, "cpuCores", `cpuCores: 0.5 is not a core number (0..8191)`],
  ["cpuCores too big", { cpuCores: [8192] }, "cpuCores", `cpuCores: 8192 is not a core number (0..8191)`],
  ["cpuCores duplicate", { cpuCores: [0, 1, 0] }, "cpuCores", `cpuCores: 0 is listed twice`],
]);

cases("determinism", [
  ["randomSeed negative", { randomSeed: -1 }, "randomSeed", `randomSeed: -1 is negative (a seed is 0..2^64-1)`],
  ["randomSeed negative bigint", { randomSeed: -1n }, "randomSeed", `randomSeed: -1n is negative (a seed is 0..2^64-1)`],
  ["randomSeed fraction", { randomSeed: 1.5 }, "randomSeed", `randomSeed: 1.5 is not a whole number`],
  ["randomSeed unsafe number", { randomSeed: 2 ** 60 }, "randomSeed",
    `randomSeed: 1152921504606847000 is above 2^53-1, where numbers lose precision (pass a bigint or a decimal string)`],
  ["randomSeed 2^64", { randomSeed: 1n << 64n }, "randomSeed", `randomSeed: 18446744073709551616n is above 2^64-1`],
  ["randomSeed 2^64 string", { randomSeed: "18446744073709551616" }, "randomSeed", `randomSeed: "18446744073709551616" is above 2^64-1`],
  ["randomSeed hex string", { randomSeed: "0x10" }, "randomSeed", `randomSeed: "0x10" is not a string of decimal digits`],
  ["randomSeed empty string", { randomSeed: "" }, "randomSeed", `randomSeed: "" is not a string of decimal digits`],
  ["randomSeed boolean", { randomSeed: true }, "randomSeed", `randomSeed: true is not a seed: give a number, a bigint or a decimal string`],
  ["timeStart invalid Date", { timeStart: new Date(NaN) }, "timeStart", `timeStart: Invalid Date is an invalid Date`],
  ["timeStart number", { timeStart: 0 }, "timeStart", `timeStart: 0 is not a Date or an RFC 3339 string`],
  ["timeStart not RFC 3339", { timeStart: "yesterday" }, "timeStart", `timeStart: "yesterday" is not an RFC 3339 date-time (e.g. "2024-01-01T00:00:00Z")`],
  ["timeStart without offset", { timeStart: "2024-01-01T00:00:00" }, "timeStart",
    `timeStart: "2024-01-01T00:00:00" is not an RFC 3339 date-time (e.g. "2024-01-01T00:00:00Z")`],
  ["timeStart date only", { timeStart: "2024-01-01" }, "timeStart", `timeStart: "2024-01-01" is not an RFC 3339 date-time (e.g. "2024-01-01T00:00:00Z")`],
  ["timeStart Feb 30", { timeStart: "2024-02-30T00:00:00Z" }, "timeStart",
    `timeStart: "2024-02-30T00:00:00Z" has a month, day, hour, minute, second or offset out of range`],
  ["timeStart Feb 29 of a common year", { timeStart: "2023-02-29T00:00:00Z" }, "timeStart",
    `timeStart: "2023-02-29T00:00:00Z" has a month, day, hour, minute, second or offset out of range`],
  ["timeStart hour 24", { timeStart: "2024-01-01T24:00:00Z" }, "timeStart",
    `timeStart: "2024-01-01T24:00:00Z" has a month, day, hour, minute, second or offset out of range`],
  ["timeStart leap second", { timeStart: "2016-12-31T23:59:60Z" }, "timeStart",
    `timeStart: "2016-12-31T23:59:60Z" has a month, day, hour, minute, second or offset out of range`],
  ["timeStart month 13", { timeStart: "2024-13-01T00:00:00Z" }, "timeStart",
    `timeStart: "2024-13-01T00:00:00Z" has a month, day, hour, minute, second or offset out of range`],
  ["timeStart offset +24:00", { timeStart: "2024-01-01T00:00:00+24:00" }, "timeStart",
    `timeStart: "2024-01-01T00:00:00+24:00" has a month, day, hour, minute, second or offset out of range`],
]);

for (const field of ["deterministicDirs", "noRandomizeMemory", "noHugePages", "noCoredump", "cleanEnv", "portRemap", "privateTmp"]) {
  test(`booleans: ${field} must be a boolean`, () => {
    rejects({ [field]: "true" }, field, `${field}: "true" is not a boolean (true or false)`);
    rejects({ [field]: 1 }, field, `${field}: 1 is not a boolean (true or false)`);
  });
}

cases("name", [
  ["not a string", { name: 5 }, "name", `name: 5 is not a string`],
  ["empty", { name: "" }, "name", `name: "" is empty`],
  ["slash", { name: "a/b" }, "name", `name: "a/b" contains "/"`],
  ["NUL", { name: "a\0b" }, "name", `name: "a\\u0000b" contains a NUL byte`],
  ["dot", { name: "." }, "name", `name: "." is reserved ("." and ".." name directories)`],
  ["dot dot", { name: ".." }, "name", `name: ".." is reserved ("." and ".." name directories)`],
  ["newline", { name: "box\nroot" }, "name", `name: "box\\nroot" contains U+000A at position 3 (control characters and whitespace are not allowed in a name)`],
  ["escape sequence", { name: "a\u001b[2J" }, "name", `name: "a\\u001b[2J" contains U+001B at position 1 (control characters and whitespace are not allowed in a name)`],
  ["DEL", { name: "a\u007f" }, "name", `name: "a\u007f" contains U+007F at position 1 (control characters and whitespace are not allowed in a name)`],
  ["C1 control", { name: "a\u0085b" }, "name", `name: "a\u0085b" contains U+0085 at position 1 (control characters and whitespace are not allowed in a name)`],
  ["space", { name: "my box" }, "name", `name: "my box" contains U+0020 at position 2 (control characters and whitespace are not allowed in a name)`],
  ["line separator", { name: "a\u2028b" }, "name", `name: "a\u2028b" contains U+2028 at position 1 (control characters and whitespace are not allowed in a name)`],
  ["65 bytes", { name: "x".repeat(65) }, "name", `name: "${"x".repeat(65)}" is 65 bytes long in UTF-8 (at most 64)`],
  ["33 characters but 66 bytes", { name: "é".repeat(33) }, "name", `name: "${"é".repeat(33)}" is 66 bytes long in UTF-8 (at most 64)`],
]);

cases("workdir-only fields", [
  ["fsStorage", { fsStorage: "/var/tmp/s" }, "fsStorage", `fsStorage: "/var/tmp/s" requires workdir`],
  ["maxDisk", { maxDisk: "1G" }, "maxDisk", `maxDisk: "1G" requires workdir`],
  ["onExit", { onExit: "keep" }, "onExit", `onExit: "keep" requires workdir`],
  ["onError", { onError: "commit" }, "onError", `onError: "commit" requires workdir`],
  ["onExit bad word", { workdir: "/w", onExit: "save" }, "onExit", `onExit: "save" is not one of "commit", "abort" or "keep"`],
  ["onError bad case", { workdir: "/w", onError: "ABORT" }, "onError", `onError: "ABORT" is not one of "commit", "abort" or "keep"`],
  ["fsMount without chroot", { fsMount: { "/data": "/srv" } }, "fsMount", `fsMount: {"/data":"/srv"} requires chroot (it maps directories into the chroot)`],
]);

cases("procView", [
  ["a third word", { procView: "auto" }, "procView", `procView: "auto" is not "kernel" or "supervised" (leave it unset for the kernel view where it applies)`],
  ["not a string", { procView: true }, "procView", `procView: true is not "kernel" or "supervised" (leave it unset for the kernel view where it applies)`],
]);

cases("env", [
  ["not an object", { env: ["A=1"] }, "env", `env: ["A=1"] is not an object of variable names to string values`],
  ["empty name", { env: { "": "x" } }, "env", `env: "" is not a variable name (it is empty)`],
  ["name with =", { env: { "A=B": "x" } }, "env", `env: "A=B" is not a variable name (it contains "=")`],
  ["name with NUL", { env: { "A\0": "x" } }, "env", `env: "A\\u0000" is not a variable name (it contains a NUL byte)`],
  // JSON and TOML make it an own key; an object literal would set the prototype instead.
  ["name __proto__", { env: JSON.parse('{"__proto__": "x"}') }, "env", `env: "__proto__" cannot be passed as a variable (a JavaScript object cannot hold that name as a key)`],
  ["value not a string", { env: { PORT: 8080 } }, "env.PORT", `env.PORT: 8080 is not a string`],
  ["value with NUL", { env: { A: "x\0y" } }, "env.A", `env.A: "x\\u0000y" contains a NUL byte`],
]);

cases("user", [
  ["not an object", { user: 1000 }, "user", `user: 1000 is not an object of {uid, gid}`],
  ["unknown key", { user: { uid: 1, gid: 1, gidd: 2 } }, "user.gidd", `unknown field "gidd" in user (did you mean "gid"?) (it takes uid and gid)`],
  ["missing gid", { user: { uid: 1000 } }, "user.gid", `user.gid: undefined is missing (user needs both uid and gid)`],
  ["negative uid", { user: { uid: -1, gid: 0 } }, "user.uid", `user.uid: -1 is outside 0..4294967294`],
  ["uid 2^32-1", { user: { uid: 2 ** 32 - 1, gid: 0 } }, "user.uid", `user.uid: 4294967295 is outside 0..4294967294`],
  ["gid string", { user: { uid: 0, gid: "0" } }, "user.gid", `user.gid: "0" is not a number`],
  ["gid fraction", { user: { uid: 0, gid: 0.5 } }, "user.gid", `user.gid: 0.5 is not a whole number`],
]);

cases("gpuDevices", [
  ["a word", { gpuDevices: "none" }, "gpuDevices", `gpuDevices: "none" is not "all" or an array of device numbers`],
  ["negative", { gpuDevices: [-1] }, "gpuDevices", `gpuDevices: -1 is not a device number (0..2147483647)`],
  ["string entry", { gpuDevices: ["0"] }, "gpuDevices", `gpuDevices: "0" is not a device number (0..2147483647)`],
  ["duplicate", { gpuDevices: [1, 1] }, "gpuDevices", `gpuDevices: 1 is listed twice`],
]);

cases("policyFn", [
  ["not a function", { policyFn: "allow" }, "policyFn", `policyFn: "allow" is not a function`],
]);

const VALID = "(valid: fs, fs-refer, fs-truncate, net-tcp, ioctl-dev, scopes)";
cases("protection", [
  ["not an object", { protection: ["fs"] }, "protection", `protection: ["fs"] is not an object of {allowDegraded?, disable?}`],
  ["unknown key", { protection: { disabel: ["fs"] } }, "protection.disabel",
    `unknown field "disabel" in protection (did you mean "disable"?) (it takes allowDegraded and disable)`],
  ["list not an array", { protection: { disable: "fs" } }, "protection.disable", `protection.disable: "fs" is not an array of protection names`],
  ["unknown protection", { protection: { disable: ["fss"] } }, "protection.disable", `protection.disable: "fss" is not a protection (did you mean "fs"?) ${VALID}`],
  ["unknown protection, no suggestion", { protection: { allowDegraded: ["landlock"] } }, "protection.allowDegraded",
    `protection.allowDegraded: "landlock" is not a protection ${VALID}`],
  ["non-string protection", { protection: { allowDegraded: [4] } }, "protection.allowDegraded", `protection.allowDegraded: 4 is not a protection ${VALID}`],
  ["disable fs-refer", { protection: { disable: ["fs-refer"] } }, "protection.disable",
    `protection.disable: "fs-refer" cannot be disabled: without it Landlock refuses every cross-directory rename and link (EXDEV), ` +
      `and with it renames are already allowed wherever writes are (disable "fs" to drop every filesystem rule)`],
  ["in both lists", { protection: { allowDegraded: ["fs", "scopes"], disable: ["scopes"] } }, "protection.disable",
    `protection.disable: "scopes" is also in protection.allowDegraded (a protection is either degradable or disabled)`],
]);

test("messages stay short: long values are cut", () => {
  const long = "x".repeat(500);
  assert.throws(() => new Policy({ fsReadable: [long] }), (e: unknown) => {
    assert.ok(e instanceof PolicyError);
    assert.equal(e.message, `fsReadable: "${"x".repeat(118)}… ${REL}`);
    assert.equal(e.value, long);
    return true;
  });
});

test("a cyclic value does not break the message", () => {
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  rejects({ env: { A: cyclic } }, "env.A", `env.A: [object Object] is not a string`);
});

test("the first problem in field order is reported", () => {
  rejects({ maxCpu: 0, fsReadable: ["rel"] }, "fsReadable", `fsReadable: "rel" ${REL}`);
});

test("validatePolicy accepts and normalises every field", () => {
  const fn = (): "allow" => "allow";
  const f = validatePolicy({
    fsReadable: ["/usr"], fsWritable: ["/tmp"], fsDenied: ["/etc/shadow"],
    extraDenySyscalls: ["ptrace", "io_uring", "ptrace"], extraAllowSyscalls: ["sysv_ipc", "sysv_ipc"],
    netAllow: ["api.example.com:443"], netAllowBind: [8080, "9000-9001", "*"], netDenyBind: [],
    maxMemory: "512M", maxProcesses: 10, maxOpenFiles: 1024, maxCpu: 50, cpuCores: [1, 0], numCpus: 2,
    randomSeed: "18446744073709551615", timeStart: "2024-03-01 12:00:00.25+01:30", deterministicDirs: true,
    noRandomizeMemory: true, noHugePages: true, noCoredump: true, name: "box", workdir: "/w", cwd: "/w/src",
    fsStorage: "/var/cow", maxDisk: 8192, onExit: "keep", onError: "commit", chroot: "/r", fsMount: { "/data": "/srv" },
    cleanEnv: true, env: { A: "1" }, user: { uid: 1000, gid: 100 }, gpuDevices: [], portRemap: true, policyFn: fn,
    protection: { allowDegraded: ["scopes", "scopes"], disable: ["ioctl-dev"] },
  });
  assert.deepEqual(f.extraDenySyscalls, ["ptrace", "io_uring"]);
  assert.deepEqual(f.extraAllowSyscalls, ["sysv_ipc"]);
  assert.deepEqual(f.netAllowBind, [{ lo: 8080, hi: 8080 }, { lo: 9000, hi: 9001 }, "any"]);
  assert.equal(f.maxMemory, 512n << 20n);
  assert.equal(f.maxProcesses, 10);
  assert.equal(f.maxProcessesExplicit, true);
  assert.deepEqual(f.cpuCores, [1, 0]);
  assert.equal(f.randomSeed, 18446744073709551615n);
  assert.equal(f.timeStart?.toISOString(), "2024-03-01T10:30:00.250Z");
  assert.equal(f.maxDisk, 8192n);
  assert.equal(f.gpuDevices, undefined, "an empty GPU list is the default: no GPU");
  assert.equal(f.policyFn, fn);
  assert.deepEqual(f.protection, { allowDegraded: ["scopes"], disable: ["ioctl-dev"] });
  assert.ok(Object.isFrozen(f) && Object.isFrozen(f.fsReadable) && Object.isFrozen(f.env) && Object.isFrozen(f.user));
});

test("defaults and undefined fields", () => {
  const f = validatePolicy({ maxMemory: undefined, name: undefined });
  assert.equal(f.maxProcesses, 64);
  assert.equal(f.maxProcessesExplicit, false);
  assert.equal(f.onExit, "commit");
  assert.equal(f.onError, "abort");
  assert.equal(f.maxMemory, undefined);
  assert.deepEqual(f.fsReadable, []);
  assert.deepEqual(f.protection, { allowDegraded: [], disable: [] });
  assert.deepEqual(validatePolicy(Object.create(null)), validatePolicy({}));
});

test("timeStart forms", () => {
  const at = (t: string | Date): string | undefined => validatePolicy({ timeStart: t }).timeStart?.toISOString();
  assert.equal(at("2024-01-01T00:00:00Z"), "2024-01-01T00:00:00.000Z");
  assert.equal(at("2024-01-01t00:00:00z"), "2024-01-01T00:00:00.000Z");
  assert.equal(at("2024-02-29T23:59:59.123456-05:00"), "2024-03-01T04:59:59.123Z");
  assert.equal(at("0001-01-01T00:00:00Z"), "0001-01-01T00:00:00.000Z");
  const d = new Date("2020-05-05T05:05:05Z");
  const f = validatePolicy({ timeStart: d });
  d.setTime(0);
  assert.equal(f.timeStart?.toISOString(), "2020-05-05T05:05:05.000Z", "the input Date is copied");
});

test("randomSeed forms", () => {
  assert.equal(validatePolicy({ randomSeed: 42 }).randomSeed, 42n);
  assert.equal(validatePolicy({ randomSeed: 0n }).randomSeed, 0n);
  assert.equal(validatePolicy({ randomSeed: "007" }).randomSeed, 7n);
  assert.equal(validatePolicy({ randomSeed: (1n << 64n) - 1n }).randomSeed, (1n << 64n) - 1n);
});

test("the smallest accepted maxMemory is 1M, and names that are plain words pass", () => {
  assert.equal(new Policy({ maxMemory: "1M" }).maxMemory, 1n << 20n);
  assert.equal(new Policy({ maxMemory: 1048576 }).maxMemory, 1n << 20n);
  assert.equal(new Policy({ name: "build-42.ci_job" }).name, "build-42.ci_job");
  assert.equal(new Policy({ name: "café" }).name, "café");
});

test("fs-refer can be disabled together with fs (no filesystem rule at all)", () => {
  assert.deepEqual(new Policy({ protection: { disable: ["fs", "fs-refer"] } }).protection.disable, ["fs", "fs-refer"]);
});
