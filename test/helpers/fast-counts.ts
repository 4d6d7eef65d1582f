// How many notifications a sandbox's supervisor answered in the native fast path and how
// many reached TypeScript while the probe ran: read once the probe has ended (the shell
// prints its status) and before the shell's end closes the supervisor.

import { existsSync } from "node:fs";
import { Sandbox, type PolicyInput } from "../../src/index.js";
import { stagePackage } from "./stage.js";

export interface FastCounts {
  /** Answered in C (native/fastpath.c). */
  fast: number;
  /** Reached the handlers. */
  js: number;
}

/** Runs the probe with `args` under `limits` (plus the probe and a shell readable), under a
 * shell that prints its status, or with `direct` as the sandbox's only process (the probe's
 * "hold": no shell between, which a count of the sandbox's processes would include). */
export async function fastCounts(args: readonly string[], limits: PolicyInput, direct = false): Promise<{ counts: FastCounts; stdout: string }> {
  const { probe: bin } = stagePackage();
  const sb = new Sandbox({ ...limits, fsReadable: [bin, "/bin", "/usr", "/lib", "/lib64"].filter((p) => existsSync(p)) });
  const cmd = direct ? [bin, "hold", ...args] : ["/bin/sh", "-c", `"$0" "$@"; echo "status $?"; sleep 5`, bin, ...args];
  await sb.spawn(cmd, { stdout: "pipe", stderr: "pipe" });
  let seen = "";
  await new Promise<void>((resolve) => {
    sb.stdout!.on("data", (d: Buffer) => {
      seen += d.toString();
      if (/status \d+\n/.test(seen)) resolve();
    });
    sb.stdout!.on("end", () => resolve());
  });
  const sup = (sb as unknown as { supervisor: { fastAnswered: number; stats: { notifications: number } } }).supervisor;
  const counts = { fast: sup.fastAnswered, js: sup.stats.notifications };
  sb.kill();
  await sb.wait();
  return { counts, stdout: seen };
}
