// portRemap against a host listener with SO_REUSEPORT, as whoever runs this: the host's
// listener (the probe, unsandboxed, same user) and a sandbox's (SO_REUSEPORT too) on one
// port; 40 connections to that port each learn who accepted them. With portRemap, on
// 127.0.0.1 and on 0.0.0.0 named with AF_UNSPEC; without it (the control: the kernel
// shares the port). Prints one JSON line.
// Usage: red2-remap-case.js PROBE

import { spawn } from "node:child_process";
import { connect, createServer, type AddressInfo } from "node:net";
import type { Readable } from "node:stream";
import { Sandbox } from "../../src/index.js";

const probe = process.argv[2]!;
const CONNECTIONS = 40;
/** Only a bound on a wedged run: every connection is made once both listen. */
const LISTEN_MS = "60000";

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** The first line a stream prints. */
function firstLine(stream: Readable): Promise<string> {
  return new Promise((resolve) => {
    let seen = "";
    stream.on("data", (d: Buffer) => {
      seen += d.toString();
      if (seen.includes("\n")) resolve(seen.split("\n")[0]!);
    });
    stream.on("end", () => resolve(seen.trim()));
  });
}

/** Who answered a connection to the port: the tag it wrote, or the error. */
function who(port: number): Promise<string> {
  return new Promise((resolve) => {
    let got = "";
    const c = connect(port, "127.0.0.1");
    c.on("data", (d: Buffer) => (got += d.toString()));
    c.on("end", () => resolve(got));
    c.on("error", (e) => resolve(`error ${e.message}`));
  });
}

/** how: where the listeners bind ("": 127.0.0.1; "unspec": the host on 0.0.0.0, the
 * sandbox on 0.0.0.0 named with AF_UNSPEC). */
async function round(remap: boolean, how = ""): Promise<unknown> {
  const port = await freePort();
  const host = spawn(probe, ["red2-reuseport", String(port), "HOST", LISTEN_MS, how === "unspec" ? "any" : how], { stdio: ["ignore", "pipe", "inherit"] });
  const hostBound = await firstLine(host.stdout!);
  const sb = new Sandbox({ fsReadable: [probe], netAllowBind: [port], portRemap: remap });
  await sb.spawn([probe, "red2-reuseport", String(port), "SANDBOX", LISTEN_MS, how], { stdout: "pipe", stderr: "pipe" });
  const sandboxBound = await firstLine(sb.stdout!);
  const answers: Record<string, number> = {};
  for (let i = 0; i < CONNECTIONS; i++) {
    const a = await who(port);
    answers[a] = (answers[a] ?? 0) + 1;
  }
  const ports = sb.ports();
  // The sandbox's server, where the host reaches it: its own tag.
  const viaMapping = ports[0] === undefined ? undefined : await who(ports[0].hostPort);
  // (Without portRemap the sandbox's bind meets the host's port and its program ends.)
  if (sb.state === "running") await sb.kill();
  else await sb.wait();
  host.kill("SIGKILL");
  return { port, hostBound, sandboxBound, answers, ports, viaMapping };
}

console.log(JSON.stringify({ remap: await round(true), unspec: await round(true, "unspec"), plain: await round(false), plainUnspec: await round(false, "unspec") }));
