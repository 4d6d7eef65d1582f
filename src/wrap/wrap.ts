// wrap(policy, argv): a command line any spawner can run (child_process, node-pty, execa, a
// process manager) that runs argv confined by the policy, with the spawner's stdio, and
// whose result (status, exit code, enforcement report, refusals) comes back to the caller.

import { randomBytes } from "node:crypto";
import { closeSync, mkdtempSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { removeTreeAt } from "../cow/beneath.js";
import { native } from "../confine/native.js";
import { AT_FDCWD, O } from "../supervise/paths.js";
import { SandboxError } from "../errors.js";
import { Policy } from "../policy/policy.js";
import type { PolicyInput } from "../policy/types.js";
import { RunResult, type RunResultFields } from "../result.js";
import { helloMatches, lineReader, MAX_LINE, open, seal, type Hello, type Job, type Report } from "./protocol.js";

/** The most a connection may send before its hello's newline (a hello is about 80 bytes). */
const MAX_HELLO = 1024;
/** Connections open at once, and how long one may wait before its hello: whoever can reach
 * the socket (a sandbox of this user granted the directory's parent) held one of this
 * process's descriptors per connection, for as long as it liked (ninth review). The real
 * started process connects and sends its hello at once. */
const MAX_CONNECTIONS = 16;
const HELLO_WITHIN_MS = 10_000;

const AGENT = fileURLToPath(new URL("./agent.js", import.meta.url));

/** Options of {@link wrap}. */
export interface WrapOptions {
  /** Keep the command in the spawner's process group, for a terminal (default true: a
   * program run in a pty is the terminal's foreground job). */
  foreground?: boolean;
  /** Milliseconds; on expiry every process is killed and the result's status is "timeout". */
  timeout?: number;
  /** The environment to give the spawner (default: this process's); the sandbox takes its
   * own from it as the policy says (cleanEnv, env). */
  env?: NodeJS.ProcessEnv;
}

/** What {@link wrap} returns: run `file` with `args` and `env` with any spawner. */
export interface Wrapped {
  /** The program to start: this Node. */
  readonly file: string;
  /** Its arguments: the agent program, the socket it reports to, and its key (hex). */
  readonly args: readonly string[];
  /** The environment to start it with (the sandbox takes its own from it, as the policy says). */
  readonly env: Record<string, string>;
  /**
   * Resolves with the run's RunResult (stdout and stderr null: they went to the spawner's
   * stdio) once the started process reported it; rejects with a SandboxError naming why
   * when it ended without one (killed before it could, or the sandbox could not start).
   */
  readonly result: Promise<RunResult>;
  /** Stops waiting for a process that will never be started (removes the socket). */
  close(): void;
}

/**
 * A command line that runs `argv` in a sandbox under `policy` when started by any spawner:
 * ```ts
 * const w = await wrap({ fsReadable: ["/usr", "/lib", "/lib64", "/bin"] }, ["ls", "/usr"]);
 * const child = spawn(w.file, w.args, { env: w.env, stdio: "inherit" }); // or node-pty, execa
 * const r = await w.result; // status, exit code, enforcement, refused
 * ```
 * The started process (a small Node program) supervises the sandbox: SIGTERM, SIGINT and
 * SIGHUP sent to it stop the sandbox gracefully, and if it is killed the sandbox dies with
 * it. It exits with the command's exit code (128+N for signal N, 124 on timeout). The wrap
 * may be run once; a second start is refused. An invalid policy throws here.
 */
export async function wrap(policy: Policy | PolicyInput, argv: readonly string[], opts: WrapOptions = {}): Promise<Wrapped> {
  const p = policy instanceof Policy ? policy : new Policy(policy);
  if (!Array.isArray(argv) || argv.length === 0 || argv.some((a) => typeof a !== "string")) {
    throw new SandboxError("wrap: argv must be a non-empty array of strings");
  }
  if (p.policyFn !== undefined) throw new SandboxError("wrap: a policy with policyFn cannot be handed to another process (the function stays here)");
  const job: Job = { policy: p.toJSON(), argv: [...argv], foreground: opts.foreground ?? true, ...(opts.timeout !== undefined ? { timeout: opts.timeout } : {}) };
  // Only this user can enter the directory: no other user can reach the socket. A process
  // of this user that may write the directory's parent (another sandbox granted /tmp) can
  // still move the socket aside and put its own at the path, so the path proves nothing:
  // the key does. The agent sends a proof of it, never the key itself; the job and the
  // report are sealed with it (protocol.ts), so such a process in the middle can pass them
  // on unread, or drop them, and nothing else.
  const dir = mkdtempSync(join(tmpdir(), "sandlock-wrap-"));
  const path = join(dir, "s");
  // The server binds its socket, and libuv unlinks it when the server closes, through a
  // descriptor of the directory: by its path, a process that may write the temporary
  // directory could move the directory aside and put a link to another in its place, and
  // the unlink removed a file named "s" there (found by an audit, shown as root).
  const dirFd = native().openat2(AT_FDCWD, dir, O.PATH | O.DIRECTORY | O.NOFOLLOW | O.CLOEXEC, 0, 0);
  if (dirFd < 0) throw new SandboxError(`wrap: cannot open the directory it made, ${dir} (errno ${-dirFd})`);
  const key = randomBytes(32);
  let server: Server | undefined;
  const cleanup = (): void => {
    server?.close();
    // By descriptor, not rmSync: another sandbox granted /tmp may write in the directory.
    try {
      removeTreeAt(dir);
    } catch {
      // left behind: it holds a socket nobody listens on
    }
  };
  let settle!: { resolve: (r: RunResult) => void; reject: (e: Error) => void };
  const result = new Promise<RunResult>((resolve, reject) => (settle = { resolve, reject }));
  result.catch(() => undefined); // a caller who never looks at it does not crash the process
  let taken = false;
  server = createServer((conn: Socket) => {
    let hello = true;
    let mine = false; // this connection took the wrap
    let reported = false;
    let refusedReport: string | undefined;
    const onLine = (text: string): void => {
      if (conn.destroyed) return; // lines after a refusal, in the same chunk
      let msg: unknown;
      try {
        msg = JSON.parse(text);
      } catch {
        conn.destroy();
        return;
      }
      if (hello) {
        hello = false;
        if (taken || !helloMatches(key, (msg as Partial<Hello> | null)?.hello)) {
          conn.destroy();
          return;
        }
        taken = true;
        mine = true;
        server?.close(); // one run per wrap: nobody else gets in
        conn.write(`${JSON.stringify(seal(key, "job", job))}\n`);
        return;
      }
      if (reported) return;
      const report = open(key, "report", msg) as Report | undefined;
      if (report === undefined) {
        // Not sealed by a holder of the key: whatever it says is not the run's result.
        refusedReport = "the report that came back was not sealed with the wrap's key (another process may have put its own socket at the wrap's path)";
        conn.destroy();
        return;
      }
      reported = true;
      if ("result" in report) settle.resolve(new RunResult({ ...(report.result as unknown as RunResultFields), stdout: null, stderr: null }));
      else settle.reject(new SandboxError(`wrap: the sandbox did not run: ${report.error.name}: ${report.error.message}`));
    };
    conn.on("data", lineReader(onLine, () => conn.destroy(), () => (hello ? MAX_HELLO : MAX_LINE)));
    const idle = setTimeout(() => hello && conn.destroy(), HELLO_WITHIN_MS);
    idle.unref();
    conn.on("error", () => undefined);
    conn.on("close", () => {
      clearTimeout(idle);
      // A refused connection, even one accepted before the wrap was taken and refused after:
      // keep waiting for (or on) the real one.
      if (!mine) return;
      if (!reported) settle.reject(new SandboxError(refusedReport !== undefined ? `wrap: ${refusedReport}` : "wrap: the wrapped process ended before reporting its result (killed, or it crashed); its sandbox died with it"));
      cleanup();
    });
  });
  server.maxConnections = MAX_CONNECTIONS;
  server.unref();
  // (closed once the server is: its socket is unlinked through it at the close)
  let dirOpen = true;
  const closeDir = (): void => {
    if (dirOpen) closeSync(dirFd);
    dirOpen = false;
  };
  server.once("close", closeDir);
  try {
    await new Promise<void>((resolve, reject) => {
      server!.once("error", reject);
      server!.listen(`/proc/self/fd/${dirFd}/s`, () => resolve());
    });
  } catch (e) {
    server.close();
    closeDir();
    cleanup();
    throw e;
  }
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(opts.env ?? process.env)) if (v !== undefined) env[k] = v;
  return {
    file: process.execPath,
    args: [AGENT, path, key.toString("hex")],
    env,
    result,
    close: () => {
      if (!taken) settle.reject(new SandboxError("wrap: closed before the wrapped command was started"));
      cleanup();
    },
  };
}
