// A throwaway supervising process for the "supervisor dies" test: starts a sandbox whose
// command leaves a daemon behind, prints the pids, and waits to be killed.

import { Sandbox } from "../../src/index.js";

const probe = process.argv[2]!;
const sb = new Sandbox({ fsReadable: [probe] });
await sb.spawn([probe, "daemon-stay"], { stdout: "pipe" });
let text = "";
sb.stdout!.on("data", (c: Buffer) => {
  text += c.toString();
  if (text.includes("\n")) process.stdout.write(JSON.stringify({ root: sb.pid, daemon: Number(text.trim()) }) + "\n");
});
setInterval(() => undefined, 1000);
