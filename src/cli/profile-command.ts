// `sandlock profile list` (built-in presets and the user's profiles) and `sandlock profile
// show NAME | --profile-file PATH` (the profile resolved on this host, printed as TOML).

import { PolicyError } from "../errors.js";
import { PRESET_NAMES, PRESET_SUMMARY } from "../policy/presets.js";
import { policyToJSON } from "../policy/serialize.js";
import { validatePolicy } from "../policy/validate.js";
import { profileDir, userProfileNames } from "../profile/locate.js";
import { resolveProfiles, type ProfileRef } from "../profile/resolve.js";
import { profileToToml } from "../profile/to-toml.js";
import { UsageError } from "./usage-error.js";

const HINT = `see "sandlock profile --help"`;

export function profileHelp(): string {
  return `sandlock profile: built-in presets and your TOML profiles\n\nUsage:\n` +
    `  sandlock profile list                        presets and the profiles in ${profileDir()}\n` +
    `  sandlock profile show NAME                   a preset or profile, resolved on this host, as TOML\n` +
    `  sandlock profile show --profile-file PATH    the same for a profile file\n\n` +
    `Profiles live in $XDG_CONFIG_HOME/sandlock/profiles/NAME.toml (else ~/.config/sandlock/profiles);\n` +
    `use one with "sandlock run -p NAME -- CMD". See docs/profiles.md for the keys.\n`;
}

function list(): string {
  const width = Math.max(...PRESET_NAMES.map((n) => n.length));
  let out = "Presets (built in):\n";
  for (const n of PRESET_NAMES) out += `  ${n.padEnd(width)}  ${PRESET_SUMMARY[n]}\n`;
  const dir = profileDir();
  const names = userProfileNames();
  out += `\nProfiles (${dir}):\n`;
  out += names.length === 0 ? "  (none)\n" : names.map((n) => `  ${n}\n`).join("");
  return out;
}

async function show(ref: ProfileRef): Promise<string> {
  const r = await resolveProfiles([ref]);
  let json;
  try {
    json = policyToJSON(validatePolicy(r.input));
  } catch (e) {
    // A profile is checked on its own when read; what fails here is the composition.
    if (e instanceof PolicyError) throw new UsageError(`sandlock: profile show: ${e.message} (composed: ${r.layers.join(", ")})`);
    throw e;
  }
  const what = ref.kind === "name" ? ref.name : ref.path;
  return profileToToml(json, r.cmd, [`${what}: ${r.layers.join(" + ")}`, `resolved on this host for the working directory ${process.cwd()}`]);
}

function parseShow(args: readonly string[]): ProfileRef {
  if (args.length === 1 && !args[0]!.startsWith("-")) return { kind: "name", name: args[0]! };
  if (args.length === 2 && args[0] === "--profile-file") return { kind: "file", path: args[1]! };
  if (args.length === 1 && args[0]!.startsWith("--profile-file=")) return { kind: "file", path: args[0]!.slice("--profile-file=".length) };
  throw new UsageError(`sandlock profile show: give one NAME, or --profile-file PATH (got ${JSON.stringify(args.join(" "))})`, HINT);
}

export async function profileCommand(argv: readonly string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined) throw new UsageError("sandlock profile: no subcommand (list, or show NAME)", HINT);
  if (sub === "--help" || sub === "-h" || sub === "help") {
    process.stdout.write(profileHelp());
    return 0;
  }
  if (sub === "list") {
    if (rest.length > 0) throw new UsageError(`sandlock profile list: takes no arguments (got ${JSON.stringify(rest.join(" "))})`, HINT);
    process.stdout.write(list());
    return 0;
  }
  if (sub === "show") {
    const ref = parseShow(rest);
    try {
      process.stdout.write(await show(ref));
    } catch (e) {
      if (e instanceof PolicyError) throw new UsageError(`sandlock: ${e.message}`);
      throw e;
    }
    return 0;
  }
  throw new UsageError(`sandlock profile: unknown subcommand ${JSON.stringify(sub)} (list or show NAME)`, HINT);
}
