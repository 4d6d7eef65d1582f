// A throwaway supervising process for the "supervisor dies" test: starts a sandbox whose
// command leaves a daemon behind, prints the pids, and waits to be killed.

import { Sandbox } from "../../src/index.js";
import { hostPidIn } from "./proc.js";

const probe = process.argv[2]!;
const sb = new Sandbox({ fsReadable: [probe] });
await sb.spawn([probe, "daemon-stay"], { stdout: "pipe" });
let text = "";
sb.stdout!.on("data", (c: Buffer) => {
  text += c.toString();
  // The daemon prints its own pid: the namespace's under the kernel view, named here by the host's.
  const printed = Number(text.trim());
  const daemon = sb.procView === "kernel" && sb.pid !== undefined ? (hostPidIn(sb.pid, printed) ?? -1) : printed;
  if (text.includes("\n")) process.stdout.write(JSON.stringify({ root: sb.pid, daemon }) + "\n");
});
setInterval(() => undefined, 1000);
