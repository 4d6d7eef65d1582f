// What the sandbox sees of the host's mounts and network (issue 9), as pure functions: the
// interface scope of a policy, the default-route interfaces of the route tables, the
// mount-table and /proc/net filters, and which process files are served filtered.

import assert from "node:assert/strict";
import { test } from "node:test";
import { defaultRouteInterfaces, interfaceScope } from "../../src/plan/interface-view.js";
import { selectInterfaces } from "../../src/supervise/interface-view.js";
import { parseNetRule } from "../../src/policy/net-rule.js";
import { virtualProcFile } from "../../src/supervise/handlers/procfs-virtual.js";
import { filterMountinfo, filterMounts, filterMountstats, mountReached } from "../../src/supervise/proc-mounts.js";
import { filterInterfaceBlocks, filterInterfaces, filterSockets, netFileRule, SocketLines, sysctlEntryShown, sysctlInterfaceEntry } from "../../src/supervise/proc-net.js";

const rules = (...raw: string[]) => raw.map((r) => parseNetRule("netAllow", r));

test("interface scope: loopback-only rules keep lo alone; any rule beyond this host, or a denylist, adds the default routes", () => {
  const scope = (allow: string[], deny: string[] = [], resolved = new Map<string, string[]>()) =>
    interfaceScope({ netAllow: rules(...allow), netDeny: deny.map((r) => parseNetRule("netDeny", r)) }, resolved);
  assert.equal(scope([]), "loopback");
  assert.equal(scope(["127.0.0.1:80", "tcp://[::1]:443", "127.0.0.0/8:22", "[::ffff:127.0.0.1]:5", "0.0.0.0:9"]), "loopback");
  assert.equal(scope(["localhost:80"], [], new Map([["localhost", ["127.0.0.1", "::1"]]])), "loopback");
  assert.equal(scope(["ghost.invalid:80"], [], new Map([["ghost.invalid", []]])), "loopback", "a name that resolved to nothing allows nothing");
  assert.equal(scope(["127.0.0.1:80", "192.0.2.1:443"]), "egress");
  assert.equal(scope(["tcp://:443"]), "egress", "a port rule reaches any address");
  assert.equal(scope(["126.0.0.0/7:80"]), "egress", "a prefix wider than 127/8");
  assert.equal(scope(["example.com:443"], [], new Map([["example.com", ["93.184.216.34"]]])), "egress");
  assert.equal(scope([], ["10.0.0.0/8"]), "egress", "a denylist allows everything else");
});

const ROUTE = [
  "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT",
  "eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0",
  "eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0",
  "wg0\t00000000\t00000000\t0201\t0\t0\t0\t00000000\t0\t0\t0", // a reject route
  "tun0\t0000000A\t00000000\t0001\t0\t0\t0\t000000FF\t0\t0\t0",
].join("\n");
const ROUTE6 = [
  "fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0",
  "00000000000000000000000000000000 00 00000000000000000000000000000000 00 fd000000000000000000000000000001 00000400 00000002 00000000 00000003     eth1",
  "00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo",
].join("\n");

test("default-route interfaces: IPv4 and IPv6 defaults that are up and not reject routes, never lo", () => {
  assert.deepEqual(defaultRouteInterfaces(ROUTE, ROUTE6).sort(), ["eth0", "eth1"]);
  assert.deepEqual(defaultRouteInterfaces("", ""), []);
  const host = [{ name: "lo", index: 1, loopback: true }, { name: "eth0", index: 2, loopback: false }, { name: "eth1", index: 3, loopback: false }, { name: "ifb0", index: 4, loopback: false }];
  assert.deepEqual([...selectInterfaces("loopback", host, new Set(["eth0"])).names], ["lo"]);
  assert.deepEqual([...selectInterfaces("egress", host, new Set(defaultRouteInterfaces(ROUTE, ROUTE6))).names], ["lo", "eth0", "eth1"]);
});

const MOUNTINFO = [
  "22 27 0:21 / /proc rw,relatime - proc proc rw",
  "23 27 0:22 / /sys rw,relatime - sysfs sysfs rw",
  "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw",
  "28 27 0:25 / /home/a\\040b rw - tmpfs tmpfs rw",
  "29 28 0:26 / /home/a\\040b/inner rw - tmpfs tmpfs rw",
  "30 27 0:27 / /homeless rw - tmpfs tmpfs rw",
  "31 22 0:28 / /proc/sys/fs/binfmt_misc rw - binfmt_misc binfmt_misc rw",
].join("\n") + "\n";

test("mount tables keep the mounts at or above a grant and below one, matched on unescaped paths and whole components", () => {
  assert.ok(mountReached("/", ["/usr/bin"]));
  assert.ok(mountReached("/usr", ["/usr/bin"]));
  assert.ok(!mountReached("/us", ["/usr/bin"]));
  assert.ok(mountReached("/usr/bin/x", ["/usr/bin"]));
  const points = (text: string) => text.trim().split("\n").map((l) => l.split(" ")[4]);
  assert.deepEqual(points(filterMountinfo(MOUNTINFO, ["/home/a b/work", "/proc"])), ["/proc", "/", "/home/a\\040b", "/proc/sys/fs/binfmt_misc"]);
  assert.deepEqual(points(filterMountinfo(MOUNTINFO, ["/home/a b"])), ["/", "/home/a\\040b", "/home/a\\040b/inner"]);
  assert.equal(filterMountinfo(MOUNTINFO, ["/"]), MOUNTINFO, "a / grant reaches every mount");
  assert.equal(filterMountinfo(MOUNTINFO, []), "", "no grant, no mount");
  const mounts = "proc /proc proc rw 0 0\n/dev/vda / ext4 rw 0 0\nsysfs /sys sysfs rw 0 0\n";
  assert.equal(filterMounts(mounts, ["/proc"]), "proc /proc proc rw 0 0\n/dev/vda / ext4 rw 0 0\n");
});

test("mountstats keeps each reached mount's block, NFS lines included, and 'no device' lines are parsed too", () => {
  const text = [
    "device proc mounted on /proc with fstype proc",
    "device srv:/export mounted on /mnt/nfs with fstype nfs4 statvers=1.1",
    "\topts:\trw,vers=4.2",
    "\tage:\t12",
    "no device mounted on /data with fstype tmpfs",
    "device /dev/vda mounted on / with fstype ext4",
  ].join("\n");
  assert.equal(filterMountstats(text, ["/mnt/nfs/x"]), ["device srv:/export mounted on /mnt/nfs with fstype nfs4 statvers=1.1", "\topts:\trw,vers=4.2", "\tage:\t12", "device /dev/vda mounted on / with fstype ext4"].join("\n") + "\n");
  assert.equal(filterMountstats(text, ["/data"]), "no device mounted on /data with fstype tmpfs\ndevice /dev/vda mounted on / with fstype ext4\n");
});

const lo = new Set(["lo"]);

test("/proc/net interface files keep their headers and the visible interfaces' lines", () => {
  const dev = [
    "Inter-|   Receive                                                |  Transmit",
    " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed",
    "    lo:   36081     903    0    0    0     0          0         0    36081     903    0    0    0     0       0          0",
    "  ifb0:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0",
    "  eth0:160900341    6052    0    0    0     0          0         0   305557    4033    0    0    0     0       0          0",
  ];
  const rule = netFileRule("dev");
  assert.equal(rule?.kind, "interfaces");
  if (rule?.kind !== "interfaces") return;
  assert.equal(filterInterfaces(dev.join("\n") + "\n", rule, lo), [...dev.slice(0, 3)].join("\n") + "\n");
  assert.equal(filterInterfaces(dev.join("\n") + "\n", rule, new Set(["lo", "eth0"])), [...dev.slice(0, 3), dev[4]].join("\n") + "\n", "eth0 glued to its counters");
  const inet6 = "00000000000000000000000000000001 01 80 10 80       lo\nfe8000000000000000fc00fffe000001 04 40 20 80     eth0\n";
  const r6 = netFileRule("if_inet6");
  if (r6?.kind !== "interfaces") return assert.fail("if_inet6 is an interface file");
  assert.equal(filterInterfaces(inet6, r6, lo), "00000000000000000000000000000001 01 80 10 80       lo\n");
  const arp = "IP address       HW type     Flags       HW address            Mask     Device\n192.0.2.1        0x1         0x2         02:fc:00:00:00:05     *        eth0\n";
  const ra = netFileRule("arp");
  if (ra?.kind !== "interfaces") return assert.fail("arp is an interface file");
  assert.equal(filterInterfaces(arp, ra, lo), "IP address       HW type     Flags       HW address            Mask     Device\n");
});

test("/proc/net/igmp keeps each visible interface with its group lines", () => {
  const igmp = "Idx\tDevice    : Count Querier\tGroup    Users Timer\tReporter\n1\tlo        :     1      V3\n\t\t\t\t010000E0     1 0:00000000\t\t0\n4\teth0      :     1      V3\n\t\t\t\t010000E0     1 0:00000000\t\t0\n";
  assert.equal(filterInterfaceBlocks(igmp, lo), "Idx\tDevice    : Count Querier\tGroup    Users Timer\tReporter\n1\tlo        :     1      V3\n\t\t\t\t010000E0     1 0:00000000\t\t0\n");
});

test("socket tables keep the header and the sockets whose inode is the sandbox's", () => {
  const tcp = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1111 1 0000000000000000 100 0 0 10 0\n   1: 0100007F:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2222 1 0000000000000000 100 0 0 10 0\n";
  const rule = netFileRule("tcp");
  if (rule?.kind !== "sockets") return assert.fail("tcp is a socket table");
  assert.equal(filterSockets(tcp, rule.inode, new Set([2222])), tcp.split("\n")[0] + "\n" + tcp.split("\n")[2] + "\n");
  const unix = "Num       RefCount Protocol Flags    Type St Inode Path\n00000000e48b4065: 00000003 00000000 00000000 0001 03   130 /run/dbus/system_bus_socket\n00000000724911f3: 00000002 00000000 00010000 0001 01   131\n";
  const ru = netFileRule("unix");
  if (ru?.kind !== "sockets") return assert.fail("unix is a socket table");
  assert.equal(filterSockets(unix, ru.inode, new Set([131])), "Num       RefCount Protocol Flags    Type St Inode Path\n00000000724911f3: 00000002 00000000 00010000 0001 01   131\n");
  assert.equal(filterSockets(unix, ru.inode, new Set()), "Num       RefCount Protocol Flags    Type St Inode Path\n");
});

test("a socket table read in parts of any size keeps exactly the lines read whole keeps", () => {
  const ru = netFileRule("unix");
  if (ru?.kind !== "sockets") return assert.fail("unix is a socket table");
  const rows = Array.from({ length: 300 }, (_, i) => `00000000724911f3: 00000002 00000000 00010000 0001 01 ${1000 + i}${i % 7 === 0 ? " /tmp/s" + i : ""}`);
  const own = new Set(rows.map((_, i) => 1000 + i).filter((ino) => ino % 3 === 0));
  for (const ending of ["\n", ""]) {
    const text = "Num       RefCount Protocol Flags    Type St Inode Path\n" + rows.join("\n") + ending;
    const whole = filterSockets(text, ru.inode, own);
    assert.equal(whole.split("\n").length - 1, 1 + 100, "the header and every third socket");
    for (const size of [1, 7, 64, 1000, text.length]) {
      const parts = new SocketLines(ru.inode, own);
      let out = "";
      for (let at = 0; at < text.length; at += size) out += parts.add(text.slice(at, at + size));
      out += parts.end();
      assert.equal(out, whole, `parts of ${size} characters, text ending ${JSON.stringify(ending)}`);
    }
  }
});

test("which process files are filtered copies, which pass, which are refused", () => {
  assert.deepEqual(virtualProcFile(["mountinfo"]), { kind: "mounts", file: "mountinfo" });
  assert.deepEqual(virtualProcFile(["task", "12", "mounts"]), { kind: "mounts", file: "mounts" });
  assert.equal(virtualProcFile(["net", "dev"])?.kind, "net");
  assert.equal(virtualProcFile(["task", "12", "net", "tcp6"])?.kind, "net");
  assert.deepEqual(virtualProcFile(["net", "fib_trie"]), { kind: "refused" });
  assert.deepEqual(virtualProcFile(["net", "dev_snmp6", "lo"]), { kind: "refused" });
  assert.deepEqual(virtualProcFile(["net", "dev", "x"]), { kind: "refused" });
  assert.deepEqual(virtualProcFile(["net", "constructor"]), { kind: "refused" }, "no prototype lookup");
  assert.equal(virtualProcFile(["net"]), undefined, "the directory itself");
  assert.equal(virtualProcFile(["net", "snmp"]), undefined, "host-wide counters pass");
  assert.equal(virtualProcFile(["status"]), undefined);
  assert.equal(virtualProcFile(["task", "mountinfo"]), undefined);
});

test("per-interface sysctl directories: which paths go into them, which entries are shown", () => {
  assert.equal(sysctlInterfaceEntry(["sys", "net", "ipv4", "conf"]), "");
  assert.equal(sysctlInterfaceEntry(["sys", "net", "ipv6", "neigh", "eth0"]), "eth0");
  assert.equal(sysctlInterfaceEntry(["sys", "net", "ipv4", "conf", "eth0", "forwarding"]), "eth0");
  assert.equal(sysctlInterfaceEntry(["sys", "net", "mpls", "conf", "eth1"]), "eth1");
  assert.equal(sysctlInterfaceEntry(["sys", "net", "ipv4", "route"]), undefined);
  assert.equal(sysctlInterfaceEntry(["sys", "kernel", "x", "conf"]), undefined);
  assert.equal(sysctlInterfaceEntry(["net", "dev"]), undefined);
  for (const name of ["all", "default", "lo", ".", ".."]) assert.ok(sysctlEntryShown(name, lo), name);
  assert.ok(!sysctlEntryShown("eth0", lo));
  assert.ok(sysctlEntryShown("eth0", new Set(["lo", "eth0"])));
});
