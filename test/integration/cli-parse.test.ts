// The `sandlock run` flag table, in process: every flag lands in its policy field with a
// value the library accepts, and the parser's corner cases (clusters, =, repeats).

import { test } from "node:test";
import assert from "node:assert/strict";
import { flagMessage } from "../../src/cli/report.js";
import { RUN_FLAGS } from "../../src/cli/run-flags.js";
import { parseRunArgs } from "../../src/cli/run-options.js";
import { UsageError } from "../../src/cli/usage-error.js";
import { POLICY_FIELDS, validatePolicy } from "../../src/policy/index.js";

test("every policy flag maps to its field, and the result validates", () => {
  const o = parseRunArgs([
    "-r", "/usr", "--fs-read", "/lib", "-w", "/tmp/w", "--fs-deny", "/etc/shadow", "--fs-deny", "/root",
    "-m", "512M", "-P", "10", "--max-open-files", "100", "--max-epoll-watches", "5000", "-c", "50", "--cpu-cores", "0,1", "--cpu-cores", "2", "--num-cpus", "2",
    "--net-allow", "tcp://:443", "--net-allow", "api.example.com:80,443", "--net-allow-bind", "8080,9000-9010", "--net-allow-bind", "*",
    "--port-remap", "--random-seed", "42", "--time-start", "2024-01-01T00:00:00Z", "--deterministic-dirs",
    "--no-randomize-memory", "--no-huge-pages", "--no-coredump", "--name", "box",
    "--workdir", "/tmp/w", "--cwd", "/tmp/w", "--fs-storage", "/tmp/s", "--max-disk", "1G", "--on-exit", "keep", "--on-error", "commit",
    "--chroot", "/srv/root", "--fs-mount", "/data:/srv/data", "--fs-mount", "/cache:/srv/cache",
    "--clean-env", "--env", "A=1", "--env", "B=2=3", "--env", "A=4", "--user", "1000:100", "--gpu", "0,1", "--gpu", "3",
    "--extra-deny-syscall", "ptrace,io_uring", "--extra-allow-syscall", "sysv_ipc",
    "--allow-degraded", "scopes,ioctl-dev", "--disable", "fs-truncate",
    "--", "prog", "arg",
  ]);
  assert.deepEqual(o.policy, {
    fsReadable: ["/usr", "/lib"],
    fsWritable: ["/tmp/w"],
    fsDenied: ["/etc/shadow", "/root"],
    maxMemory: "512M",
    maxProcesses: 10,
    maxOpenFiles: 100,
    maxEpollWatches: 5000,
    maxCpu: 50,
    cpuCores: [0, 1, 2],
    numCpus: 2,
    netAllow: ["tcp://:443", "api.example.com:80,443"],
    netAllowBind: ["8080", "9000-9010", "*"],
    portRemap: true,
    randomSeed: "42",
    timeStart: "2024-01-01T00:00:00Z",
    deterministicDirs: true,
    noRandomizeMemory: true,
    noHugePages: true,
    noCoredump: true,
    name: "box",
    workdir: "/tmp/w",
    cwd: "/tmp/w",
    fsStorage: "/tmp/s",
    maxDisk: "1G",
    onExit: "keep",
    onError: "commit",
    chroot: "/srv/root",
    fsMount: { "/data": "/srv/data", "/cache": "/srv/cache" },
    cleanEnv: true,
    env: { A: "4", B: "2=3" },
    user: { uid: 1000, gid: 100 },
    gpuDevices: [0, 1, 3],
    extraDenySyscalls: ["ptrace", "io_uring"],
    extraAllowSyscalls: ["sysv_ipc"],
    protection: { allowDegraded: ["scopes", "ioctl-dev"], disable: ["fs-truncate"] },
  });
  assert.deepEqual(o.cmd, ["prog", "arg"]);
  const fields = validatePolicy(o.policy); // the library accepts every value as the CLI shaped it
  assert.equal(fields.maxMemory, 512n << 20n);

  const deny = parseRunArgs(["--net-deny", "10.0.0.0/8", "--net-deny-bind", "22,80", "--gpu", "all", "--allow-protected", "-e", "echo hi"]);
  assert.deepEqual(deny.policy, { netDeny: ["10.0.0.0/8"], netDenyBind: ["22", "80"], gpuDevices: "all", protectedFiles: false });
  assert.deepEqual(deny.cmd, ["/bin/sh", "-c", "echo hi"]);
  assert.equal(validatePolicy(deny.policy).gpuDevices, "all");
});

test("the table covers every policy field the command line can express", () => {
  const covered = new Set(RUN_FLAGS.map((f) => f.field?.split(".")[0]).filter((f) => f !== undefined));
  const missing = POLICY_FIELDS.filter((f) => !covered.has(f));
  assert.deepEqual(missing, ["policyFn", "policyFnFiles"], "only the callback (and its file-events switch, meaningless without it) has no flag");
});

test("run options: timeout, json, interactive, read-only mounts", () => {
  const o = parseRunArgs(["-t", "1.5", "-t", "0.25", "--json", "-i", "--fs-mount", "/a:/b:ro", "--", "x"]);
  assert.deepEqual(o.timeout, { ms: 250, text: "0.25" });
  assert.equal(o.json, true);
  assert.equal(o.interactive, true);
  assert.deepEqual(o.policy.fsMount, { "/a": "/b:ro" }, "the policy's form of a read-only mount");
  assert.deepEqual(parseRunArgs(["--fs-mount", "/a:/b:ro", "--fs-mount", "/a:/c", "x"]).policy.fsMount, { "/a": "/c" }, "the last mapping of /a wins");
});

test("short flags cluster; a value ends the cluster", () => {
  const o = parseRunArgs(["-ie", "echo hi"]);
  assert.equal(o.interactive, true);
  assert.deepEqual(o.cmd, ["/bin/sh", "-c", "echo hi"]);
  const attached = parseRunArgs(["-r/usr", "-P5", "x"]);
  assert.deepEqual(attached.policy, { fsReadable: ["/usr"], maxProcesses: 5 });
});

function usage(argv: string[], message: string | RegExp): void {
  assert.throws(() => parseRunArgs(argv), (e: unknown) => {
    assert.ok(e instanceof UsageError, String(e));
    if (typeof message === "string") assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });
}

test("structural mistakes", () => {
  usage(["--json=yes", "x"], `sandlock run: --json takes no value (got "yes")`);
  usage(["-iz", "x"], "sandlock run: unknown flag -z (in -iz)");
  usage(["--nett-allow", "x"], "sandlock run: unknown flag --nett-allow (did you mean --net-allow?)");
  usage(["--completely-unknown", "x"], "sandlock run: unknown flag --completely-unknown");
  usage(["-m", "-r", "/usr", "x"], "sandlock run: -m (--max-memory) needs a value (SIZE)");
  usage(["--gpu", "1", "--gpu", "all", "x"], `sandlock: --gpu: "all" cannot be combined with device numbers given before`);
});

test("--help wins over everything else, even mistakes in values", () => {
  assert.equal(parseRunArgs(["-P", "x", "--help"]).help, true);
  assert.equal(parseRunArgs(["--dry-run", "-h"]).help, true);
});

test("library messages are rewritten to the flag that set the field", () => {
  assert.equal(flagMessage("maxMemory", `maxMemory: "12X" is not a byte size`), `--max-memory: "12X" is not a byte size`);
  assert.equal(flagMessage("protection.disable", `protection.disable: "x" is not a protection`), `--disable: "x" is not a protection`);
  assert.equal(flagMessage("user.uid", "user.uid: 5 is outside"), "--user (uid): 5 is outside");
  assert.equal(flagMessage(`fsMount["/v"]`, `fsMount["/v"]: "rel" is a relative path`), `--fs-mount (/v): "rel" is a relative path`);
  assert.equal(flagMessage("env.A", `env.A: "x" contains a NUL byte`), `--env (A): "x" contains a NUL byte`);
  assert.equal(flagMessage("cpuCores", "CPU 9 does not exist"), "--cpu-cores: CPU 9 does not exist");
  assert.equal(flagMessage("policy", "policy: 1 is not an object"), "policy: 1 is not an object", "no flag: unchanged");
});
