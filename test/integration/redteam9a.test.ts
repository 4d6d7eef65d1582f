// The ninth security review, part A: the agent surfaces. wrap() attacked by another sandbox
// of the same user (test/scripts/red9a-case.ts, as root and as the test user), and
// `sandlock mcp` attacked by its agent, driven over stdio by the SDK's client or by hand.
// Findings: a sandbox granted /tmp could put its own socket at a wrap's path and have the
// started process run a policy and command of its choosing, and forge the caller's result;
// a connection to a wrap's socket could grow the caller's memory without bound, and idle
// ones held its descriptors; a refused
// early connection failed the real run's result; a dry run's diff was unbounded (and one
// past 64 MiB failed and kept its branch on disk); the change list ignored the output
// limit; names a command chose forged lines of the report; a run went on (and committed)
// after its agent went away. Each attack has its positive control.

import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { scriptCase } from "../helpers/harness.js";

const CLI = fileURLToPath(new URL("../../../bin/sandlock.cjs", import.meta.url));

// ---- wrap() ----

scriptCase("wrap: a sandbox that may write /tmp puts its own socket at the wrap's path: the started process runs nothing it sent, and the caller takes no result from it", "dist/test/scripts/red9a-case.js", ["mitm"], (o: Record<string, any>) => {
  assert.equal(o.error, undefined, o.error);
  const said = JSON.parse(o.attacker.said as string) as { direct: string; gotHello: boolean; jobReadable: boolean; agentReported: boolean };
  // Controls: the attacker's own sandbox cannot write the directory outside, and the
  // started process did talk to the attacker's socket (the substitution happened).
  assert.equal(said.direct, "EACCES", "the attacker may not write outside /tmp itself");
  assert.equal(o.direct, false);
  assert.equal(said.gotHello, true, `the started process connected to the attacker's socket: ${JSON.stringify(o)}`);
  // The attack: the job it sent is not run, the caller's job is not readable to it.
  assert.equal(o.marker, false, "the attacker's command ran outside its sandbox, under a policy of its choosing");
  assert.equal(said.jobReadable, false, "the caller's job (policy and argv) was readable in the middle");
  assert.equal(o.agent.code, 125, JSON.stringify(o.agent));
  assert.match(o.agent.err as string, /^sandlock wrap: what came back on \/\S+\/s was not sealed with this wrap's key \(another process may have put its own socket at that path\): nothing was run$/m);
  assert.equal(said.agentReported, false);
  assert.ok("error" in o.result, `the caller took a result from the attacker: ${JSON.stringify(o.result)}`);
  assert.match(o.result.error as string, /^wrap: the report that came back was not sealed with the wrap's key \(another process may have put its own socket at the wrap's path\)$/);
}, 120_000);

scriptCase("wrap: a connection that never ends its line is cut after 1 KiB; the real started process still runs", "dist/test/scripts/red9a-case.js", ["flood"], (o: Record<string, any>) => {
  assert.equal(o.error, undefined, o.error);
  assert.ok(o.flood.written <= 4 << 20, `the caller read ${o.flood.written} bytes of one line (${o.flood.why}); its memory grew ${o.grewMiB} MiB`);
  assert.ok(o.grewMiB < 64, `the caller's memory grew ${o.grewMiB} MiB`);
  assert.equal(o.agent.out, "real\n", JSON.stringify(o.agent));
  assert.equal(o.agent.code, 0);
  assert.ok("ok" in o.result && o.result.ok.exitCode === 0, JSON.stringify(o.result));
}, 120_000);

scriptCase("wrap: a connection made before the started process and refused after it took the wrap leaves the run's result alone", "dist/test/scripts/red9a-case.js", ["late"], (o: Record<string, any>) => {
  assert.equal(o.error, undefined, o.error);
  assert.equal(o.agent.out, "real\n", JSON.stringify(o.agent));
  assert.equal(o.agent.code, 0);
  assert.ok("ok" in o.result, `the real run's result was lost: ${JSON.stringify(o.result)}`);
  assert.equal(o.result.ok.exitCode, 0);
}, 60_000);

scriptCase("wrap: a sandbox holding 300 connections to the wrap's socket holds at most 16 of the caller's descriptors; the real started process gets in after", "dist/test/scripts/red9a-case.js", ["hold"], (o: Record<string, any>) => {
  assert.equal(o.error, undefined, o.error);
  const held = Number(/^held (\d+)$/.exec(o.said as string)?.[1] ?? NaN);
  assert.ok(held <= 16, `the attacker held ${o.said} connections`);
  assert.ok(o.heldByCaller <= 20, `the caller held ${o.heldByCaller} more descriptors`);
  assert.equal(o.agent.out, "real\n", JSON.stringify(o.agent));
  assert.ok("ok" in o.result && o.result.ok.exitCode === 0, JSON.stringify(o.result));
}, 60_000);

// ---- sandlock mcp ----

type Structured = { run_id: string; status: string; exit_code: number | null; stdout: string; stderr: string; workdir?: { action: string; branch: string; changes: { kind: string; path: string }[]; changes_not_listed?: number }; diff?: string };
interface CallResult { isError?: boolean; content: { type: string; text?: string }[]; structuredContent?: unknown }

let root: string;
let state: string;
let client: Client;
const ENV = (): Record<string, string> => ({ PATH: "/usr/local/bin:/usr/bin:/bin", LANG: "C.UTF-8", XDG_STATE_HOME: state });

before(async () => {
  root = mkdtempSync(join(tmpdir(), "sandlock-red9a-mcp-"));
  state = mkdtempSync(join(tmpdir(), "sandlock-red9a-state-"));
  client = new Client({ name: "red9a", version: "1.0.0" });
  await client.connect(new StdioClientTransport({ command: process.execPath, args: [CLI, "mcp", "--root", root, "--max-timeout", "60", "--max-output", "65536"], env: ENV(), stderr: "pipe" }));
});

after(async () => {
  await client?.close();
  rmSync(root, { recursive: true, force: true });
  rmSync(state, { recursive: true, force: true });
});

async function call(args: Record<string, unknown>): Promise<CallResult> {
  return (await client.callTool({ name: "sandlock_run", arguments: args })) as CallResult;
}
const text = (r: CallResult): string => r.content.map((c) => c.text ?? "").join("\n");

/** Branches left in the server's store (trash being removed in the background aside). */
function branchesLeft(): string[] {
  const dir = join(state, "sandlock", "branches");
  return existsSync(dir) ? readdirSync(dir).filter((n) => !n.startsWith(".")) : [];
}

async function settleBranches(): Promise<string[]> {
  for (let i = 0; i < 50 && branchesLeft().length > 0; i++) await new Promise((r) => setTimeout(r, 100));
  return branchesLeft();
}

test("mcp: a dry run's diff of a 70 MiB file is named too large, not made; the run answers and leaves no branch on disk", async () => {
  const r = await call({ command: "echo small > small.txt; yes 'a line of text' | head -c 73400320 > big.txt", changes: "dry_run", timeout_seconds: 60 });
  assert.notEqual(r.isError, true, `the dry run failed: ${text(r).slice(0, 400)}`);
  const s = r.structuredContent as Structured;
  assert.deepEqual(s.workdir?.changes.map((c) => c.path.slice(root.length + 1)).sort(), ["big.txt", "small.txt"]);
  assert.match(s.diff ?? "", /^Files a\/big\.txt and b\/big\.txt differ \(73400320 bytes: too large to diff, at most 67108864\)$/m);
  assert.match(s.diff ?? "", /\+small/, "control: the small file's diff is there");
  assert.deepEqual(await settleBranches(), [], "a dry run keeps nothing");
  assert.equal(existsSync(join(root, "big.txt")), false);
});

test("mcp: a dry run's diff is cut at max_output_bytes, with the files left out counted", async () => {
  const r = await call({ command: "for i in 1 2 3 4 5 6; do seq 1 20000 > f$i.txt; done", changes: "dry_run", max_output_bytes: 4096 });
  const s = r.structuredContent as Structured;
  assert.ok((s.diff ?? "").length <= 4096, `diff of ${(s.diff ?? "").length}`);
  assert.match(text(r), /\[diff cut at 4096 bytes\]/);
  assert.deepEqual(await settleBranches(), []);
});

test("mcp: the change list keeps to max_output_bytes; the rest is counted, not listed", async () => {
  const name = "n".repeat(90);
  const r = await call({ command: `i=0; while [ $i -lt 300 ]; do : > ${name}_$i; i=$((i+1)); done`, changes: "dry_run", max_output_bytes: 4096 });
  assert.notEqual(r.isError, true, text(r).slice(0, 400));
  const s = r.structuredContent as Structured;
  const listed = s.workdir!.changes.length;
  assert.ok(listed > 0 && listed < 60, `${listed} changes listed`);
  assert.equal(s.workdir!.changes_not_listed, 300 - listed);
  assert.match(text(r), new RegExp(`\\[${300 - listed} more changes not listed: the list is cut at 4096 bytes\\]`));
  assert.ok(text(r).length < 12_000, `an answer of ${text(r).length} characters under a 4096-byte limit`);
  assert.ok(JSON.stringify(s).length < 12_000, `structured content of ${JSON.stringify(s).length} characters`);
});

test("mcp: a file name with a newline and an escape sequence forges no line of the report or the diff", async () => {
  // A name holds no "/": the forged lines name paths without one.
  const r = await call({ argv: ["/bin/sh", "-c", "printf hi > \"$(printf 'x\\n  deleted passwd\\n+++ b-evil\\033[2J')\""], changes: "dry_run" });
  assert.notEqual(r.isError, true, text(r));
  const s = r.structuredContent as Structured;
  assert.equal(s.exit_code, 0, text(r));
  // Control: the structured content keeps the name as it is.
  assert.ok(s.workdir!.changes.some((c) => c.path.endsWith("x\n  deleted passwd\n+++ b-evil\x1b[2J")), JSON.stringify(s.workdir));
  const t = text(r);
  assert.doesNotMatch(t, /^ {2}deleted passwd/m, "a forged change line");
  assert.doesNotMatch(t, /^\+\+\+ b-evil/m, "a forged diff header");
  assert.doesNotMatch(t, /\x1b/, "an escape sequence reaches the client");
  assert.match(t, /^ {2}added .*\/x\\u\{A\} {2}deleted passwd\\u\{A\}\+\+\+ b-evil\\u\{1B\}\[2J$/m);
});

/** A JSON-RPC session with the server by hand, so stdin can close without a signal after it. */
function rawServer(rootDir: string): { child: ReturnType<typeof spawn>; send: (m: object) => void; next: () => Promise<any>; exited: Promise<number> } {
  const child = spawn(process.execPath, [CLI, "mcp", "--root", rootDir], { env: ENV(), stdio: ["pipe", "pipe", "pipe"] });
  let buf = "";
  const queue: any[] = [];
  const waiters: ((m: any) => void)[] = [];
  child.stdout!.on("data", (d: Buffer) => {
    buf += d.toString();
    for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
      const m = JSON.parse(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
      const w = waiters.shift();
      if (w !== undefined) w(m);
      else queue.push(m);
    }
  });
  const exited = new Promise<number>((r) => child.once("exit", () => r(Date.now())));
  return {
    child,
    send: (m) => child.stdin!.write(`${JSON.stringify({ jsonrpc: "2.0", ...m })}\n`),
    next: () => (queue.length > 0 ? Promise.resolve(queue.shift()) : new Promise((r) => waiters.push(r))),
    exited,
  };
}

async function initialized(s: ReturnType<typeof rawServer>): Promise<void> {
  s.send({ id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } } });
  await s.next();
  s.send({ method: "notifications/initialized" });
}

test("mcp: a run whose agent goes away (stdin closed, no signal) is killed at once, writes nothing after, and the server exits", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sandlock-red9a-gone-"));
  try {
    // Control: with the client there, the command writes its file after 2 s.
    const stay = rawServer(dir);
    await initialized(stay);
    stay.send({ id: 2, method: "tools/call", params: { name: "sandlock_run", arguments: { command: "sleep 2; echo x > stayed.txt", timeout_seconds: 30 } } });
    const answer = await stay.next();
    assert.equal(answer.result?.structuredContent?.exit_code, 0, JSON.stringify(answer));
    assert.ok(existsSync(join(dir, "stayed.txt")));
    stay.child.stdin!.end();
    await stay.exited;

    const gone = rawServer(dir);
    await initialized(gone);
    // The command's sleep is long and its length unusual: the server that waits for the run
    // lives about 26 s more, far beyond the bound, and the sleep is found by its arguments.
    gone.send({ id: 2, method: "tools/call", params: { name: "sandlock_run", arguments: { command: "sleep 27.5; echo x > late.txt", timeout_seconds: 60 } } });
    const sleeping = (): boolean => readdirSync("/proc").some((d) => {
      try {
        return /^\d+$/.test(d) && readFileSync(`/proc/${d}/cmdline`, "latin1") === "sleep\x0027.5\x00";
      } catch {
        return false; // gone meanwhile
      }
    });
    for (const end = Date.now() + 20_000; !sleeping(); await new Promise((r) => setTimeout(r, 20))) {
      assert.ok(Date.now() < end, "the sandbox's sleep did not start within 20 s");
    }
    const closedAt = Date.now();
    gone.child.stdin!.end();
    // (the timer cleared once the race is decided: left pending, it kept this file's process
    // alive 34 s after its last test, holding a slot of npm test's shared part)
    let timer: NodeJS.Timeout | undefined;
    const exitedAt = await Promise.race([gone.exited, new Promise<number>((r) => (timer = setTimeout(() => r(Infinity), 40_000)))]);
    clearTimeout(timer);
    if (exitedAt === Infinity) gone.child.kill("SIGKILL");
    assert.ok(exitedAt - closedAt < 10_000, `the server lived ${exitedAt - closedAt} ms after its client went away`);
    // The sandbox went with it (polled: the launcher ends it when its control pipe closes).
    for (const end = Date.now() + 5000; sleeping() && Date.now() < end; ) await new Promise((r) => setTimeout(r, 20));
    assert.equal(sleeping(), false, "the run went on after its agent was gone: its sleep still runs");
    assert.equal(existsSync(join(dir, "late.txt")), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---- held ----

test("mcp held: profile names other than the server's (case, paths, a saved profile's file name) are refused by name", async () => {
  for (const profile of ["Workspace", "workspace ", "../workspace", "/etc/passwd", "workspace.toml", "system", "workspace-net"]) {
    const r = await call({ command: "true", profile });
    assert.equal(r.isError, true, profile);
    assert.match(text(r), /profile/, profile);
  }
  const ok = await call({ command: "true", profile: "workspace" });
  assert.notEqual(ok.isError, true, "control: the server's own profile");
});

test("mcp held: a background process holding the output pipes ends with the run; a cwd through a link made by an earlier run is refused", async () => {
  const t0 = Date.now();
  const r = await call({ command: "sleep 30 & echo started", timeout_seconds: 20 });
  assert.equal((r.structuredContent as Structured).stdout.trim(), "started");
  assert.ok(Date.now() - t0 < 10_000, `the run took ${Date.now() - t0} ms`);
  await call({ command: "ln -s / escape; mkdir -p d; ln -s ../.. d/up" });
  for (const cwd of ["escape", "d/up", "d/../..", `${root}/escape/etc`]) {
    const c = await call({ command: "pwd", cwd });
    assert.equal(c.isError, true, cwd);
    assert.match(text(c), /is outside the server's root/, cwd);
  }
  mkdirSync(join(root, "fine"), { recursive: true });
  writeFileSync(join(root, "fine", "f"), "");
  const control = await call({ command: "ls", cwd: "fine" });
  assert.equal((control.structuredContent as Structured).stdout.trim(), "f");
});

test("mcp held: malformed JSON-RPC lines are answered or dropped and the server goes on; a server killed mid-run leaves no sandbox running", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sandlock-red9a-rpc-"));
  try {
    const s = rawServer(dir);
    await initialized(s);
    for (const junk of ["{", "null", "[]", '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"sandlock_run","arguments":{"argv":"not-a-list"}}}', '{"jsonrpc":"2.0","id":8,"method":"nope"}']) s.child.stdin!.write(`${junk}\n`);
    const bad = [await s.next(), await s.next()];
    assert.ok(bad.some((m) => m.id === 7 && (m.error !== undefined || m.result?.isError === true)), JSON.stringify(bad));
    assert.ok(bad.some((m) => m.id === 8 && m.error?.code === -32601), JSON.stringify(bad));
    s.send({ id: 9, method: "tools/call", params: { name: "sandlock_run", arguments: { command: "echo alive" } } });
    const alive = await s.next();
    assert.equal(alive.result?.structuredContent?.stdout?.trim(), "alive", "control: the server still runs commands");
    // Killed (SIGKILL: no handler runs) while a command sleeps before its write.
    s.send({ id: 10, method: "tools/call", params: { name: "sandlock_run", arguments: { command: "sleep 3; echo x > after-kill.txt", timeout_seconds: 30 } } });
    await new Promise((r) => setTimeout(r, 1500));
    s.child.kill("SIGKILL");
    await s.exited;
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal(existsSync(join(dir, "after-kill.txt")), false, "the sandbox outlived its server");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// What a sandbox wrote in a file reached the terminal as itself in the dry run's diff (noticed
// in the ninth review, part B): OSC 52 (a clipboard write), a carriage return that lets a
// line overwrite the one before it. On a terminal (script(1) gives one) the diff's lines
// are now escaped as names are; to a pipe they stay the bytes a patch needs (control).
test("cli: sandlock run --dry-run --diff on a terminal escapes the contents a sandbox wrote; to a pipe the diff is the bytes", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sandlock-red9a-cli-"));
  const storage = mkdtempSync(join(tmpdir(), "sandlock-red9a-store-"));
  try {
    const ro = ["/usr", "/lib", "/lib64", "/bin", "/etc"].filter((p) => existsSync(p)).flatMap((p) => ["-r", p]);
    const argv = [process.execPath, CLI, "run", ...ro, "--workdir", dir, "--fs-storage", storage, "--dry-run", "--diff", "--", "/bin/sh", "-c", "printf '\\033]52;c;SGVsbG8=\\007ok\\rforged\\n' > f.txt"];
    const quoted = argv.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(" ");
    const ran = (file: string, args: string[]): Promise<string> =>
      new Promise((resolve) => execFile(file, args, { encoding: "utf8" }, (_e, out) => resolve(out)));
    const onTerminal = await ran("/usr/bin/script", ["-qec", quoted, "/dev/null"]);
    assert.doesNotMatch(onTerminal, /\x1b|\x07/, JSON.stringify(onTerminal));
    assert.ok(onTerminal.includes("+\\u{1B}]52;c;SGVsbG8=\\u{7}ok\\u{D}forged"), JSON.stringify(onTerminal));
    const piped = await ran(argv[0]!, argv.slice(1));
    assert.ok(piped.includes("+\x1b]52;c;SGVsbG8=\x07ok\rforged\n"), `control: a pipe gets the bytes: ${JSON.stringify(piped)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(storage, { recursive: true, force: true });
  }
});

test("cli: sandlock run --dry-run --diff shows a name with a newline and an escape sequence escaped, in the change list and the diff's headers", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sandlock-red9a-cli-"));
  const storage = mkdtempSync(join(tmpdir(), "sandlock-red9a-store-"));
  try {
    const ro = ["/usr", "/lib", "/lib64", "/bin", "/etc"].filter((p) => existsSync(p)).flatMap((p) => ["-r", p]);
    const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>((resolve) =>
      execFile(process.execPath, [CLI, "run", ...ro, "--workdir", dir, "--fs-storage", storage, "--dry-run", "--diff", "--", "/bin/sh", "-c", "printf hi > \"$(printf 'x\\n  D passwd\\n+++ b-evil\\033[2J')\""], { encoding: "utf8" }, (_e, out, err) => resolve({ stdout: out, stderr: err })),
    );
    const all = `${stdout}\n${stderr}`;
    assert.doesNotMatch(all, /^ {2}D passwd/m, "a forged change line");
    assert.doesNotMatch(all, /^\+\+\+ b-evil/m, "a forged diff header");
    assert.doesNotMatch(all, /\x1b/, "an escape sequence reaches the terminal");
    // Control: the file is listed and diffed, by its escaped name.
    assert.match(stderr, /^ {2}A .*\/x\\u\{A\} {2}D passwd\\u\{A\}\+\+\+ b-evil\\u\{1B\}\[2J$/m);
    assert.match(stdout, /^\+\+\+ b\/x\\u\{A\} {2}D passwd\\u\{A\}\+\+\+ b-evil\\u\{1B\}\[2J\n@@ .*\n\+hi$/m);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(storage, { recursive: true, force: true });
  }
});
