// What /proc/<pid>/net and /proc/sys/net show the sandbox (issue 9), file by file: lines of
// the interfaces it may see (plan/interface-view.ts), its own sockets, host-wide counters;
// every other /proc/net file names host interfaces and is refused. Pure.

/** How a /proc/net file is answered. */
export type NetFileRule =
  /** Lines of interfaces; `header` lines first; `name` finds a line's interface. */
  | { kind: "interfaces"; header: number; name: (fields: string[], line: string) => string | undefined }
  /** igmp: a line per interface ("IDX\tNAME : ...") followed by tab-indented group lines. */
  | { kind: "interface-blocks" }
  /** A socket table: one header line, the socket inode in column `inode`. */
  | { kind: "sockets"; inode: number }
  /** Host-wide counters with no interface or socket named: the kernel's file. */
  | { kind: "pass" };

const field = (i: number) => (f: string[]): string | undefined => f[i];

const RULES: Readonly<Record<string, NetFileRule>> = {
  dev: { kind: "interfaces", header: 2, name: (_, line) => (line.includes(":") ? line.slice(0, line.indexOf(":")).trim() : undefined) },
  if_inet6: { kind: "interfaces", header: 0, name: field(5) },
  route: { kind: "interfaces", header: 1, name: field(0) },
  ipv6_route: { kind: "interfaces", header: 0, name: field(9) },
  arp: { kind: "interfaces", header: 1, name: field(5) },
  dev_mcast: { kind: "interfaces", header: 0, name: field(1) },
  igmp6: { kind: "interfaces", header: 0, name: field(1) },
  anycast6: { kind: "interfaces", header: 0, name: field(1) },
  mcfilter: { kind: "interfaces", header: 1, name: field(1) },
  mcfilter6: { kind: "interfaces", header: 1, name: field(1) },
  igmp: { kind: "interface-blocks" },
  tcp: { kind: "sockets", inode: 9 },
  tcp6: { kind: "sockets", inode: 9 },
  udp: { kind: "sockets", inode: 9 },
  udp6: { kind: "sockets", inode: 9 },
  udplite: { kind: "sockets", inode: 9 },
  udplite6: { kind: "sockets", inode: 9 },
  raw: { kind: "sockets", inode: 9 },
  raw6: { kind: "sockets", inode: 9 },
  icmp: { kind: "sockets", inode: 9 },
  icmp6: { kind: "sockets", inode: 9 },
  unix: { kind: "sockets", inode: 6 },
  packet: { kind: "sockets", inode: 8 },
  netlink: { kind: "sockets", inode: 9 },
  snmp: { kind: "pass" },
  snmp6: { kind: "pass" },
  netstat: { kind: "pass" },
  sockstat: { kind: "pass" },
  sockstat6: { kind: "pass" },
  protocols: { kind: "pass" },
  psched: { kind: "pass" },
  softnet_stat: { kind: "pass" },
  rt6_stats: { kind: "pass" },
};

/** The rule for /proc/<pid>/net/<name>; undefined: refused (EACCES). */
export function netFileRule(name: string): NetFileRule | undefined {
  return Object.hasOwn(RULES, name) ? RULES[name] : undefined;
}

function lines(text: string): string[] {
  const all = text.split("\n");
  if (all[all.length - 1] === "") all.pop();
  return all;
}

function join(out: readonly string[]): string {
  return out.length === 0 ? "" : out.join("\n") + "\n";
}

/** The file's text with only the lines of visible interfaces (headers kept). */
export function filterInterfaces(text: string, rule: Extract<NetFileRule, { kind: "interfaces" }>, visible: ReadonlySet<string>): string {
  const all = lines(text);
  const out = all.slice(0, rule.header);
  for (const line of all.slice(rule.header)) {
    const name = rule.name(line.trim().split(/\s+/), line);
    if (name !== undefined && visible.has(name)) out.push(line);
  }
  return join(out);
}

/** /proc/net/igmp: the header, then each visible interface's line with its group lines. */
export function filterInterfaceBlocks(text: string, visible: ReadonlySet<string>): string {
  const all = lines(text);
  const out = all.slice(0, 1);
  let keep = false;
  for (const line of all.slice(1)) {
    if (!line.startsWith("\t") && !line.startsWith(" ")) keep = visible.has(line.trim().split(/\s+/)[1] ?? "");
    if (keep) out.push(line);
  }
  return join(out);
}

/** A socket table with only the sockets whose inode is in `own` (header kept). */
export function filterSockets(text: string, inodeColumn: number, own: { has(inode: number): boolean }): string {
  const table = new SocketLines(inodeColumn, own);
  return table.add(text) + table.end();
}

/** filterSockets on a table read in parts: each part's text as it comes (it may end inside
 * a line), each call giving the kept lines it completed, newline-terminated. */
export class SocketLines {
  #rest = "";
  #header = true;

  constructor(
    private readonly inodeColumn: number,
    private readonly own: { has(inode: number): boolean },
  ) {}

  add(text: string): string {
    const all = (this.#rest + text).split("\n");
    this.#rest = all.pop()!;
    return join(all.filter((line) => this.#kept(line)));
  }

  /** The last line's, if the text did not end with a newline. */
  end(): string {
    const last = this.#rest;
    this.#rest = "";
    return last !== "" && this.#kept(last) ? `${last}\n` : "";
  }

  #kept(line: string): boolean {
    if (!this.#header) return this.own.has(Number(line.trim().split(/\s+/)[this.inodeColumn]));
    this.#header = false;
    return true;
  }
}

/** Entries of every per-interface sysctl directory that name no interface. */
const SYSCTL_ALWAYS = new Set(["all", "default"]);

/**
 * rel (the path below a procfs mount, as components) goes into a per-interface sysctl
 * directory (sys/net/ipv4/conf, sys/net/ipv6/neigh, sys/net/mpls/conf...): the entry it
 * names there ("eth0", "all"), or "" for the directory itself; undefined elsewhere.
 */
export function sysctlInterfaceEntry(rel: readonly string[]): string | undefined {
  if (rel.length < 4 || rel[0] !== "sys" || rel[1] !== "net" || (rel[3] !== "conf" && rel[3] !== "neigh")) return undefined;
  return rel[4] ?? "";
}

/** Whether an entry of a per-interface sysctl directory is shown. */
export function sysctlEntryShown(name: string, visible: ReadonlySet<string>): boolean {
  return SYSCTL_ALWAYS.has(name) || name === "." || name === ".." || visible.has(name);
}
