// portRemap against the real kernel, as whoever runs this: the host holds a port, two
// sandboxes serve "that port" at once, each reaches its own server by it and sees it in
// getsockname, the host reaches each through the port it was given; the bind rules still
// hold for the binds the supervisor makes, and a racing thread cannot bind a denied port.
// Prints one JSON line. Usage: port-remap-case.js PROBE

import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { join } from "node:path";
import { Sandbox } from "../../src/index.js";

const probe = process.argv[2]!;
const SYSTEM = ["/usr", "/lib", "/lib64", "/bin", "/etc"];

/** A free port now (bound to 0, read, closed). */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** A Python server on 127.0.0.1:PORT in DIR that fetches itself, prints what it saw, then
 * serves for `seconds`. */
const server = (dir: string, port: number, seconds: number): string[] => ["/usr/bin/python3", "-c", `
import functools, http.server, threading, time, urllib.request
class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a): pass
srv = http.server.HTTPServer(("127.0.0.1", ${port}), functools.partial(Quiet, directory=${JSON.stringify(dir)}))
print("sockname", srv.socket.getsockname()[1], flush=True)
threading.Thread(target=srv.serve_forever, daemon=True).start()
print("self", urllib.request.urlopen("http://127.0.0.1:${port}/index.html").read().decode().strip(), flush=True)
time.sleep(${seconds})
`];

async function fetchText(port: number): Promise<string> {
  try {
    return (await (await fetch(`http://127.0.0.1:${port}/index.html`)).text()).trim();
  } catch (e) {
    return `error ${(e as Error).message}`;
  }
}


async function waitForLine(sb: Sandbox, pattern: RegExp): Promise<void> {
  let seen = "";
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 15_000);
    sb.stdout!.on("data", (d: Buffer) => {
      seen += d.toString();
      if (pattern.test(seen)) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

const dirs = [mkdtempSync("/tmp/sandlock-remap-a-"), mkdtempSync("/tmp/sandlock-remap-b-")];
writeFileSync(join(dirs[0]!, "index.html"), "SANDBOX A\n");
writeFileSync(join(dirs[1]!, "index.html"), "SANDBOX B\n");
const port = await freePort();
// The host's own server on that port.
const host = createServer((c) => c.end("HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nHOST\n"));
await new Promise<void>((r) => host.listen(port, "127.0.0.1", r));

const policy = (dir: string) => ({ fsReadable: [...SYSTEM, dir], netAllowBind: [port], netAllow: [`tcp://127.0.0.1:${port}`], portRemap: true });
const a = new Sandbox(policy(dirs[0]!));
const b = new Sandbox(policy(dirs[1]!));
await a.spawn(server(dirs[0]!, port, 4), { stdout: "pipe", stderr: "pipe" });
await b.spawn(server(dirs[1]!, port, 4), { stdout: "pipe", stderr: "pipe" });
await Promise.all([waitForLine(a, /self .*\n/), waitForLine(b, /self .*\n/)]);
const live = { a: a.ports(), b: b.ports() };
const hostSees = { own: await fetchText(port), a: await fetchText(live.a[0]?.hostPort ?? 1), b: await fetchText(live.b[0]?.hostPort ?? 1) };
const [ra, rb] = [await a.wait(), await b.wait()];

// Control: the same server without portRemap meets the host's server.
const plain = await Sandbox.run({ ...policy(dirs[0]!), portRemap: false }, server(dirs[0]!, port, 0), { timeout: 20_000 });
host.close();

// The bind rules hold for the supervisor's binds; a sibling thread flipping the port
// cannot get a denied one, whether it flips against an allowed port or against port 0.
const [ok, denied] = [await freePort(), await freePort()];
const raceOf = (a1: number, b1: number) => Sandbox.run({ fsReadable: [probe], netAllowBind: [ok], portRemap: true }, [probe, "bind-race", String(a1), String(b1), "4000"], { timeout: 60_000 });
const race = { allowed: (await raceOf(ok, denied)).stdoutText, zero: (await raceOf(0, denied)).stdoutText };
// The control must show the race can be won: on a loaded machine one round of 4000 may
// not be, so up to five rounds, until one wins.
const bareRound = (): Promise<string> => new Promise<string>((resolve) => execFile(probe, ["bind-race", String(ok), String(denied), "4000"], (_e, out) => resolve(out.trim())));
let bare = await bareRound();
for (let i = 1; i < 5 && /^wins 0 /.test(bare); i++) bare = await bareRound();
const deniedBind = await Sandbox.run({ fsReadable: [...SYSTEM, dirs[0]!], netAllowBind: [ok], portRemap: true }, server(dirs[0]!, denied, 0), { timeout: 20_000 });

for (const d of dirs) rmSync(d, { recursive: true, force: true });
console.log(JSON.stringify({
  port, live, hostSees,
  a: { out: ra.stdoutText, err: ra.stderrText.slice(-500), ports: ra.ports, json: (ra.toJSON() as { ports?: unknown }).ports },
  b: { out: rb.stdoutText, err: rb.stderrText.slice(-500) },
  plain: { code: plain.exitCode, err: plain.stderrText.slice(-300) },
  race, bare, deniedBind: { code: deniedBind.exitCode, err: deniedBind.stderrText.slice(-300) },
}));
