// `sandlock learn [flags] -- CMD`: runs CMD once under a permissive, recorded sandbox and
// prints (or saves) the profile that lets it run under `sandlock run`, with a report of
// what it did on stderr.

import { closeSync, fstatSync, lstatSync, mkdirSync, openSync, readlinkSync, realpathSync, unlinkSync, writeSync } from "node:fs";
import { basename, dirname } from "node:path";
import { native } from "../confine/native.js";
import { AT_FDCWD, O, RESOLVE } from "../supervise/paths.js";
import { parseArgs, flagLabel, type FlagSpec } from "./args.js";
import { UsageError, badValue } from "./usage-error.js";
import { readEnvPair, readGrace, readSeconds } from "./values.js";
import { DEFAULT_KILL_AFTER } from "./run-options.js";

export const LEARN_HINT = `see "sandlock learn --help"`;

interface LearnFlag extends FlagSpec {
  readonly key: "write" | "noNetwork" | "output" | "save" | "shell" | "cwd" | "env" | "timeout" | "killAfter" | "help";
}

export const LEARN_FLAGS: readonly LearnFlag[] = [
  { long: "fs-write", short: "w", arg: "PATH", key: "write", help: "also let the command write beneath PATH while learning (default: the working directory and a private TMPDIR); repeatable" },
  { long: "no-network", key: "noNetwork", help: "refuse network egress and binds while learning (attempts are still recorded)" },
  { long: "output", short: "o", arg: "FILE", key: "output", help: "write the profile to FILE (must not exist) instead of stdout" },
  { long: "save", arg: "NAME", key: "save", help: "save the profile as ~/.config/sandlock/profiles/NAME.toml: then sandlock run -p NAME" },
  { long: "exec-shell", short: "e", arg: "CMD", key: "shell", help: "learn CMD run with /bin/sh -c instead of a command after --" },
  { long: "cwd", arg: "PATH", key: "cwd", help: "working directory of the command (default: the current one)" },
  { long: "env", arg: "K=V", key: "env", help: "set variable K to V; repeatable" },
  { long: "timeout", short: "t", arg: "SECS", key: "timeout", help: "stop the command after SECS seconds (SIGTERM, SIGKILL after --kill-after)" },
  { long: "kill-after", arg: "SECS", key: "killAfter", help: `grace between SIGTERM and SIGKILL (default ${DEFAULT_KILL_AFTER})` },
  { long: "help", short: "h", key: "help", help: "show this help" },
];

export function learnHelp(): string {
  const rows = LEARN_FLAGS.map((f) => `  ${`${flagLabel(f)}${f.arg ? ` ${f.arg}` : ""}`.padEnd(24)} ${f.help}`);
  return [
    "Usage: sandlock learn [flags] -- CMD [ARGS...]",
    "       sandlock learn [flags] -e \"shell command\"",
    "",
    "Runs CMD once and writes the profile that lets it run under sandlock run: the",
    "paths it read, ran and wrote (directories collapsed, secrets never included), the",
    "network destinations it reached (by name when it looked the name up), the ports it",
    "bound. A report of what it did goes to stderr.",
    "",
    "Learn mode trusts the command more than run does: it may read every file you can",
    "(secrets too: they are reported, never put in the profile) and reach the network,",
    "with the seccomp blocklist, the scopes and the /proc view still on. It may write only",
    "beneath the working directory, a private TMPDIR and HOME, and the -w paths. Learn",
    "with a command you would run anyway, then review the profile.",
    "",
    ...rows,
    "",
    "Then: sandlock run --profile-file FILE (or -p NAME after --save) runs the same command.",
    "",
  ].join("\n");
}

export interface LearnArgs {
  readonly cmd: readonly string[];
  readonly writable: readonly string[];
  readonly network: boolean;
  readonly output: string | undefined;
  readonly save: string | undefined;
  readonly cwd: string | undefined;
  readonly env: Record<string, string> | undefined;
  readonly timeout: { ms: number; text: string } | undefined;
  readonly killAfterMs: number;
}

export function parseLearnArgs(argv: readonly string[]): LearnArgs | "help" {
  const { uses, operands } = parseArgs(argv, LEARN_FLAGS, { command: "sandlock learn", hint: LEARN_HINT });
  if (uses.some((u) => u.spec.key === "help")) return "help";
  const last = (key: LearnFlag["key"]): string | undefined => uses.filter((u) => u.spec.key === key).at(-1)?.value;
  const shell = last("shell");
  if (shell !== undefined && operands.length > 0) {
    throw new UsageError(`sandlock learn: -e runs a shell command; give either -e "..." or a command after "--", not both`, LEARN_HINT);
  }
  if (shell === undefined && operands.length === 0) {
    throw new UsageError(`sandlock learn: no command: give one after "--" (sandlock learn -- make) or a shell command with -e "..."`, LEARN_HINT);
  }
  const output = last("output");
  const save = last("save");
  if (output !== undefined && save !== undefined) throw new UsageError("sandlock learn: give -o FILE or --save NAME, not both", LEARN_HINT);
  if (output === "") throw badValue("--output", output, "is empty (give a file name)");
  let env: Record<string, string> | undefined;
  for (const u of uses.filter((x) => x.spec.key === "env")) {
    const [k, v] = readEnvPair("--env", u.value ?? "");
    (env ??= {})[k] = v;
  }
  const writable = uses.filter((u) => u.spec.key === "write").map((u) => {
    if (u.value === "") throw badValue("--fs-write", "", "is empty (give a path)");
    return u.value!;
  });
  const timeout = last("timeout");
  return {
    cmd: shell !== undefined ? ["/bin/sh", "-c", shell] : operands,
    writable,
    network: !uses.some((u) => u.spec.key === "noNetwork"),
    output,
    save,
    cwd: last("cwd"),
    env,
    timeout: timeout === undefined ? undefined : { ms: readSeconds("--timeout", timeout), text: timeout },
    killAfterMs: readGrace("--kill-after", last("killAfter") ?? DEFAULT_KILL_AFTER),
  };
}

/** Whether anything is at path, a symbolic link included (even one that leads nowhere). */
function taken(path: string): boolean {
  try {
    return lstatSync(path, { throwIfNoEntry: false }) !== undefined;
  } catch {
    return true;
  }
}

function realDir(path: string): string | undefined {
  try {
    return realpathSync(dirname(path));
  } catch {
    return undefined;
  }
}

/** The directory a profile will be written in, made now (before the run) and resolved: the
 * command may write where it lies (-o out/tool.toml in the project) and could make or swap
 * a name on the way into a link, so that the profile lands where the link leads. */
function prepareDir(path: string): string | undefined {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  return realDir(path);
}

/** Writes text to a new file; refuses to replace one (a profile a user edited is theirs).
 * O_CREAT|O_EXCL ("wx") never follows a link planted at the path, dangling or not; a write
 * that fails removes the part written, so no truncated profile is left behind. `dir`: where
 * the directory really was before the run; a directory that leads elsewhere now is refused. */
function writeNew(path: string, text: string, what: string, dir: string | undefined): void {
  const exists = (): UsageError => new UsageError(`sandlock learn: ${what} ${path} exists already; remove it or choose another`, LEARN_HINT);
  if (taken(path)) throw exists();
  const now = realDir(path);
  // The directory as it was before the run, pinned through its real path without following
  // a link: the file is then made beneath that descriptor, so a directory swapped in between
  // the check and the create cannot receive it.
  const dfd = now === dir && dir !== undefined ? native().openat2(AT_FDCWD, dir, O.PATH | O.DIRECTORY | O.CLOEXEC, 0, RESOLVE.NO_SYMLINKS) : -1;
  if (dfd < 0) {
    throw new UsageError(`sandlock learn: ${what} the directory of ${path} leads to ${now ?? "nothing"} now, not to ${dir ?? "nothing"} as before the run (the command may have replaced it with a link); the profile was not written`, LEARN_HINT);
  }
  const at = `/proc/self/fd/${dfd}/${basename(path)}`;
  let fd = -1;
  try {
    try {
      fd = openSync(at, "wx", 0o644);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EEXIST") throw exists();
      throw e;
    }
    const bytes = Buffer.from(text);
    for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off);
  } catch (e) {
    if (fd >= 0) {
      closeSync(fd);
      fd = -1;
      unlinkSync(at);
    }
    throw e;
  } finally {
    if (fd >= 0) closeSync(fd);
    closeSync(dfd);
  }
}

/** The writable path of the learning run that holds the regular file on this process's
 * stdout, if any: the command could write that file by its name while it runs, and the
 * profile written to stdout afterwards would overwrite only the start of it (the rest, the
 * command's own TOML, was loaded by the next run as part of the profile). */
function stdoutWritableBy(writable: readonly string[]): { file: string; grant: string } | undefined {
  let file: string;
  try {
    if (!fstatSync(1).isFile()) return undefined;
    file = readlinkSync("/proc/self/fd/1");
  } catch {
    return undefined;
  }
  const inside = (p: string, dir: string): boolean => p === dir || p.startsWith(dir.endsWith("/") ? dir : `${dir}/`);
  for (const grant of writable) {
    let real = grant;
    try {
      real = realpathSync(grant);
    } catch {
      // gone: the learning run could not write there either
    }
    if (inside(file, real)) return { file, grant };
  }
  return undefined;
}

export async function learnCommand(argv: readonly string[]): Promise<number> {
  const a = parseLearnArgs(argv);
  if (a === "help") {
    process.stdout.write(learnHelp());
    return 0;
  }
  const savePath = a.save === undefined ? undefined : (await import("../profile/locate.js")).profilePath(a.save);
  if (savePath !== undefined && taken(savePath)) {
    throw new UsageError(`sandlock learn: --save: the profile ${savePath} exists already; remove it or choose another name`, LEARN_HINT);
  }
  if (a.output !== undefined && taken(a.output)) throw new UsageError(`sandlock learn: --output: ${a.output} exists already; remove it or choose another`, LEARN_HINT);
  const [{ learn, learningPolicy }, { profileText, reportText }, { SignalGuard }, { exitCodeOf }, { describeFailure }, { native }, { ignoreTerminalStops }] = await Promise.all([
    import("../learn/run.js"),
    import("../learn/render.js"),
    import("./signals.js"),
    import("./outcome.js"),
    import("./report.js"),
    import("../confine/native.js"),
    import("../confine/terminal-stops.js"),
  ]);
  const toStdout = savePath === undefined && a.output === undefined;
  const outDir = savePath !== undefined ? prepareDir(savePath) : a.output !== undefined ? prepareDir(a.output) : undefined;
  const tty = native().isatty(0);
  ignoreTerminalStops();
  const guard = new SignalGuard(tty);
  try {
    const writable = learningPolicy({ cmd: a.cmd, cwd: a.cwd, writable: a.writable }).policy.fsWritable;
    // The learning run writes where `sandlock run` does: the same warnings before it starts
    // (sandlock's own installation, Node's compile cache beneath a writable path).
    for (const line of (await import("./self-exposed.js")).exposedWarnings(writable, process.argv[1], process.env)) process.stderr.write(`${line}\n`);
    if (toStdout) {
      const exposed = stdoutWritableBy(writable);
      if (exposed !== undefined) {
        throw new UsageError(`sandlock learn: stdout is the file ${exposed.file}, beneath ${exposed.grant}, which the command may write while learning: it could put its own TOML in the profile; give -o FILE instead (written after the run, never over an existing file)`, LEARN_HINT);
      }
    }
    // A signal while the command starts kills it once started (SignalGuard.attach). When the
    // profile goes to stdout, the command's own output goes to stderr: mixed into stdout it
    // became part of the profile (sandlock learn -- CMD > tool.toml), and a command that
    // printed a [program.env] header and TOML of its choice had it loaded by the next run.
    const spawn = { stdin: "inherit", stdout: toStdout ? 2 : "inherit", stderr: "inherit", foreground: tty } as const;
    const learned = await learn({
      cmd: a.cmd,
      cwd: a.cwd,
      writable: a.writable,
      network: a.network,
      env: a.env,
      spawn: a.timeout === undefined ? spawn : { ...spawn, timeout: a.timeout.ms, killSignal: "SIGTERM", forceAfter: a.killAfterMs },
      started: (sb) => guard.attach((signal, force) => void (force ? sb.kill() : sb.kill(signal, { forceAfter: a.killAfterMs })).catch(() => undefined)),
    });
    const r = learned.result;
    const code = exitCodeOf(r, a.timeout?.text);
    const outcome = r.status === "exited" ? `the command exited ${r.exitCode}` : r.status === "timeout" ? "the command timed out" : `the command ended by ${r.signal}`;
    const text = profileText(learned.suggestion, { cmd: a.cmd, cwd: learned.cwd, when: new Date().toISOString().slice(0, 10) });
    let where = "";
    if (savePath !== undefined) {
      writeNew(savePath, text, "--save: the profile", outDir);
      where = `; saved as ${savePath}: run it with sandlock run -p ${a.save}`;
    } else if (a.output !== undefined) {
      writeNew(a.output, text, "--output:", outDir);
      where = `; written to ${a.output}: run it with sandlock run --profile-file ${a.output}`;
    }
    const failed = code !== 0 ? " (it failed: the profile covers what it did until then)" : "";
    process.stderr.write(reportText(learned.observed, learned.suggestion, `${outcome}${failed}${where}`));
    if (toStdout) process.stdout.write(text);
    return code;
  } catch (e) {
    if (e instanceof UsageError) throw e;
    const failure = describeFailure(e);
    if (failure === undefined) throw e;
    process.stderr.write(`${failure.message.replace(/^sandlock: /, "sandlock learn: ")}\n`);
    return failure.exitCode;
  } finally {
    guard.dispose();
  }
}
