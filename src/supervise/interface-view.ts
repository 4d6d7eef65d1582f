// Which host network interfaces a sandbox sees: loopback always; with egress beyond
// loopback, also the interfaces that carry a default route (IPv4 or IPv6), under their real
// names, indexes and addresses. Every other interface is hidden. One module for every view
// of interfaces (netlink, ioctls, /proc/net) so they always agree.

import { readFileSync, readdirSync } from "node:fs";
import { defaultRouteInterfaces, type InterfaceScope } from "../plan/interface-view.js";

export interface HostInterface {
  readonly name: string;
  readonly index: number;
  readonly loopback: boolean;
}

export interface InterfaceView {
  readonly byIndex: ReadonlyMap<number, string>;
  readonly names: ReadonlySet<string>;
}

const IFF_LOOPBACK = 0x8;

/** The rule, on facts: pure, so every view can be checked without a host. */
export function selectInterfaces(scope: InterfaceScope, all: readonly HostInterface[], defaultRoutes: ReadonlySet<string>): InterfaceView {
  const byIndex = new Map<number, string>();
  for (const i of all) {
    if (i.loopback || (scope === "egress" && defaultRoutes.has(i.name))) byIndex.set(i.index, i.name);
  }
  return { byIndex, names: new Set(byIndex.values()) };
}

function readOr(path: string): string {
  try {
    return readFileSync(path, "latin1");
  } catch {
    return "";
  }
}

/** This host's interfaces, from /sys/class/net (an interface that goes while it is read is
 * skipped). */
export function hostInterfaces(): HostInterface[] {
  let names: string[];
  try {
    names = readdirSync("/sys/class/net");
  } catch {
    return [];
  }
  const out: HostInterface[] = [];
  for (const name of names) {
    const index = Number(readOr(`/sys/class/net/${name}/ifindex`).trim());
    const flags = Number(readOr(`/sys/class/net/${name}/flags`).trim());
    if (Number.isInteger(index) && index > 0) out.push({ name, index, loopback: (flags & IFF_LOOPBACK) !== 0 });
  }
  return out;
}

/** The view right now: interfaces and routes change, so it is read at each question. */
export function visibleInterfaces(scope: InterfaceScope): InterfaceView {
  const routes = scope === "egress" ? new Set(defaultRouteInterfaces(readOr("/proc/net/route"), readOr("/proc/net/ipv6_route"))) : new Set<string>();
  return selectInterfaces(scope, hostInterfaces(), routes);
}

/** The interface an ifreq name or an address label ("eth0:1") belongs to. */
export function baseName(label: string): string {
  const colon = label.indexOf(":");
  return colon >= 0 ? label.slice(0, colon) : label;
}
