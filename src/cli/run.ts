// `sandlock run`: parse the flags (cheap, no library loaded), answer --help, and only then
// load the sandbox runtime to run the command.

import { parseRunArgs } from "./run-options.js";
import type { BundleInfo } from "./program-cache.js";

export async function runCommand(argv: readonly string[], bundle?: BundleInfo): Promise<number> {
  const options = parseRunArgs(argv);
  if (options.help) {
    const { runHelp } = await import("./help.js");
    process.stdout.write(runHelp());
    return 0;
  }
  const { execute } = await import("./run-exec.js");
  return execute(options, bundle);
}
