// portRemap after the sandbox's server is gone: the host port it was given is free again,
// and another host process may take it. A connect of the sandbox to the port it asked for
// must then not be carried to that host port (the policy allowed the port it named, not the
// other one). Prints one JSON line. Usage: stale-remap-case.js
//   own    what the sandbox's connect met while its own server listened (the mapping works)
//   after  what it met once its server closed and a host process took the host port

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo, type Server } from "node:net";
import { join } from "node:path";
import { Sandbox } from "../../src/index.js";

const SYSTEM = ["/usr", "/lib", "/lib64", "/bin", "/etc"];

async function listen(port: number, reply: string): Promise<Server> {
  const s = createServer((c) => c.end(`${reply}\n`));
  await new Promise<void>((resolve, reject) => {
    s.once("error", reject);
    s.listen(port, "127.0.0.1", resolve);
  });
  return s;
}

const dir = mkdtempSync("/tmp/sandlock-stale-remap-");
const go = join(dir, "go");
// The host holds the port the sandbox will ask for.
const hostServer = await listen(0, "HOST-ASKED");
const port = (hostServer.address() as AddressInfo).port;
const program = `
import os, socket, time
s = socket.socket(); s.bind(("127.0.0.1", ${port})); s.listen()
c = socket.create_connection(("127.0.0.1", ${port})); a, _ = s.accept(); a.sendall(b"OWN\\n")
print("own", c.recv(100).decode().strip(), flush=True)
c.close(); time.sleep(0.05)
for x in (a, s): x.close()
print("closed", flush=True)
while not os.path.exists(${JSON.stringify(go)}): time.sleep(0.02)
try:
    c = socket.create_connection(("127.0.0.1", ${port}), timeout=5)
    print("after", c.recv(100).decode().strip(), flush=True)
except OSError as e:
    print("after", type(e).__name__, flush=True)
`;
const sb = new Sandbox({ fsReadable: [...SYSTEM, dir], netAllowBind: [port], netAllow: [`tcp://127.0.0.1:${port}`], portRemap: true });
await sb.spawn(["/usr/bin/python3", "-c", program], { stdout: "pipe", stderr: "pipe" });
let seen = "";
await new Promise<void>((resolve) => {
  const timer = setTimeout(resolve, 15_000);
  sb.stdout!.on("data", (d: Buffer) => {
    seen += d.toString();
    if (seen.includes("closed\n")) {
      clearTimeout(timer);
      resolve();
    }
  });
});
const mapping = sb.ports();
// A host process takes the host port the sandbox was given, now free.
let taker: Server | undefined;
let takerError = "";
try {
  taker = await listen(mapping[0]?.hostPort ?? 1, "HOST-OTHER");
} catch (e) {
  takerError = (e as Error).message;
}
writeFileSync(go, "");
const r = await sb.wait();
taker?.close();
hostServer.close();
rmSync(dir, { recursive: true, force: true });
console.log(JSON.stringify({ port, mapping, takerError, out: r.stdoutText, err: r.stderrText.slice(-500) }));
