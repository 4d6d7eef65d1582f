// sandlock learn and the explained denials through the CLI, as whoever runs this: learns a
// job that reads a directory outside the system preset, writes its project, reaches a
// loopback server and reads /etc/shadow; runs the learned profile; and collects what
// failing runs say. Prints one JSON line. Usage: learn-case.js STAGE

import { execFile } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { join } from "node:path";
import { Sandbox } from "../../src/index.js";

const [stage] = process.argv.slice(2) as [string];
const cli = join(stage, "bin", "sandlock.cjs");
const project = mkdtempSync("/tmp/sandlock-learn-");
const data = mkdtempSync("/tmp/sandlock-learn-data-");
// A clean environment, but for the view switch a whole-suite run may set (the checks follow
// the view each run reports).
const ENV = { PATH: "/usr/local/bin:/usr/bin:/bin", LANG: "C.UTF-8", ...(process.env.SANDLOCK_KERNEL_VIEW !== undefined ? { SANDLOCK_KERNEL_VIEW: process.env.SANDLOCK_KERNEL_VIEW } : {}) };

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(file: string, args: readonly string[]): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd: project, env: ENV, timeout: 120_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === "number" ? err.code : null;
      resolve({ code, stdout, stderr });
    });
  });
}

const sandlock = (args: readonly string[]): Promise<Ran> => run(process.execPath, [cli, ...args]);

/** sandlock with a terminal on its stdio (script(1) gives it a pseudo-terminal). */
const inTerminal = (args: readonly string[]): Promise<Ran> =>
  run("/usr/bin/script", ["-qec", [process.execPath, cli, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(" "), "/dev/null"]);

const connectTo = (port: number): string =>
  `/usr/bin/python3 -c 'import socket; s = socket.create_connection(("127.0.0.1", ${port}), timeout=5); print(s.recv(64).decode().strip())'`;

async function main(): Promise<void> {
  writeFileSync(join(data, "data.txt"), "DATA\n");
  const server = createServer((c) => c.end("HELLO\n"));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
  const refusedPort = (closed.address() as AddressInfo).port;
  closed.close();

  const job = `cat ${data}/data.txt; echo out > made.txt; ${connectTo(port)}; cat /etc/shadow >/dev/null 2>&1; true`;
  const learned = await sandlock(["learn", "-o", "learned.toml", "--", "sh", "-c", job]);
  const profile = existsSync(join(project, "learned.toml")) ? readFileSync(join(project, "learned.toml"), "utf8") : "";
  rmSync(join(project, "made.txt"), { force: true });
  const replay = await sandlock(["run", "--profile-file", "learned.toml"]);
  const madeAgain = existsSync(join(project, "made.txt"));
  // The view each kind of policy below gets (the answers outside the grants depend on it).
  const viewOf = async (args: readonly string[]): Promise<string> => (JSON.parse((await sandlock(["run", ...args, "--json", "--", "true"])).stdout) as { procView: string }).procView;
  const views = { workspace: await viewOf(["-p", "workspace"]), system: await viewOf(["-p", "system"]), grants: await viewOf(["-r", "/usr", "-r", "/lib", "-r", "/lib64"]) };
  // Controls: the preset alone cannot read the data directory nor reach the server.
  const withoutRead = await sandlock(["run", "-p", "workspace", "--", "cat", `${data}/data.txt`]);
  const withoutNet = await sandlock(["run", "-p", "workspace", "--", "sh", "-c", connectTo(port)]);

  // A write outside the writable paths is refused while learning and reported; -w allows it.
  const outside = `echo x > ${data}/w.txt`;
  const refusedWrite = await sandlock(["learn", "--", "sh", "-c", outside]);
  const allowedWrite = await sandlock(["learn", "-w", data, "--", "sh", "-c", outside]);
  const exists = await sandlock(["learn", "-o", "learned.toml", "--", "true"]);
  const noCommand = await sandlock(["learn"]);

  // Denials explained.
  const refusedCalls = await sandlock(["run", "-p", "system", "--", "sh", "-c", `${connectTo(refusedPort)} 2>/dev/null; cat /proc/1/environ 2>/dev/null; exit 3`]);
  const loader = await sandlock(["run", "-r", "/usr/bin", "--", "/usr/bin/ls"]);
  writeFileSync(join(project, "s.py"), "#!/usr/bin/python3\nprint(1)\n");
  chmodSync(join(project, "s.py"), 0o755);
  const interpreter = await sandlock(["run", "-r", project, "--", join(project, "s.py")]);
  chmodSync(join(project, "s.py"), 0o644);
  const notExecutable = await sandlock(["run", "-p", "system", "-r", project, "--", join(project, "s.py")]);
  // The library: the same refusal in RunResult.refused, also on success.
  const lib = await Sandbox.run({ fsReadable: ["/usr", "/lib", "/lib64", "/etc"] }, ["/bin/sh", "-c", `${connectTo(refusedPort)}; true`]);
  const library = { exitCode: lib.exitCode, refused: lib.refused, json: lib.toJSON().refused };
  const hint = await inTerminal(["run", "-r", "/usr", "-r", "/lib", "-r", "/lib64", "--", "ls", data]);
  const hintWithPreset = await inTerminal(["run", "-p", "system", "--", "ls", data]);
  const noTerminal = await sandlock(["run", "-r", "/usr", "-r", "/lib", "-r", "/lib64", "--", "ls", data]);

  server.close();
  rmSync(project, { recursive: true, force: true });
  rmSync(data, { recursive: true, force: true });
  console.log(JSON.stringify({
    project, data, port, refusedPort, views, learned, profile, replay, madeAgain, withoutRead, withoutNet, refusedWrite, allowedWrite,
    exists, noCommand, refusedCalls, library, loader, interpreter, notExecutable, hint, hintWithPreset, noTerminal,
  }));
}

void main();
