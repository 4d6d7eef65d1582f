// Launches a plan made with the library directly (no supervisor), its command's stdout on a
// pipe: what vanished-case.ts and swapped-case.ts do once they have changed the host
// between planning and launch. Resolves with {code, out} or {error}.
import { closeSync, readSync } from "node:fs";
import { LauncherProcess } from "../../src/confine/launcher.js";
import { native } from "../../src/confine/native.js";
import { encodePlan, type Plan } from "../../src/plan/plan.js";

export async function launchPlan(plan: Plan): Promise<{ code?: number | null; out?: string; error?: string }> {
  const [r, w] = native().pipe();
  const launcher = new LauncherProcess(encodePlan(plan), plan.steps, [0, w, 2]);
  launcher.exited.catch(() => undefined); // a start that fails also rejects this
  try {
    await launcher.started;
    const exit = await launcher.exited;
    const buf = Buffer.alloc(256);
    closeSync(w);
    const n = readSync(r, buf);
    return { code: exit.code, out: buf.toString("utf8", 0, n) };
  } catch (e) {
    return { error: `${(e as Error).name}: ${(e as Error).message}` };
  }
}
