// Positive controls of the network escape tests: runs the probe WITHOUT a sandbox, as
// whichever user started it, against a TCP listener on loopback, and prints one JSON line
// {stdout, accepted}. Usage: net-bare.js PROBE OP [ARGS...] (a "${PORT}" argument becomes
// the listener's port).

import { execFile } from "node:child_process";
import { createServer, type AddressInfo } from "node:net";

const [probe, ...args] = process.argv.slice(2);
let accepted = 0;
const server = createServer((s) => {
  accepted++;
  s.on("data", (d) => s.end(d));
  s.on("error", () => undefined);
});
await new Promise<void>((resolve) => server.listen({ host: "127.0.0.1", port: 0 }, resolve));
const port = String((server.address() as AddressInfo).port);
const stdout = await new Promise<string>((resolve) =>
  execFile(probe!, args.map((a) => a.replaceAll("${PORT}", port)), { timeout: 10_000 }, (_err, out) => resolve(out)),
);
await new Promise((r) => setTimeout(r, 100));
server.close();
process.stdout.write(JSON.stringify({ stdout, accepted }) + "\n");
