// Profiles and presets named on the command line (-p NAME, --profile-file PATH), with what
// they extend, composed in order into one policy input: lists add, scalars override.

import { lstatSync } from "node:fs";
import { homedir } from "node:os";
import { resolve as resolvePath } from "node:path";
import { PolicyError } from "../errors.js";
import { composeInputs } from "../policy/compose.js";
import { PRESET_NAMES, isPresetName, presetInput } from "../policy/presets.js";
import { closest } from "../policy/suggest.js";
import type { PolicyInput } from "../policy/types.js";
import { ProfileError } from "./errors.js";
import { checkProfileName, profilePath, userProfileNames } from "./locate.js";
import { parseProfile, type ParsedProfile } from "./parse.js";
import { readProfileFile } from "./read-file.js";

export type ProfileRef = { readonly kind: "name"; readonly name: string } | { readonly kind: "file"; readonly path: string };

type Layer = { preset: string } | { profile: ParsedProfile };

export interface ResolvedProfiles {
  /** Every layer composed, presets resolved for `cwd`. */
  readonly input: PolicyInput;
  /** The command of the last profile that has a [program] exec. */
  readonly cmd: readonly string[] | undefined;
  /** What was composed, in order: preset names and profile files. */
  readonly layers: readonly string[];
}

/** How deep `extends` may chain: deeper is certainly a mistake. */
const MAX_DEPTH = 8;

/** What a name refers to. A name that is both a preset and a user's file is refused: guessing
 * which one was meant would silently change what the sandbox allows. */
export function lookupName(name: string, env: NodeJS.ProcessEnv = process.env): ProfileRef | { kind: "preset"; name: string } {
  checkProfileName(name);
  const path = profilePath(name, env);
  let exists: boolean;
  let unreadable: string | undefined;
  try {
    exists = lstatSync(path, { throwIfNoEntry: false }) !== undefined;
  } catch (e) {
    // HOME may name a directory this user cannot enter (HOME=/root kept across setpriv or
    // su): then there is no profile of theirs there, and a preset name is the preset.
    exists = false;
    unreadable = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
  }
  if (isPresetName(name)) {
    if (exists) throw new PolicyError("profile", name, `profile: ${JSON.stringify(name)} is a built-in preset and also the file ${path}; rename the file (it can start with extends = "${name}")`);
    return { kind: "preset", name };
  }
  if (exists) return { kind: "file", path };
  if (unreadable !== undefined) throw new PolicyError("profile", name, `profile: ${JSON.stringify(name)} is not a preset, and ${path} cannot be looked at (${unreadable})`);
  const known = [...PRESET_NAMES, ...userProfileNames(env)];
  const match = closest(name, known);
  throw new PolicyError("profile", name, `profile: ${JSON.stringify(name)} is neither a preset (${PRESET_NAMES.join(", ")}) nor a profile (${path} does not exist)${match === undefined ? "" : `; did you mean ${JSON.stringify(match)}?`}`);
}

async function expand(ref: ProfileRef, env: NodeJS.ProcessEnv, chain: string[], out: Layer[]): Promise<void> {
  let path: string;
  if (ref.kind === "name") {
    const found = lookupName(ref.name, env);
    if (found.kind === "preset") {
      out.push({ preset: found.name });
      return;
    }
    path = (found as { path: string }).path;
  } else {
    path = resolvePath(ref.path);
  }
  if (chain.includes(path)) throw new ProfileError(path, undefined, "extends", `extends itself through ${[...chain, path].join(" -> ")}`);
  if (chain.length >= MAX_DEPTH) throw new ProfileError(path, undefined, "extends", `chains more than ${MAX_DEPTH} profiles deep (${chain.join(" -> ")})`);
  const parsed = await parseProfile(path, readProfileFile(path));
  if (parsed.extends !== undefined) {
    try {
      await expand({ kind: "name", name: parsed.extends.name }, env, [...chain, path], out);
    } catch (e) {
      // A bad name in extends is the profile's mistake: say where it is written.
      if (e instanceof PolicyError && !(e instanceof ProfileError)) throw new ProfileError(path, parsed.extends.line, "extends", e.message.replace(/^profile: /, ""), parsed.extends.name);
      throw e;
    }
  }
  out.push({ profile: parsed });
}

export interface ResolveOptions {
  /** The working directory given outside the profiles (--cwd); workspace makes it writable. */
  readonly cwd?: string;
  /** The supervisor setting given outside the profiles (--no-supervisor: false). */
  readonly supervisor?: boolean;
  readonly env?: NodeJS.ProcessEnv;
}

export async function resolveProfiles(refs: readonly ProfileRef[], opts: ResolveOptions = {}): Promise<ResolvedProfiles> {
  const env = opts.env ?? process.env;
  const layers: Layer[] = [];
  for (const ref of refs) await expand(ref, env, [], layers);
  // The directory a workspace preset makes writable is the one the command runs in.
  let cwd = opts.cwd;
  let cmd: readonly string[] | undefined;
  let supervisor = opts.supervisor;
  for (const l of layers) {
    if (!("profile" in l)) continue;
    if (opts.cwd === undefined && l.profile.input.cwd !== undefined) cwd = l.profile.input.cwd;
    if (opts.supervisor === undefined && l.profile.input.supervisor !== undefined) supervisor = l.profile.input.supervisor;
    if (l.profile.cmd !== undefined) cmd = l.profile.cmd;
  }
  cwd ??= process.cwd();
  const home = env.HOME ?? homedir();
  // Without a supervisor the presets leave /proc out (its view needs one).
  const unsupervised = supervisor === false;
  const inputs = layers.map((l) => ("preset" in l ? presetInput(l.preset, { cwd, home, unsupervised }) : l.profile.input));
  return {
    input: composeInputs(...inputs),
    cmd,
    layers: layers.map((l) => ("preset" in l ? `preset ${l.preset}` : l.profile.file)),
  };
}
