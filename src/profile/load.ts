// The library's way to the CLI's -p NAME and --profile-file PATH: presets and TOML profiles
// (with what they extend) composed into one PolicyInput, exactly as `sandlock run` does.

import { resolveProfiles } from "./resolve.js";
import type { PolicyInput } from "../policy/types.js";

/** What {@link loadProfile} composed. */
export interface LoadedProfile {
  /** The composed policy input: give it to `new Sandbox(...)` or `Sandbox.run(...)`. */
  readonly input: PolicyInput;
  /** The command of the last profile with a `[program] exec`, if any. */
  readonly cmd: readonly string[] | undefined;
  /** What was composed, in order: "preset workspace", profile file paths. */
  readonly layers: readonly string[];
}

/** Options of {@link loadProfile}. */
export interface LoadProfileOptions {
  /** The directory the command will run in: the workspace presets make it writable
   * (default: a profile's own `cwd`, else process.cwd()). */
  readonly cwd?: string;
  /** The environment user profiles are found by: `$XDG_CONFIG_HOME/sandlock/profiles`,
   * else `$HOME/.config/sandlock/profiles` (default: process.env). */
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * Composes presets and profiles into one policy input, as `sandlock run -p A -p B` does:
 * each entry is a preset name, a saved profile's name, or `{ file: PATH }`; lists add up
 * and scalars override, in order. Bad names, unreadable or malformed files and `extends`
 * cycles reject with a PolicyError (a ProfileError for a file) naming what was wrong.
 *
 * ```ts
 * const { input } = await loadProfile("workspace", { cwd: "/work/project" });
 * const r = await Sandbox.run({ ...input, cwd: "/work/project" }, ["make"]);
 * ```
 */
export async function loadProfile(profiles: string | { file: string } | readonly (string | { file: string })[], opts: LoadProfileOptions = {}): Promise<LoadedProfile> {
  const list = Array.isArray(profiles) ? profiles : [profiles as string | { file: string }];
  const refs = list.map((p) => (typeof p === "string" ? { kind: "name" as const, name: p } : { kind: "file" as const, path: p.file }));
  const r = await resolveProfiles(refs, { ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}), ...(opts.env !== undefined ? { env: opts.env } : {}) });
  return { input: r.input, cmd: r.cmd, layers: r.layers };
}
