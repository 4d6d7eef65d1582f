// policyFn's network events through the library, as whoever runs this: datagrams (sendto,
// sendmsg, sendmmsg) to one host denied and to another allowed, a bind denied, and
// ctx.restrictPidNetwork on one process (its children and an orphan of it refused, its
// sibling connecting), a thread rewriting the sockaddr after the event; each with its
// control. Prints one JSON line. Usage: policy-net-case.js PROBE

import { createSocket, type Socket as Udp } from "node:dgram";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { dirname } from "node:path";
import { Sandbox, type PolicyEvent, type PolicyInput } from "../../src/index.js";

const [probe] = process.argv.slice(2) as [string];
const BASE: PolicyInput = { fsReadable: ["/usr", "/lib", "/lib64", "/bin", "/etc", "/dev/null", dirname(probe)] };
type Fn = NonNullable<PolicyInput["policyFn"]>;

async function run(fn: Fn, argv: string[], extra: PolicyInput) {
  const events: string[] = [];
  const policyFn: Fn = (e: PolicyEvent, ctx) => {
    if (e.category === "network") events.push(`${e.syscall} ${e.host} ${e.port} ${e.protocol}`);
    return fn(e, ctx);
  };
  const r = await Sandbox.run({ ...BASE, ...extra, policyFn }, argv, { timeout: 120_000 });
  return { status: r.status, code: r.exitCode, stdout: r.stdout!.toString(), stderr: r.stderr!.toString(), refused: r.refused.map((x) => `${x.syscall} ${x.errno} ${x.target}: ${x.why}`), events };
}

/** A UDP echo server counting what it receives. */
async function udpServer(host: string): Promise<{ port: number; received: () => number; reset: () => void; close: () => void }> {
  const s: Udp = createSocket("udp4");
  let count = 0;
  s.on("message", (m, from) => {
    count++;
    s.send(m, from.port, from.address);
  });
  await new Promise<void>((r) => s.bind(0, host, r));
  return { port: s.address().port, received: () => count, reset: () => void (count = 0), close: () => s.close() };
}

/** What a server has received once its count stops moving (the datagrams are in its
 * socket already; the event loop reads them in its own time). */
async function settled(count: () => number): Promise<number> {
  for (let last = -1, i = 0; i < 100; i++) {
    const now = count();
    if (now === last) return now;
    last = now;
    await new Promise((r) => setTimeout(r, 50));
  }
  return count();
}

const out: Record<string, unknown> = {};
const allowAll: Fn = () => "allow";

// Datagrams: 127.0.0.1 allowed by the callback, 127.0.0.2 denied; both allowed by netAllow.
const one = await udpServer("127.0.0.1");
const two = await udpServer("127.0.0.2");
const UDP: PolicyInput = { netAllow: [`udp://127.0.0.1:${one.port}`, `udp://127.0.0.2:${two.port}`] };
const SENDS = ["/bin/sh", "-c", 'for op in udp-send udp-sendmsg udp-sendmmsg; do "$0" $op 127.0.0.1 "$1"; "$0" $op 127.0.0.2 "$2"; done', probe, String(one.port), String(two.port)];
out.udp = await run((e) => (e.category === "network" && e.host === "127.0.0.2" ? "deny" : "allow"), SENDS, UDP);
out.udpReceived = [await settled(one.received), await settled(two.received)];
one.reset();
two.reset();
out.udpControl = await run(allowAll, SENDS, UDP);
out.udpControlReceived = [await settled(one.received), await settled(two.received)];
two.close();

// A thread flips the destination port between OK and DENIED in the very sockaddr being
// sent; the callback refuses DENIED (ECONNREFUSED, counted by the probe), after a turn of
// the event loop, which leaves the flipper time to rewrite the buffer after the copy.
const denied = await udpServer("127.0.0.1");
const RACE_UDP: PolicyInput = { netAllow: [`udp://127.0.0.1:${one.port}`, `udp://127.0.0.1:${denied.port}`] };
const RACE = [probe, "udp-race", "127.0.0.1", String(one.port), String(denied.port), "400"];
one.reset();
out.race = await run(async (e) => {
  await new Promise((r) => setImmediate(r));
  return e.category === "network" && e.port === denied.port ? { errno: 111 } : "allow";
}, RACE, RACE_UDP);
out.raceReceived = [await settled(one.received), await settled(denied.received)];
one.reset();
denied.reset();
out.raceControl = await run(allowAll, RACE, RACE_UDP);
out.raceControlReceived = [await settled(one.received), await settled(denied.received)];
one.close();
denied.close();

// A bind the static rules allow, denied by the callback; the control allows it.
const BIND_PORT = await new Promise<number>((resolve) => {
  const probePort = createServer().listen(0, "127.0.0.1", () => {
    const p = (probePort.address() as { port: number }).port;
    probePort.close(() => resolve(p));
  });
});
const BIND: PolicyInput = { netAllowBind: [BIND_PORT] };
out.bind = await run((e) => (e.syscall === "bind" ? "deny" : "allow"), [probe, "bind-tcp", String(BIND_PORT)], BIND);
out.bindControl = await run(allowAll, [probe, "bind-tcp", String(BIND_PORT)], BIND);
// The same under a thread flipping the port between BIND_PORT and another allowed port
// the callback denies (after a turn of the event loop): no socket ends on the denied port
// ("wins"); the control allows both and some do.
const OTHER_PORT = await new Promise<number>((resolve) => {
  const probePort = createServer().listen(0, "127.0.0.1", () => {
    const p = (probePort.address() as { port: number }).port;
    probePort.close(() => resolve(p));
  });
});
const BIND_RACE = [probe, "bind-race", String(BIND_PORT), String(OTHER_PORT), "1000"];
const BOTH: PolicyInput = { netAllowBind: [BIND_PORT, OTHER_PORT] };
out.bindRace = await run(async (e) => {
  await new Promise((r) => setImmediate(r));
  return e.syscall === "bind" && e.port === OTHER_PORT ? "deny" : "allow";
}, BIND_RACE, BOTH);
out.bindRaceControl = await run(allowAll, BIND_RACE, BOTH);

// restrictPidNetwork: every process whose argv says "restricted" is narrowed to no
// destination at its exec. The first probe is refused, its sibling connects; a restricted
// shell's child inherits it; a child of a restricted shell that outlives it (an orphan,
// re-parented to the launcher before it connects) is refused too. The control restricts
// nothing.
const server = createServer((c) => c.end("hi\n"));
await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
const port = (server.address() as { port: number }).port;
const dir = mkdtempSync("/tmp/sandlock-policynet-");
const PIDS = ["/bin/sh", "-c", [
  '"$0" connect-tcp 127.0.0.1 "$1" restricted',
  '"$0" connect-tcp 127.0.0.1 "$1" free',
  `/bin/sh -c '"$0" connect-tcp 127.0.0.1 "$1"; :' "$0" "$1" restricted`,
  `/bin/sh -c '( /bin/sleep 0.3; "$0" connect-tcp 127.0.0.1 "$1" > orphan.out ) & :' "$0" "$1" restricted`,
  "i=0; while [ ! -s orphan.out ] && [ $i -lt 400 ]; do /bin/sleep 0.05; i=$((i+1)); done; /bin/cat orphan.out",
].join("; "), probe, String(port)];
const restrictTagged: Fn = (e, ctx) => {
  if (e.category === "process" && e.argv!.includes("restricted")) ctx.restrictPidNetwork(e.pid, []);
  return "allow";
};
out.pids = await run(restrictTagged, PIDS, { netAllow: [`127.0.0.1:${port}`], fsWritable: [dir], cwd: dir });
rmSync(`${dir}/orphan.out`, { force: true });
out.pidsControl = await run(allowAll, PIDS, { netAllow: [`127.0.0.1:${port}`], fsWritable: [dir], cwd: dir });
// A bad pid is refused with a message naming it (and the call being decided is denied).
out.badPid = await run((e, ctx) => {
  if (e.category === "network") ctx.restrictPidNetwork(-5, []);
  return "allow";
}, [probe, "connect-tcp", "127.0.0.1", String(port)], { netAllow: [`127.0.0.1:${port}`] });
server.close();
rmSync(dir, { recursive: true, force: true });
console.log(JSON.stringify(out));
