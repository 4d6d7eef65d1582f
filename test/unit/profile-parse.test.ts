// TOML profiles parsed on their own: every key of the table maps to its policy field,
// errors name the file, the line and the key, and `profile show`'s TOML reads back the same.

import assert from "node:assert/strict";
import { test } from "node:test";
import { parse } from "smol-toml";
import { LineIndex } from "../../src/profile/lines.js";
import { parseProfile } from "../../src/profile/parse.js";
import { profileToToml } from "../../src/profile/to-toml.js";
import { validatePolicy } from "../../src/policy/validate.js";
import { policyToJSON } from "../../src/policy/serialize.js";

const FULL = `extends = "system"

[program]
exec = "/usr/bin/make"
args = ["-j2", "test"]
env = { CC = "gcc", "WITH SPACE" = "x" }
cwd = "/work/p"
clean_env = true
name = "build"

[filesystem]
read = ["/srv/data"]
write = ["/work/p"]
private_tmp = true

[network]
allow = ["tcp://:443", "udp://1.1.1.1:53"]
allow_bind = [8080, "9000-9010"]

[limits]
memory = "512M"
processes = 32
open_files = 1024
epoll_watches = 5000
cpu = 50
cpu_cores = [0]
num_cpus = 1
no_coredump = true

[determinism]
no_randomize_memory = true
no_huge_pages = true

[syscalls]
extra_deny = ["ptrace"]
extra_allow = ["sysv_ipc"]

[protection]
allow_degraded = ["scopes"]
`;

test("every key maps to its field", async () => {
  const p = await parseProfile("/p/full.toml", FULL);
  assert.deepEqual(p.extends, { name: "system", line: 1 });
  assert.deepEqual(p.cmd, ["/usr/bin/make", "-j2", "test"]);
  assert.deepEqual(p.input, {
    env: { CC: "gcc", "WITH SPACE": "x" }, cwd: "/work/p", cleanEnv: true, name: "build",
    fsReadable: ["/srv/data"], fsWritable: ["/work/p"], privateTmp: true,
    netAllow: ["tcp://:443", "udp://1.1.1.1:53"], netAllowBind: [8080, "9000-9010"],
    maxMemory: "512M", maxProcesses: 32, maxOpenFiles: 1024, maxEpollWatches: 5000, maxCpu: 50, cpuCores: [0], numCpus: 1, noCoredump: true,
    noRandomizeMemory: true, noHugePages: true,
    extraDenySyscalls: ["ptrace"], extraAllowSyscalls: ["sysv_ipc"], protection: { allowDegraded: ["scopes"] },
  });
});

test("profile show's TOML parses back to the same policy and command", async () => {
  const p = await parseProfile("/p/full.toml", FULL);
  const json = policyToJSON(validatePolicy(p.input));
  const text = profileToToml(json, p.cmd, ["a header"]);
  assert.match(text, /^# a header\n\n\[program\]\nexec = "\/usr\/bin\/make"\n/);
  parse(text); // valid TOML
  const again = await parseProfile("/p/shown.toml", text);
  assert.deepEqual(policyToJSON(validatePolicy(again.input)), json);
  assert.deepEqual(again.cmd, p.cmd);
});

test("time_start takes a TOML date-time with an offset, not a local one", async () => {
  assert.equal((await parseProfile("/t.toml", "[determinism]\ntime_start = 2000-01-02T03:04:05Z\n")).input.timeStart, "2000-01-02T03:04:05.000Z");
  await assert.rejects(parseProfile("/t.toml", "[determinism]\ntime_start = 2000-01-02T03:04:05\n"), {
    message: "profile /t.toml:2: [determinism] time_start: expected a date-time (1970-01-01T00:00:00Z) or an RFC 3339 string, got a date (2000-01-02T03:04:05.000)",
  });
});

const BAD: [string, string, string][] = [
  ["unknown section", "# a comment\n\n[limitz]\n", `profile /b.toml:3: [limitz]: unknown section (did you mean "limits"?) (sections: [program], [filesystem], [network], [limits], [determinism], [syscalls], [protection]; top-level keys: extends)`],
  ["unknown key in a dotted form", "limits.cpus = 2\n", `profile /b.toml:1: [limits] cpus: unknown key (did you mean "cpu"?) (keys of [limits]: memory, processes, open_files, epoll_watches, cpu, cpu_cores, num_cpus, gpu, no_coredump)`],
  ["a key written as a section", "[network.allow]\n", `profile /b.toml:1: [network] allow: expected an array of strings, got a table`],
  ["a section written as a key", "limits = 5\n", `profile /b.toml:1: limits: expected a section ([limits]), got number 5`],
  ["bool as string", "[network]\nport_remap = \"yes\"\n", `profile /b.toml:2: [network] port_remap: expected true or false, got string "yes"`],
  ["mixed array", "[filesystem]\nread = [\"/usr\", 5]\n", `profile /b.toml:2: [filesystem] read: expected an array of absolute paths (strings), got an array`],
  ["float", "[limits]\nprocesses = 2.5\n", `profile /b.toml:2: [limits] processes: expected an integer, got number 2.5`],
  ["env value not a string", "[program]\nenv = { A = 1 }\n", `profile /b.toml:2: [program] env: expected a table of strings (key = "value"), got a table`],
  ["env named __proto__ (was dropped without a word)", "[program]\nenv = { \"__proto__\" = \"x\" }\n", `profile /b.toml:2: [program] env: "__proto__" cannot be passed as a variable (a JavaScript object cannot hold that name as a key)`],
  ["policy check", "[network]\nallow = [\"host:99999\"]\n", `profile /b.toml:2: [network] allow: "host:99999" has port 99999, above 65535`],
  ["relation check", "[network]\nallow = [\":443\"]\ndeny = [\"10.0.0.0/8\"]\n", `profile /b.toml:3: [network] deny: ["10.0.0.0/8"] cannot be combined with netAllow (choose an allowlist or a denylist)`],
  ["extends not a string", "extends = [\"system\"]\n", `profile /b.toml:1: extends: expected the name of a preset or profile (a string), got an array`],
  ["duplicate key", "[limits]\ncpu = 1\ncpu = 2\n", "profile /b.toml:3: is not valid TOML: "],
];

for (const [name, text, message] of BAD) {
  test(`bad profile: ${name}`, async () => {
    await assert.rejects(parseProfile("/b.toml", text), (e: Error & { file?: string }) => {
      assert.ok(e.message.startsWith(message), `got: ${e.message}`);
      assert.equal(e.file, "/b.toml");
      return true;
    });
  });
}

test("line index: sections, keys, dotted and quoted keys, multi-line strings skipped", () => {
  const lines = new LineIndex('a = 1\n[s]\nk = """\nz = 2\n"""\n"q k" = 3\n[t.u]\nv.w = 4\n');
  assert.equal(lines.lineOf(["a"]), 1);
  assert.equal(lines.lineOf(["s"]), 2);
  assert.equal(lines.lineOf(["s", "k"]), 3);
  assert.equal(lines.lineOf(["s", "z"]), 2, "a line inside a multi-line string is not a key: the section's line");
  assert.equal(lines.lineOf(["s", "q k"]), 6);
  assert.equal(lines.lineOf(["t", "u", "v", "w"]), 8);
  assert.equal(lines.lineOf(["nowhere"]), undefined);
});
