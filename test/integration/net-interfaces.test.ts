// The host's network interfaces as a sandbox sees them: `lo` always, and with egress
// beyond loopback also the interfaces that carry a default route; every other one hidden
// from getifaddrs, if_nameindex, SIOCGIF* ioctls, a hand-made netlink conversation, and
// real programs (ip, Python, Node). Interface changes are refused.

import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { test } from "node:test";
import { answer, runScript, scriptCase, securityCase } from "../helpers/harness.js";
import { isRoot } from "../helpers/stage.js";
import { SYSTEM_RO } from "../helpers/system.js";

const probe = (...args: string[]): string[] => ["${PROBE}", ...args];
const none = { fsReadable: ["${PROBE}"] };
/** A port rule reaches every address: egress beyond loopback. */
const egress = { fsReadable: ["${PROBE}"], netAllow: ["tcp://:443"] };

// The host, read here independently of src/: every interface with its index, and those
// carrying an IPv4 or IPv6 default route.
const HOST = readdirSync("/sys/class/net")
  .map((name) => ({
    name,
    index: Number(readFileSync(`/sys/class/net/${name}/ifindex`, "utf8")),
    loopback: (Number(readFileSync(`/sys/class/net/${name}/flags`, "utf8")) & 0x8) !== 0,
  }))
  .sort((a, b) => a.index - b.index);
const DEFAULT_ROUTE = new Set([
  ...readFileSync("/proc/net/route", "utf8").split("\n").slice(1).map((l) => l.trim().split(/\s+/)).filter((f) => f[1] === "00000000" && f[7] === "00000000").map((f) => f[0]!),
  ...readFileSync("/proc/net/ipv6_route", "utf8").split("\n").map((l) => l.trim().split(/\s+/)).filter((f) => f.length >= 10 && /^0+$/.test(f[0]!) && f[1] === "00" && (parseInt(f[8]!, 16) & 0x201) === 0x1).map((f) => f[9]!),
]);
const LO = HOST.filter((i) => i.loopback);
const SHOWN = HOST.filter((i) => i.loopback || DEFAULT_ROUTE.has(i.name));
const HIDDEN_ALWAYS = HOST.filter((i) => !i.loopback && !DEFAULT_ROUTE.has(i.name));
const names = (l: { name: string }[]): string => l.map((i) => i.name).join(" ");

securityCase("no egress: getifaddrs shows loopback only", { policy: none, cmd: probe("ifaddrs") }, (o) => assert.equal(answer(o).trim(), names(LO)));

securityCase("egress: getifaddrs shows loopback and the default-route interfaces, nothing else", { policy: egress, cmd: probe("ifaddrs") }, (o) =>
  assert.equal(answer(o).trim(), names(SHOWN)),
);

securityCase("if_nameindex (netlink RTM_GETLINK) shows the same, with the real indexes", { policy: egress, cmd: probe("ifnameindex") }, (o) =>
  assert.equal(answer(o), SHOWN.map((i) => `${i.index}:${i.name}`).join(" ")),
);

securityCase("SIOCGIFCONF lists the visible interfaces with IPv4 addresses, and sizes the list for them", { policy: none, cmd: probe("ifconf") }, (o) =>
  assert.equal(answer(o), `need ${40 * LO.length} ${names(LO)}`),
);

const hiddenNoEgress = HOST.filter((i) => !i.loopback);
test("this host has an interface besides loopback (else nothing here can be hidden)", { skip: hiddenNoEgress.length === 0 ? "only loopback here" : false }, () => {
  assert.ok(hiddenNoEgress.length > 0);
});

for (const i of hiddenNoEgress.slice(0, 2)) {
  securityCase(
    `no egress: SIOCGIFINDEX/SIOCGIFNAME on ${i.name} say ENODEV; loopback answers (control)`,
    {
      policy: { fsReadable: ["${PROBE}", ...SYSTEM_RO] },
      cmd: ["/bin/sh", "-c", `"$0" ifreq ${i.name}; "$0" ifname ${i.index}; "$0" ifreq ${LO[0]!.name}; "$0" ifname ${LO[0]!.index}`, "${PROBE}"],
    },
    (o) => {
      const lines = (o.result?.stdout ?? "").split("\n");
      assert.deepEqual(lines.slice(0, 2), ["ENODEV", "ENODEV"]);
      assert.match(lines[2]!, /^index \d+ flags 0x[0-9a-f]+ mtu \d+$/);
      assert.equal(lines[3], LO[0]!.name);
    },
  );
}

for (const i of HIDDEN_ALWAYS.slice(0, 1)) {
  securityCase(`egress: an interface without a default route (${i.name}) stays hidden from ioctls`, { policy: { ...egress, fsReadable: ["${PROBE}", ...SYSTEM_RO] }, cmd: ["/bin/sh", "-c", `"$0" ifreq ${i.name}; "$0" ifname ${i.index}`, "${PROBE}"] }, (o) =>
    assert.equal(o.result?.stdout, "ENODEV\nENODEV\n"),
  );
}

securityCase(
  "netlink: bind, getsockname, dumps by sendto and by send, through a dup()ed number; changes EPERM, other lists EOPNOTSUPP",
  // The supervisor's netlink view (pinned): under the kernel view the socket is the kernel's
  // own in the sandbox's net namespace, which has only lo.
  { policy: { ...none, procView: "supervised" }, cmd: probe("netlink") },
  (o) => {
    const m = /^port pid len 12 links (\d+) (\d+) addrs (\d+) routes EOPNOTSUPP newlink EPERM peer EPERM$/.exec(answer(o));
    assert.ok(m, answer(o));
    assert.deepEqual([Number(m[1]), Number(m[2])], [LO.length, LO.length]);
    assert.ok(Number(m[3]) >= 1, "loopback's addresses");
  },
);

securityCase("interface changes are refused by the filter: SIOCSIFFLAGS on lo is EPERM", { policy: none, cmd: probe("ifset", LO[0]?.name ?? "lo") }, (o) => assert.equal(answer(o), "EPERM"));

test("control: outside a sandbox, root may set lo's flags (to what they are)", { skip: isRoot ? false : "tests are not running as root" }, async () => {
  const out = (await runScript("dist/test/scripts/net-bare.js", ["${PROBE}", "ifset", LO[0]?.name ?? "lo"], "root")) as { stdout: string };
  assert.equal(out.stdout, "ok\n");
});

scriptCase("control: outside a sandbox getifaddrs lists every interface of the host", "dist/test/scripts/net-bare.js", ["${PROBE}", "ifaddrs"], (out: { stdout: string }) => {
  assert.equal(out.stdout.trim(), names(HOST));
});

const system = { fsReadable: [...SYSTEM_RO] };
const IP = ["/usr/sbin/ip", "/sbin/ip", "/bin/ip"].find((p) => existsSync(p));

for (const [label, policy, want] of [["no egress", system, LO], ["egress", { ...system, netAllow: ["tcp://:443"] }, SHOWN]] as const) {
  const shown = want.map((i) => i.name);
  securityCase(`${label}: Node's os.networkInterfaces() and Python's socket.if_nameindex() show ${shown.join(", ")}`, {
    policy,
    cmd: ["/bin/sh", "-c", `"$0" -e 'console.log(Object.keys(require("os").networkInterfaces()).join(" "))'; /usr/bin/python3 -c 'import socket; print(" ".join(n for _, n in socket.if_nameindex()))'`, process.execPath],
  }, (o) => assert.equal(o.result?.stdout, `${shown.join(" ")}\n${shown.join(" ")}\n`));

  // iproute2 is installed by .ci/run; without it the case fails rather than vanish.
  securityCase(`${label}: ip link and ip addr show ${shown.join(", ")}`, { policy, cmd: ["/bin/sh", "-c", `"$0" -brief link; "$0" -brief addr`, IP ?? "/usr/sbin/ip (iproute2 is not installed)"] }, (o) => {
    const seen = (o.result?.stdout ?? "").split("\n").filter(Boolean).map((l) => l.split(/\s+/)[0]);
    assert.deepEqual(seen, [...shown, ...shown], o.result?.stderr ?? "");
  });
}

securityCase(
  "getaddrinfo with AI_ADDRCONFIG: without egress the sandbox looks like a host with loopback only (AF_INET: no name; AF_UNSPEC: found)",
  {
    policy: system,
    cmd: ["/usr/bin/python3", "-c", "import socket\nfor f in (socket.AF_INET, socket.AF_UNSPEC):\n  try: print(socket.getaddrinfo('localhost', 80, f, socket.SOCK_STREAM, 0, socket.AI_ADDRCONFIG)[0][4][0])\n  except socket.gaierror as e: print(e.errno == socket.EAI_NONAME)"],
  },
  (o) => assert.equal(o.result?.stdout, "True\n127.0.0.1\n"),
);
