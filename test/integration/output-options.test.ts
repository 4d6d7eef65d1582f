// The options of run/spawn for output and input: every bad value is refused before a
// process exists with a message naming the option; lines(), reject and check() in use.

import assert from "node:assert/strict";
import { test } from "node:test";
import { CommandFailedError, Sandbox, SandboxError, type SpawnOptions } from "../../src/index.js";
import { stagePackage } from "../helpers/stage.js";
import { SYSTEM_RO } from "../helpers/system.js";

const { probe } = stagePackage();
const policy = { fsReadable: [probe, ...SYSTEM_RO] };

const BAD: [string, unknown, string][] = [
  ["stdin", "hello", 'stdin: "hello" is not a mode ("pipe", "inherit", "ignore" or a descriptor number); data for the command goes in the input option'],
  ["stdin", Buffer.from("x"), 'stdin: a Buffer is not a mode ("pipe", "inherit", "ignore" or a descriptor number); data for the command goes in the input option'],
  ["stdin", -1, "stdin: -1 is not a file descriptor"],
  ["input", 42, "input: number is not a string, a Buffer/Uint8Array or a Readable stream"],
  ["stdout", "file.txt", 'stdout: "file.txt" is not "pipe", "inherit", "ignore", a Writable stream or a file descriptor'],
  ["stderr", -2, 'stderr: -2 is not "pipe", "inherit", "ignore", a Writable stream or a file descriptor'],
  ["stdout", 1.5, 'stdout: 1.5 is not "pipe", "inherit", "ignore", a Writable stream or a file descriptor'],
  ["maxBuffer", 0, "maxBuffer: 0 must be a positive integer number of bytes (output is never kept without a bound; use buffer: false to stream it instead)"],
  ["maxBuffer", Infinity, "maxBuffer: Infinity must be a positive integer number of bytes (output is never kept without a bound; use buffer: false to stream it instead)"],
  ["maxBuffer", "1M", 'maxBuffer: "1M" must be a positive integer number of bytes (output is never kept without a bound; use buffer: false to stream it instead)'],
  ["buffer", "no", 'buffer: "no" must be true or false'],
  ["reject", 1, "reject: 1 must be true or false"],
  ["foreground", "yes", 'foreground: "yes" must be true or false'],
  ["signal", "SIGTERM", "signal: string is not an AbortSignal"],
  ["maxbuffer", 10, 'options: unknown option "maxbuffer" (known: timeout, signal, killSignal, forceAfter, foreground, reject, stdin, input, stdout, stderr, maxBuffer, buffer)'],
];

for (const [key, value, message] of BAD) {
  test(`spawn option ${key}: ${String(value)} is refused, named`, async () => {
    const sb = new Sandbox(policy);
    await assert.rejects(sb.spawn([probe, "exit", "0"], { [key]: value } as SpawnOptions), (e: unknown) => e instanceof SandboxError && e.message === message);
    assert.equal(sb.state, "created", "nothing was started");
  });
}

test("input with an explicit stdin, and buffer: false with run(), are refused", async () => {
  await assert.rejects(Sandbox.run(policy, ["/bin/cat"], { input: "x", stdin: "inherit" }), {
    message: 'input: cannot be combined with stdin "inherit" (input is what the command\'s stdin reads)',
  });
  await assert.rejects(Sandbox.run(policy, ["/bin/cat"], { buffer: false }), {
    message: 'buffer: false needs spawn() and a reader of sb.stdout/sb.stderr (run() returns only kept output; stdout: "ignore" drops it)',
  });
  // Control: the same command with valid options runs.
  assert.equal((await Sandbox.run(policy, ["/bin/cat"], { input: "x" })).stdoutText, "x");
});

test("lines() yields stdout and stderr line by line, and names what is wrong", async () => {
  const sb = new Sandbox(policy);
  assert.throws(() => sb.lines(), { message: "lines: not running (spawn first)" });
  await sb.spawn([probe, "write-blocks", "3", "1"]);
  assert.throws(() => sb.lines("stdin" as "stdout"), { message: 'lines: stream must be "stdout" or "stderr", got "stdin"' });
  const progress: string[] = [];
  for await (const line of sb.lines("stderr")) progress.push(line);
  assert.deepEqual(progress, ["1", "2", "3"]);
  const out: string[] = [];
  for await (const line of sb.lines()) out.push(line);
  assert.deepEqual(out, ["xxx"], "the last line comes without a final newline");
  assert.equal((await sb.wait()).exitCode, 0);

  const shell = new Sandbox(policy);
  await shell.spawn(["/bin/sh", "-c", "printf 'a\\r\\nb\\n\\nc'"], { stderr: "ignore" });
  const lines: string[] = [];
  for await (const line of shell.lines()) lines.push(line);
  assert.deepEqual(lines, ["a", "b", "", "c"]);
  assert.throws(() => shell.lines("stderr"), {
    message: 'lines: stderr is not a pipe of this sandbox (spawn with stderr: "pipe"; run() returns its output in the result)',
  });
});

test("reject: true throws CommandFailedError carrying the result; check() does the same", async () => {
  const failing = ["/bin/sh", "-c", "echo partial; echo 'no such thing' >&2; exit 3"];
  await assert.rejects(Sandbox.run(policy, failing, { reject: true }), (e: unknown) => {
    assert.ok(e instanceof CommandFailedError);
    assert.equal(e.code, "COMMAND_FAILED");
    assert.equal(e.message, "the command exited with code 3: no such thing");
    assert.equal(e.result.status, "exited");
    assert.equal(e.result.exitCode, 3);
    assert.equal(e.result.stdoutText, "partial");
    return true;
  });
  const r = await Sandbox.run(policy, failing);
  assert.equal(r.exitCode, 3, "without reject the result is returned");
  assert.throws(() => r.check(), (e: unknown) => e instanceof CommandFailedError && e.result === r && e.message === "the command exited with code 3: no such thing");
  // Control: a command exiting 0 passes both.
  const ok = await Sandbox.run(policy, [probe, "exit", "0"], { reject: true });
  assert.equal(ok.check(), ok);
  const killed = await Sandbox.run(policy, ["/bin/sh", "-c", "kill -SEGV $$"]);
  assert.throws(() => killed.check(), { message: "the command was killed by SIGSEGV" });
});
