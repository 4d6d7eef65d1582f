// `sandlock mcp` end to end, driven by the official MCP SDK's own client over stdio: the
// tools it lists, a run under the default profile (output, exit code, what the sandbox
// refused, a write outside the working directory failing), the time and output ceilings,
// stdin, the clean environment, every way an agent might ask to run outside the root, and
// writes staged in a copy-on-write workdir over the root (dry run, commit, abort, keep).

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const CLI = fileURLToPath(new URL("../../../bin/sandlock.cjs", import.meta.url));
const ENV = { PATH: "/usr/local/bin:/usr/bin:/bin", LANG: "C.UTF-8", SECRET_TOKEN: "do-not-leak" };

let root: string;
let client: Client;
let transport: StdioClientTransport;

type Structured = { run_id: string; status: string; exit_code: number | null; stdout: string; stderr: string; truncated: { stdout: boolean; stderr: boolean }; refused: { syscall: string; target: string; why: string }[]; cwd: string; changes: string; workdir?: { action: string; branch: string; changes: { kind: string; path: string }[] }; diff?: string };
interface CallResult { isError?: boolean; content: { type: string; text?: string }[]; structuredContent?: unknown }

async function call(name: string, args: Record<string, unknown>): Promise<CallResult> {
  return (await client.callTool({ name, arguments: args })) as CallResult;
}

async function run(args: Record<string, unknown>): Promise<Structured> {
  const r = await call("sandlock_run", args);
  assert.notEqual(r.isError, true, JSON.stringify(r.content));
  return r.structuredContent as Structured;
}

const text = (r: CallResult): string => r.content.map((c) => c.text ?? "").join("\n");

before(async () => {
  root = mkdtempSync(join(tmpdir(), "sandlock-mcp-"));
  mkdirSync(join(root, "sub"));
  symlinkSync("/etc", join(root, "out"));
  client = new Client({ name: "sandlock-test", version: "1.0.0" });
  transport = new StdioClientTransport({ command: process.execPath, args: [CLI, "mcp", "--root", root, "--profile", "workspace", "--profile", "system", "--max-timeout", "30", "--max-output", "65536"], env: ENV, stderr: "pipe" });
  await client.connect(transport);
});

after(async () => {
  await client?.close();
  rmSync(root, { recursive: true, force: true });
});

test("mcp: the server keeps a standby launcher for its next kernel-view run (Sandbox.setStandby), and the run that takes it is confined as any", async () => {
  const children = (pid: number): { pid: number; comm: string }[] =>
    readFileSync(`/proc/${pid}/task/${pid}/children`, "latin1")
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map((p) => ({ pid: Number(p), comm: readFileSync(`/proc/${p}/comm`, "latin1").trim() }));
  const first = await run({ command: "echo one", profile: "system" });
  assert.equal(first.stdout.trim(), "one");
  let standby: number | undefined;
  for (let i = 0; i < 300 && standby === undefined; i++) {
    standby = children(transport.pid!).find((c) => c.comm === "sandlock-launch")?.pid;
    if (standby === undefined) await new Promise((r) => setTimeout(r, 10));
  }
  assert.ok(standby !== undefined, "a launcher waits among the server's children after a run");
  const second = await run({ command: "echo two $$; cat /etc/shadow 2>&1 | head -1", profile: "system" });
  assert.match(second.stdout, /^two 2\n/);
  assert.match(second.stdout, /Permission denied|No such file/);
  // Taken over, it was the second run's launcher and ended with it; unused, it would still wait.
  assert.equal(existsSync(`/proc/${standby}`), false, "the standby that waited ran the second command");
  let next: number | undefined;
  for (let i = 0; i < 300 && next === undefined; i++) {
    next = children(transport.pid!).find((c) => c.comm === "sandlock-launch")?.pid;
    if (next === undefined) await new Promise((r) => setTimeout(r, 10));
  }
  assert.ok(next !== undefined && next !== standby, "another waits for the next run");
});

test("mcp: the server lists its three tools", async () => {
  const { tools } = await client.listTools();
  assert.deepEqual(tools.map((t) => t.name).sort(), ["sandlock_profiles", "sandlock_refusals", "sandlock_run"]);
  const runTool = tools.find((t) => t.name === "sandlock_run")!;
  assert.deepEqual(Object.keys((runTool.inputSchema as { properties: object }).properties).sort(), ["argv", "changes", "command", "cwd", "max_output_bytes", "profile", "stdin", "timeout_seconds"]);
});

test("mcp: a command runs in the root under the default profile; its write beside the root fails; a refused connect is reported", async () => {
  const r = await run({ command: `echo hi; pwd; echo x > sub/made && echo wrote-in-root; echo x > ${JSON.stringify(join(tmpdir(), "sandlock-mcp-escape"))} 2>/dev/null || echo refused-outside; exit 3` });
  assert.equal(r.status, "exited");
  assert.equal(r.exit_code, 3);
  assert.deepEqual(r.stdout.trim().split("\n"), ["hi", root, "wrote-in-root", "refused-outside"]);
  assert.ok(existsSync(join(root, "sub", "made")));
  assert.equal(existsSync(join(tmpdir(), "sandlock-mcp-escape")), false);
  const net = await run({ argv: ["/usr/bin/python3", "-c", "import socket\ns=socket.socket()\ntry:\n  s.connect(('127.0.0.1', 9))\nexcept OSError as e:\n  print(e.errno)"] });
  assert.equal(net.stdout.trim(), "13", "EACCES: workspace has no network");
  assert.equal(net.refused.length, 1);
  assert.match(`${net.refused[0]!.syscall} ${net.refused[0]!.target} ${net.refused[0]!.why}`, /^connect 127\.0\.0\.1:9 over tcp not allowed by netAllow$/);
  const again = await call("sandlock_refusals", { run_id: (net as Structured).run_id });
  assert.match(text(again), /connect 127\.0\.0\.1:9 over tcp: EACCES, not allowed by netAllow/);
  const none = await call("sandlock_refusals", { run_id: "run-999" });
  assert.equal(none.isError, true);
  assert.match(text(none), /no run "run-999"/);
});

test("mcp: stdin reaches the command; the server's environment does not, beyond PATH, LANG and TERM", async () => {
  const r = await run({ argv: ["/bin/sh", "-c", 'cat; echo; echo "${SECRET_TOKEN:-unset}"'], stdin: "from-stdin" });
  assert.deepEqual(r.stdout.trim().split("\n"), ["from-stdin", "unset"]);
});

test("mcp: the time limit kills a command and says so; output beyond the limit is cut and the command killed", async () => {
  const slow = await run({ command: "sleep 20", timeout_seconds: 1 });
  assert.equal(slow.status, "timeout");
  const loud = await run({ command: "head -c 200000 /dev/zero | tr '\\0' a", max_output_bytes: 1000 });
  assert.equal(loud.truncated.stdout, true);
  assert.equal(loud.stdout.length, 1000);
  assert.equal(loud.status, "killed");
  const tooLong = await call("sandlock_run", { command: "true", timeout_seconds: 31 });
  assert.equal(tooLong.isError, true, "above --max-timeout");
});

test("mcp: no way out of the root: .., an absolute path, a symlink leading out, a missing directory", async () => {
  for (const [cwd, why] of [["..", /outside the server's root/], ["/", /outside the server's root/], ["out", /outside the server's root .*leads to \/etc/], ["nope", /ENOENT/]] as const) {
    const r = await call("sandlock_run", { command: "true", cwd });
    assert.equal(r.isError, true, cwd);
    assert.match(text(r), why, cwd);
  }
  const inside = await run({ command: "pwd", cwd: "sub" });
  assert.equal(inside.stdout.trim(), join(root, "sub"));
});

test("mcp: only the server's profiles may be named; both are listed with what they grant", async () => {
  const bad = await call("sandlock_run", { command: "true", profile: "workspace-net" });
  assert.equal(bad.isError, true);
  assert.match(text(bad), /workspace|system/);
  const both = await call("sandlock_run", { command: "true", argv: ["true"] });
  assert.equal(both.isError, true);
  assert.match(text(both), /exactly one of "command"/);
  const p = (await call("sandlock_profiles", {})).structuredContent as { default: string; profiles: { name: string; write: string[] }[] };
  assert.equal(p.default, "workspace");
  assert.deepEqual(p.profiles.map((x) => x.name), ["workspace", "system"]);
  assert.ok(p.profiles[0]!.write.includes(root), "workspace writes the root");
  assert.equal(p.profiles[1]!.write.includes(root), false);
  const ro = await run({ command: "echo x > f 2>/dev/null || echo read-only", profile: "system" });
  assert.equal(ro.stdout.trim(), "read-only");
});

test("mcp: bad server arguments exit 2 with a message naming them", async () => {
  const cases: [string[], RegExp][] = [
    [["--max-timeout", "0"], /--max-timeout "0" is not a whole number from 1 to 86400/],
    [["--root", "/nonexistent-dir"], /--root \/nonexistent-dir: ENOENT/],
    [["--pass-env", "A-B"], /--pass-env needs a variable name, not "A-B"/],
    [["--max-runs", "0"], /--max-runs "0" is not a whole number from 1 to 1024/],
    [["--frobnicate"], /unknown argument "--frobnicate"/],
  ];
  for (const [args, msg] of cases) {
    const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve) =>
      execFile(process.execPath, [CLI, "mcp", ...args], { env: ENV }, (err, _o, stderr) => resolve({ code: err === null ? 0 : (err.code as number), stderr })),
    );
    assert.equal(code, 2, args.join(" "));
    assert.match(stderr, msg);
  }
});

test("mcp: a directory swapped for a symlink to outside the root by a concurrent command never lets a run write outside", async () => {
  const outside = mkdtempSync(join(tmpdir(), "sandlock-mcp-outside-"));
  try {
    mkdirSync(join(root, "race"));
    // The attacker: a command of the agent's own (writable root) swapping race/ and a link.
    const swapper = call("sandlock_run", { command: `end=$(($(date +%s) + 8)); while [ $(date +%s) -lt $end ]; do mv race race.real; ln -s ${outside} race; rm race; mv race.real race; done; echo swapped`, timeout_seconds: 15 });
    let refused = 0;
    let ran = 0;
    for (let round = 0; round < 8; round++) {
      const batch = await Promise.all(Array.from({ length: 6 }, (_, i) => call("sandlock_run", { command: `echo x > ${outside}/won-${round}-${i} 2>/dev/null; pwd`, cwd: "race" })));
      for (const r of batch) (r.isError ? refused++ : ran++);
    }
    const s = await swapper;
    assert.match(text(s), /swapped/, "the swapper ran throughout");
    assert.ok(ran > 0, `some runs started (${ran} ran, ${refused} refused at the check)`);
    const { readdirSync, writeFileSync } = await import("node:fs");
    assert.deepEqual(readdirSync(outside), [], "no run wrote outside the root");
    writeFileSync(join(outside, "control"), "x"); // control: the directory itself is writable
    assert.deepEqual(readdirSync(outside), ["control"]);
  } finally {
    rmSync(outside, { recursive: true, force: true });
  }
});

test("mcp: writes staged over the root: a dry run lists them with a diff and writes nothing; commit applies on exit 0 only; keep leaves a branch", async () => {
  writeFileSync(join(root, "existing.txt"), "old\n");
  const changed = (r: Structured): string[] => (r.workdir?.changes ?? []).map((c) => `${c.kind} ${c.path.slice(root.length + 1)}`).sort();
  const dry = await run({ command: "echo new > made.txt; echo changed > existing.txt", changes: "dry_run" });
  assert.equal(dry.workdir?.action, "dry_run");
  assert.deepEqual(changed(dry), ["added made.txt", "modified existing.txt"]);
  assert.match(dry.diff ?? "", /-old\n\+changed/);
  assert.equal(existsSync(join(root, "made.txt")), false, "a dry run writes nothing");
  assert.equal(readFileSync(join(root, "existing.txt"), "utf8"), "old\n");
  const failed = await run({ command: "echo x > failed.txt; exit 1", changes: "commit" });
  assert.equal(failed.workdir?.action, "aborted");
  assert.equal(existsSync(join(root, "failed.txt")), false, "a failing run's writes are thrown away");
  const ok = await run({ command: "echo x > committed.txt", changes: "commit" });
  assert.equal(ok.workdir?.action, "committed");
  assert.equal(readFileSync(join(root, "committed.txt"), "utf8"), "x\n");
  const r = await call("sandlock_run", { command: "echo x > kept.txt", changes: "keep" });
  const kept = r.structuredContent as Structured;
  assert.equal(kept.workdir?.action, "kept");
  assert.equal(existsSync(join(root, "kept.txt")), false, "a kept branch is not applied");
  assert.match(text(r), new RegExp(`sandlock branch apply ${kept.workdir!.branch}`));
  // Control: direct (this server's default) writes as it goes.
  const direct = await run({ command: "echo x > direct.txt" });
  assert.equal(direct.workdir, undefined);
  assert.ok(existsSync(join(root, "direct.txt")));
});

test("mcp --staged: writing directly is refused, the default is commit", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sandlock-mcp-staged-"));
  const staged = new Client({ name: "sandlock-test", version: "1.0.0" });
  try {
    await staged.connect(new StdioClientTransport({ command: process.execPath, args: [CLI, "mcp", "--root", dir, "--staged"], env: ENV, stderr: "pipe" }));
    const refused = (await staged.callTool({ name: "sandlock_run", arguments: { command: "true", changes: "direct" } })) as CallResult;
    assert.equal(refused.isError, true);
    assert.match(text(refused), /stages every run's writes \(--staged\): "changes" may be commit, dry_run or keep, not direct/);
    const r = (await staged.callTool({ name: "sandlock_run", arguments: { command: "echo x > f.txt" } })) as CallResult;
    assert.equal((r.structuredContent as Structured).workdir?.action, "committed");
    assert.ok(existsSync(join(dir, "f.txt")));
  } finally {
    await staged.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("mcp --max-runs: a run asked for while as many are going on is refused at once, by name; once one ends, runs go on", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sandlock-mcp-runs-"));
  const limited = new Client({ name: "sandlock-test", version: "1.0.0" });
  try {
    await limited.connect(new StdioClientTransport({ command: process.execPath, args: [CLI, "mcp", "--root", dir, "--max-runs", "2"], env: ENV, stderr: "pipe" }));
    const ask = async (command: string): Promise<CallResult> => (await limited.callTool({ name: "sandlock_run", arguments: { command } })) as CallResult;
    // Two runs that last until a file appears (at most 20 s), then a third while they run.
    const long = [ask("i=0; while [ ! -e go ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i+1)); done; echo long-done"), ask("i=0; while [ ! -e go ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i+1)); done; echo long-done")];
    await new Promise((r) => setTimeout(r, 1500));
    const third = await ask("echo third");
    assert.equal(third.isError, true, text(third));
    assert.match(text(third), /2 runs are going on, as many as this server takes at once \(--max-runs 2\): ask again when one has ended/);
    writeFileSync(join(dir, "go"), "");
    for (const r of await Promise.all(long)) assert.equal((r.structuredContent as Structured).stdout.trim(), "long-done", "control: the two runs went on");
    const after = await ask("echo after");
    assert.equal((after.structuredContent as Structured).stdout.trim(), "after", "once they ended, a run goes on");
  } finally {
    await limited.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
