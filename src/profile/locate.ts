// Where user profiles live (SPEC 9): $XDG_CONFIG_HOME/sandlock/profiles/NAME.toml, else
// ~/.config/sandlock/profiles/NAME.toml; what a valid NAME is; which profiles exist.

import { readdirSync } from "node:fs";
import { homedir } from "node:os";
import { isAbsolute, join } from "node:path";
import { PolicyError } from "../errors.js";

/** A name is a file name in the profiles directory: no "/", no leading dot, no "..". */
const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;

export function checkProfileName(name: string, what = "profile"): void {
  if (!NAME.test(name) || name.includes("..")) {
    throw new PolicyError("profile", name, `${what}: ${JSON.stringify(name)} is not a profile name (letters, digits, "_", "-" and ".", at most 64, not starting with "." or "-"; give a file with --profile-file)`);
  }
}

/** The user's profiles directory. A relative XDG_CONFIG_HOME is ignored, as the XDG spec says. */
export function profileDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CONFIG_HOME;
  const base = xdg !== undefined && isAbsolute(xdg) ? xdg : join(env.HOME ?? homedir(), ".config");
  return join(base, "sandlock", "profiles");
}

export function profilePath(name: string, env: NodeJS.ProcessEnv = process.env): string {
  checkProfileName(name);
  return join(profileDir(env), `${name}.toml`);
}

/** Names of the user's profiles (NAME.toml files with a valid NAME), sorted; [] without the directory. */
export function userProfileNames(env: NodeJS.ProcessEnv = process.env): string[] {
  let names: string[];
  try {
    names = readdirSync(profileDir(env));
  } catch {
    return [];
  }
  return names.filter((n) => n.endsWith(".toml")).map((n) => n.slice(0, -5)).filter((n) => NAME.test(n) && !n.includes("..")).sort();
}
