// Finds the program to execute the way execvp would, in the sandbox's PATH, so the plan
// can carry an absolute path and "not found" is known before any process starts.

import { accessSync, constants, statSync } from "node:fs";
import { constants as os } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import { ConfinementError } from "../errors.js";

const DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin";

function notFound(cmd: string, errno: "ENOENT" | "EACCES", why: string): ConfinementError {
  return new ConfinementError(`execve(${cmd}): ${errno} (${why})`, {
    step: `execve(${cmd})`,
    errno,
    errnoNumber: os.errno[errno],
  });
}

function isExecutable(path: string): "ok" | "missing" | "denied" {
  if (path === "") return "missing";
  try {
    if (!statSync(path).isFile()) return "denied";
    accessSync(path, constants.X_OK);
    return "ok";
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EACCES" ? "denied" : "missing";
  }
}

/** `inRoot`: under a chroot, the host path a sandbox path names there (plan/chroot.ts); the
 * paths tried and returned are the sandbox's. */
export function resolveCommand(cmd: string, env: Readonly<Record<string, string>>, cwd: string, inRoot?: (path: string) => string | undefined): string {
  const isExecutableFile = inRoot === undefined ? isExecutable : (path: string) => isExecutable(inRoot(path) ?? "");
  if (cmd.length === 0) throw notFound(cmd, "ENOENT", "empty command name");
  if (cmd.includes("/")) {
    const path = isAbsolute(cmd) ? cmd : resolve(cwd, cmd);
    const state = isExecutableFile(path);
    if (state === "missing") throw notFound(path, "ENOENT", "command not found");
    // Permission problems are left to execve inside the sandbox, which reports them.
    return path;
  }
  let denied: string | undefined;
  for (const dir of (env.PATH ?? DEFAULT_PATH).split(":")) {
    const path = join(dir === "" ? cwd : resolve(cwd, dir), cmd);
    const state = isExecutableFile(path);
    if (state === "ok") return path;
    if (state === "denied") denied ??= path;
  }
  if (denied !== undefined) throw notFound(denied, "EACCES", "not executable");
  throw notFound(cmd, "ENOENT", "command not found in PATH");
}
