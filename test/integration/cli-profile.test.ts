// Presets and TOML profiles from the command line: -p NAME, --profile-file PATH,
// `sandlock profile list|show`, composition with flags, and every kind of bad profile
// answered with exit 125 and a message naming the file, the line and the key.

import { spawn } from "node:child_process";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { parse } from "smol-toml";
import { CLI } from "../helpers/system.js";

const base = mkdtempSync(join(tmpdir(), "sandlock-profile-test-"));
const config = join(base, "config");
const profiles = join(config, "sandlock", "profiles");
const project = join(base, "project");
mkdirSync(profiles, { recursive: true });
mkdirSync(project);
after(() => rmSync(base, { recursive: true, force: true }));

const ENV = { PATH: "/usr/bin:/bin", XDG_CONFIG_HOME: config, HOME: base };

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function sandlock(args: readonly string[], cwd = project): Promise<Ran> {
  const child = spawn(process.execPath, [CLI, ...args], { cwd, env: ENV, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
  child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
  return new Promise((resolve) => child.once("close", (code) => resolve({ code, stdout, stderr })));
}

function profile(name: string, text: string): string {
  const path = join(profiles, `${name}.toml`);
  writeFileSync(path, text);
  return path;
}

async function fails(args: readonly string[], message: string | RegExp): Promise<void> {
  const r = await sandlock(args);
  assert.equal(r.code, 125, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
  const line = r.stderr.split("\n")[0]!;
  if (typeof message === "string") assert.equal(line, message);
  else assert.match(line, message);
}

test("profile list: the built-in presets and the user's profiles", async () => {
  profile("listed", "[limits]\nprocesses = 8\n");
  const r = await sandlock(["profile", "list"]);
  assert.equal(r.code, 0, r.stderr);
  for (const p of ["minimal", "system", "workspace", "system-net", "workspace-net"]) assert.match(r.stdout, new RegExp(`^  ${p} +\\S`, "m"));
  assert.match(r.stdout, new RegExp(`^Profiles \\(${profiles}\\):\\n(  .+\\n)*  listed\\n`, "m"));
});

test("profile show workspace: valid TOML, the project writable, a private TMPDIR, no secret of /etc", async () => {
  const r = await sandlock(["profile", "show", "workspace"]);
  assert.equal(r.code, 0, r.stderr);
  const doc = parse(r.stdout) as { filesystem: { read: string[]; write: string[]; private_tmp: boolean } };
  assert.ok(doc.filesystem.write.includes(project), "the working directory is writable");
  assert.ok(doc.filesystem.write.includes("/dev/null"));
  assert.equal(doc.filesystem.private_tmp, true);
  assert.ok(doc.filesystem.read.includes("/proc"));
  assert.ok(doc.filesystem.read.includes("/etc/passwd"));
  for (const secret of ["/etc", "/etc/shadow", "/etc/gshadow", "/etc/ssh", "/etc/sudoers", "/etc/ssl/private", "/", "/root", "/home"]) {
    assert.ok(!doc.filesystem.read.includes(secret) && !doc.filesystem.write.includes(secret), `${secret} is granted`);
  }
  assert.equal((parse((await sandlock(["profile", "show", "workspace-net"])).stdout) as { network: { allow: string[] } }).network.allow.length, 2);
});

test("a profile extends a preset; flags add to lists and override scalars; [program] gives the command", async () => {
  profile("dev", 'extends = "workspace"\n\n[program]\nexec = "/bin/sh"\nargs = ["-c", "echo $FOO $BAR; touch made"]\nenv = { FOO = "from-profile", BAR = "kept" }\n\n[limits]\nprocesses = 16\n');
  const own = await sandlock(["run", "-p", "dev"]);
  assert.equal(own.code, 0, own.stderr);
  assert.equal(own.stdout, "from-profile kept\n");
  const over = await sandlock(["run", "-p", "dev", "--env", "FOO=from-flag", "--", "sh", "-c", "echo $FOO $BAR; echo x > /dev/null"]);
  assert.equal(over.code, 0, over.stderr);
  assert.equal(over.stdout, "from-flag kept\n", "the flag's value wins, the profile's other keys stay");
  const shown = parse((await sandlock(["profile", "show", "dev"])).stdout) as { program: { exec: string }; limits: { processes: number } };
  assert.equal(shown.program.exec, "/bin/sh");
  assert.equal(shown.limits.processes, 16);
});

test("-p system then -w: the flag's path is added to the preset's", async () => {
  const denied = await sandlock(["run", "-p", "system", "--", "sh", "-c", "echo hi > out"]);
  assert.notEqual(denied.code, 0, "system alone keeps the project read-only");
  const r = await sandlock(["run", "-p", "system", "-w", project, "--", "sh", "-c", "echo hi > out && cat out"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "hi\n");
});

test("--profile-file: a file anywhere, composed in order with -p", async () => {
  const file = join(base, "limits.toml");
  writeFileSync(file, "[program]\nenv = { ONLY = \"file\" }\n");
  const r = await sandlock(["run", "-p", "system", "--profile-file", file, "--", "sh", "-c", "echo $ONLY"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "file\n");
});

test("bad profiles: the file, the line, the key and what was expected", async () => {
  const p = (name: string, text: string): string => profile(name, text);
  await fails(["run", "-p", p("sec", "# x\n[limit]\ncpu = 2\n").slice(profiles.length + 1, -5), "--", "true"],
    `sandlock: profile ${profiles}/sec.toml:2: [limit]: unknown section (did you mean "limits"?) (sections: [program], [filesystem], [network], [limits], [determinism], [syscalls], [protection]; top-level keys: extends)`);
  p("key", "[filesystem]\nread = [\"/usr\"]\nreed = [\"/usr\"]\n");
  await fails(["run", "-p", "key", "--", "true"], new RegExp(`^sandlock: profile ${profiles}/key\\.toml:3: \\[filesystem\\] reed: unknown key \\(did you mean "read"\\?\\) \\(keys of \\[filesystem\\]: read, write, `));
  p("type", "[filesystem]\n\nread = \"/usr\"\n");
  await fails(["run", "-p", "type", "--", "true"], `sandlock: profile ${profiles}/type.toml:3: [filesystem] read: expected an array of absolute paths (strings), got string "/usr"`);
  p("value", "[limits]\ncpu = 200\n");
  await fails(["run", "-p", "value", "--", "true"], `sandlock: profile ${profiles}/value.toml:2: [limits] cpu: 200 is outside 1..100 (percent of one core)`);
  p("rel", "[filesystem]\nwrite = [\"project\"]\n");
  await fails(["run", "-p", "rel", "--", "true"], `sandlock: profile ${profiles}/rel.toml:2: [filesystem] write: "project" is a relative path (an absolute path is needed)`);
  p("toml", "[filesystem]\nread = [\"/usr\"\n");
  await fails(["run", "-p", "toml", "--", "true"], new RegExp(`^sandlock: profile ${profiles}/toml\\.toml:3: is not valid TOML: `));
  p("top", "memory = \"1G\"\n");
  await fails(["run", "-p", "top", "--", "true"], new RegExp(`^sandlock: profile ${profiles}/top\\.toml:1: memory: unknown key `));
  p("ext", "\nextends = \"worksapce\"\n");
  await fails(["run", "-p", "ext", "--", "true"], new RegExp(`^sandlock: profile ${profiles}/ext\\.toml:2: extends: "worksapce" is neither a preset .*; did you mean "workspace"\\?$`));
  p("loop-a", "extends = \"loop-b\"\n");
  p("loop-b", "extends = \"loop-a\"\n");
  await fails(["run", "-p", "loop-a", "--", "true"], new RegExp(`^sandlock: profile ${profiles}/loop-a\\.toml: extends: extends itself through .*loop-a\\.toml -> .*loop-b\\.toml -> .*loop-a\\.toml$`));
  p("args", "[program]\nargs = [\"x\"]\n");
  await fails(["run", "-p", "args"], `sandlock: profile ${profiles}/args.toml:2: [program] args: needs [program] exec (the program the arguments are for)`);
  p("nocmd", "[limits]\nprocesses = 4\n");
  await fails(["run", "-p", "nocmd"], /^sandlock run: no command: give one after "--", a shell command with -e "...", or \[program\] exec in a profile/);
});

test("profile files are read safely: no symlink, no FIFO (no hang), no directory, bounded size", async () => {
  symlinkSync("/etc/shadow", join(profiles, "link.toml"));
  await fails(["run", "-p", "link", "--", "true"], `sandlock: profile ${profiles}/link.toml: is a symbolic link; profile files are never followed through links (give the file it points to)`);
  execFileSync("mkfifo", [join(profiles, "fifo.toml")]);
  await fails(["run", "-p", "fifo", "--", "true"], `sandlock: profile ${profiles}/fifo.toml: is a FIFO, not a regular file`);
  mkdirSync(join(profiles, "dir.toml"));
  await fails(["run", "-p", "dir", "--", "true"], `sandlock: profile ${profiles}/dir.toml: is a directory, not a regular file`);
  writeFileSync(join(profiles, "big.toml"), `# ${"x".repeat(1 << 20)}\n`);
  await fails(["run", "-p", "big", "--", "true"], new RegExp(`^sandlock: profile ${profiles}/big\\.toml: is 1048579 bytes, more than a profile may be \\(1048576\\)$`));
  writeFileSync(join(profiles, "latin.toml"), Buffer.from([0x23, 0xe9, 0x0a]));
  await fails(["run", "-p", "latin", "--", "true"], `sandlock: profile ${profiles}/latin.toml: is not valid UTF-8 text`);
  await fails(["run", "--profile-file", join(base, "missing.toml"), "--", "true"], `sandlock: profile ${base}/missing.toml: does not exist`);
});

// Red team: the scan that finds an error's line noted every prefix of a dotted key
// (a 400,000-part key, 800 KB: out of memory after a minute and a half) and tried every
// split of a run of spaces (a 900 KB line inside a nested array or a multi-line string:
// minutes). Each is a file under the 1 MiB cap; each now fails at once with the file and
// the line. Positive control: the same shapes, small, give the same messages.
test("hostile profile text within the size cap: a huge dotted key, long runs of spaces", async () => {
  const keyOf = (parts: number): string => `[filesystem]\nxxxxxxxxxxa${".a".repeat(parts)} = 1\n`;
  const unknownKey = (name: string): RegExp => new RegExp(`^sandlock: profile ${profiles}/${name}\\.toml:2: \\[filesystem\\] xxxxxxxxxxa: unknown key `);
  for (const [name, parts] of [["dotted-small", 3], ["dotted-huge", 400_000]] as const) {
    profile(name, keyOf(parts));
    await fails(["run", "-p", name, "--", "true"], unknownKey(name));
  }
  const spaced = (n: number): Record<string, string> => ({
    [`spaces-string-${n}`]: `x = [\n"""\na${" ".repeat(n)}a\n"""\n]\n`,
    [`spaces-array-${n}`]: `x = [\n[1,${" ".repeat(n)}2]\n]\n`,
  });
  for (const n of [3, 900_000]) {
    for (const [name, text] of Object.entries(spaced(n))) {
      profile(name, text);
      await fails(["run", "-p", name, "--", "true"], new RegExp(`^sandlock: profile ${profiles}/${name}\\.toml:1: x: unknown key `));
    }
  }
});

test("names: unknown, ambiguous with a preset, not a file name; -p needs a value", async () => {
  await fails(["run", "-p", "sytem", "--", "true"], `sandlock: profile: "sytem" is neither a preset (minimal, system, workspace, system-net, workspace-net) nor a profile (${profiles}/sytem.toml does not exist); did you mean "system"?`);
  profile("minimal", "[limits]\nprocesses = 4\n");
  await fails(["run", "-p", "minimal", "--", "true"], `sandlock: profile: "minimal" is a built-in preset and also the file ${profiles}/minimal.toml; rename the file (it can start with extends = "minimal")`);
  rmSync(join(profiles, "minimal.toml"));
  await fails(["run", "-p", "../etc/x", "--", "true"], /^sandlock: profile: "\.\.\/etc\/x" is not a profile name /);
  await fails(["run", "-p", "", "--", "true"], `sandlock: --profile: "" is empty (give a preset or profile name)`);
  await fails(["run", "-p"], /^sandlock run: -p \(--profile\) needs a value \(NAME\)/);
});

test("workspace refuses to make / or the home directory writable", async () => {
  const root = await sandlock(["run", "-p", "workspace", "--", "true"], "/");
  assert.equal(root.code, 125);
  assert.match(root.stderr, /preset "workspace": the working directory "\/" would make the whole filesystem writable; run it from a project directory/);
  const home = await sandlock(["run", "-p", "workspace", "--", "true"], base);
  assert.equal(home.code, 125);
  assert.match(home.stderr, /would make your home directory \(~\/\.ssh, shell start-up files\) writable/);
});

test("profile: usage errors", async () => {
  await fails(["profile"], "sandlock profile: no subcommand (list, or show NAME)");
  await fails(["profile", "frob"], `sandlock profile: unknown subcommand "frob" (list or show NAME)`);
  await fails(["profile", "show"], `sandlock profile show: give one NAME, or --profile-file PATH (got "")`);
  await fails(["profile", "list", "x"], `sandlock profile list: takes no arguments (got "x")`);
  const help = await sandlock(["profile", "--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /sandlock profile show NAME/);
});
