// The sandlock command: dispatches to one subcommand, loading only that one's modules so
// `sandlock run` starts fast. Returns the exit code; bin/sandlock.cjs sets it.

import { closest } from "../policy/suggest.js";
import { EXIT_USAGE, UsageError } from "./usage-error.js";
import type { BundleInfo } from "./program-cache.js";

// For bin/sandlock.cjs: it writes the V8 code cache only after a run that started a sandbox.
export { sandboxStarted } from "./start-state.js";

const COMMANDS = ["run", "learn", "check", "profile", "ps", "inspect", "kill", "checkpoint", "restore", "mcp", "branch", "help"] as const;

/** Exit code of a confinement that cannot be set up (src/cli/report.ts, SPEC 9). */
const EXIT_CONFINEMENT = 126;

/** The ConfinementError of src/confine/native.ts: a native binary missing or not loading here
 * (recognized by its fields, so start-up loads no error module). */
function nativeMissing(e: unknown): e is Error {
  return e instanceof Error && e.name === "ConfinementError" && typeof (e as { binary?: unknown }).binary === "string";
}

const MAIN_HINT = `see "sandlock --help"`;

async function dispatch(argv: readonly string[], bundle: BundleInfo | undefined): Promise<number> {
  const [first, ...rest] = argv;
  switch (first) {
    case "run":
      return (await import("./run.js")).runCommand(rest, bundle);
    case "learn":
      return (await import("./learn.js")).learnCommand(rest);
    case "check":
      return (await import("./check.js")).checkCommand(rest);
    case "profile":
      return (await import("./profile-command.js")).profileCommand(rest);
    case "ps":
      return (await import("./manage.js")).psCommand(rest);
    case "inspect":
      return (await import("./manage.js")).inspectCommand(rest);
    case "kill":
      return (await import("./manage.js")).killCommand(rest);
    case "checkpoint":
      return (await import("./manage.js")).checkpointCommand(rest);
    case "restore":
      return (await import("./restore.js")).restoreCommand(rest);
    case "mcp":
      return (await import("./mcp.js")).mcpCommand(rest);
    case "branch":
      return (await import("./branch.js")).branchCommand(rest);
    case "--version":
      process.stdout.write(`sandlock ${(await import("./version.js")).packageVersion()}\n`);
      return 0;
    case "--help":
    case "-h":
    case "help": {
      const help = await import("./help.js");
      const topic = first === "help" ? rest[0] : undefined;
      if (topic === "ps" || topic === "inspect" || topic === "kill" || topic === "checkpoint") {
        process.stdout.write((await import("./manage-help.js")).manageHelp(topic));
        return 0;
      }
      if (topic === "restore") return (await import("./restore.js")).restoreCommand(["--help"]);
      if (topic === "learn") process.stdout.write((await import("./learn.js")).learnHelp());
      else if (topic === "branch") process.stdout.write((await import("./branch.js")).branchHelp());
      else if (topic === "profile") process.stdout.write((await import("./profile-command.js")).profileHelp());
      else process.stdout.write(topic === "run" ? help.runHelp() : topic === "check" ? help.checkHelp() : help.mainHelp());
      return 0;
    }
    case undefined:
      throw new UsageError("sandlock: no command given (try: sandlock run -p workspace -- ls)", MAIN_HINT);
  }
  if (first.startsWith("-")) {
    throw new UsageError(`sandlock: unknown flag ${first} (flags go after the command: sandlock run ${first} ...)`, MAIN_HINT);
  }
  const match = closest(first, COMMANDS);
  throw new UsageError(`sandlock: unknown command ${JSON.stringify(first)}${match ? ` (did you mean ${JSON.stringify(match)}?)` : ""}`, MAIN_HINT);
}

/** `bundle`: where bin/sandlock.cjs loaded the bundle from and its build id, for the caches
 * kept beside it; undefined when they are off (NODE_DISABLE_COMPILE_CACHE) or unbundled. */
export async function main(argv: readonly string[], bundle?: BundleInfo): Promise<number> {
  try {
    return await dispatch(argv, bundle);
  } catch (e) {
    if (nativeMissing(e)) {
      // Every command needs the native part: one line that says how to get it, not a stack.
      process.stderr.write(`sandlock: ${e.message}\n`);
      return EXIT_CONFINEMENT;
    }
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`${e.message}\n${e.hint === undefined ? "" : `(${e.hint})\n`}`);
    return EXIT_USAGE;
  }
}

