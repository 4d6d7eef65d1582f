// Learn mode's pure parts: the profile suggested from a record (against a fake host), the
// DNS question reader, the profile text, and the learn command's argument errors.

import assert from "node:assert/strict";
import { test } from "node:test";
import { Observed, dnsQuestion, MAX_ENTRIES, MAX_PATH_BYTES } from "../../src/learn/observed.js";
import { suggest, type SuggestContext } from "../../src/learn/suggest.js";
import { profileText, reportText } from "../../src/learn/render.js";
import { parseLearnArgs } from "../../src/cli/learn.js";
import { addressesOf } from "../../src/learn/run.js";
import type { PresetHost } from "../../src/policy/presets.js";

/** A host with these paths; a path ending in "/" is a directory. */
function host(entries: readonly string[]): PresetHost {
  const dirs = new Set(entries.filter((e) => e.endsWith("/")).map((e) => e.slice(0, -1)));
  const all = new Set(entries.map((e) => (e.endsWith("/") ? e.slice(0, -1) : e)));
  const has = (p: string): boolean => (p.endsWith("/") ? dirs.has(p.slice(0, -1)) : all.has(p));
  return {
    exists: has,
    realpath: (p) => (all.has(p) ? p : undefined),
    isSymlink: () => false,
    list: (d) => [...all].filter((p) => p.startsWith(`${d}/`) && !p.slice(d.length + 1).includes("/")).map((p) => p.slice(d.length + 1)),
  };
}

const HOST = host([
  "/usr/", "/usr/lib/", "/usr/bin/", "/usr/bin/python3", "/usr/lib/libc.so.6", "/etc/ld.so.cache", "/etc/passwd", "/etc/shadow", "/etc/custom.conf",
  "/proc/", "/dev/null", "/dev/tty", "/dev/shm/", "/opt/", "/opt/data/", "/opt/data/a.csv", "/opt/tool/", "/opt/tool/bin/", "/opt/tool/bin/t",
  "/home/u/", "/home/u/.ssh/", "/home/u/.ssh/id_ed25519", "/home/u/.gitconfig", "/home/u/.cache/", "/home/u/.cache/pip/", "/home/u/.cache/pip/x",
  "/work/p/", "/work/p/src/", "/work/p/src/main.c", "/tmp/", "/tmp/sandlock-tmp-ab12/", "/tmp/sandlock-tmp-ab12/tmp/",
]);

const CTX: SuggestContext = { cwd: "/work/p", home: "/home/u", writable: ["/dev/null", "/dev/tty"], host: HOST, tmpRoot: "/tmp" };

function observed(files: Record<string, readonly ("read" | "write" | "exec" | "list")[]>): Observed {
  const o = new Observed();
  for (const [p, access] of Object.entries(files)) for (const a of access) (a === "exec" ? o.exec(p) : o.file(p, a));
  return o;
}

test("a program that reads only libraries and its project extends minimal", () => {
  const s = suggest(observed({ "/usr/lib/libc.so.6": ["read"], "/etc/ld.so.cache": ["read"], "/work/p/src/main.c": ["read"] }), CTX);
  assert.equal(s.base, "minimal");
  assert.deepEqual(s.read, ["/work/p"]);
  assert.deepEqual(s.write, []);
});

test("system paths make the base system; the rest is collapsed: a file's directory, /etc one file at a time, a home by its first entries", () => {
  const s = suggest(observed({
    "/usr/bin/python3": ["exec"], "/opt/data/a.csv": ["read"], "/etc/custom.conf": ["read"], "/home/u/.gitconfig": ["read"],
    "/home/u/.cache/pip/x": ["read"], "/opt/tool/bin/t": ["exec"], "/opt/data/": ["list"],
  }), CTX);
  assert.equal(s.base, "system");
  // /opt is in the system preset on a host that has it: nothing under it is listed.
  assert.deepEqual(s.read, ["/etc/custom.conf", "/home/u/.cache/pip", "/home/u/.gitconfig"]);
});

test("secrets are never suggested, even read through a home, and are reported", () => {
  const s = suggest(observed({ "/etc/shadow": ["read"], "/home/u/.ssh/id_ed25519": ["read"], "/home/u/.ssh": ["list"], "/etc/passwd": ["read"] }), CTX);
  assert.deepEqual(s.secrets, ["/etc/shadow", "/home/u/.ssh", "/home/u/.ssh/id_ed25519"]);
  assert.ok(![...s.read, ...s.write].some((p) => p.includes("shadow") || p.includes(".ssh")));
});

test("paths that no longer exist are left out; /proc brings the system base", () => {
  const s = suggest(observed({ "/usr/lib/libnothere.so": ["read"], "/proc/self/status": ["read"] }), CTX);
  assert.equal(s.base, "system");
  assert.deepEqual(s.read, []);
});

test("writes: the project when written, a private TMPDIR as private_tmp, /dev nodes, outside the writable paths refused", () => {
  const s = suggest(observed({
    "/work/p/out/new.o": ["write"], "/tmp/sandlock-tmp-ab12/tmp/x": ["write"], "/dev/null": ["write"], "/opt/data/a.csv": ["write"], "/dev/shm/sem.xyz": ["write"],
  }), CTX);
  assert.deepEqual(s.write, ["/dev/null", "/work/p"]);
  assert.equal(s.privateTmp, true);
  assert.deepEqual(s.refusedWrites, ["/dev/shm", "/opt/data"]);
  // -w /dev/shm while learning: a semaphore's per-run name becomes its directory.
  const w = suggest(observed({ "/dev/shm/sem.xyz": ["write"] }), { ...CTX, writable: [...CTX.writable, "/dev/shm"] });
  assert.deepEqual(w.write, ["/dev/shm"]);
  assert.deepEqual(w.refusedWrites, []);
});

test("destinations by the name the run looked up; DNS itself only while some destination has no name", () => {
  const o = new Observed();
  o.destination({ protocol: "tcp", address: "203.0.113.80", port: 443 });
  o.destination({ protocol: "udp", address: "10.0.0.2", port: 53 });
  o.name("registry.npmjs.org");
  const named = suggest(o, { ...CTX, addresses: new Map([["registry.npmjs.org", ["203.0.113.80"]]]) });
  assert.deepEqual(named.netAllow, ["tcp://registry.npmjs.org:443"]);
  const unnamed = suggest(o, { ...CTX, addresses: new Map() });
  assert.deepEqual(unnamed.netAllow, ["tcp://203.0.113.80:443", "udp://10.0.0.2:53"]);
  o.binds.add(0);
  o.binds.add(8080);
  assert.deepEqual(suggest(o, CTX).allowBind, [8080]);
});

test("the record is bounded: past MAX_ENTRIES paths it counts what it dropped", () => {
  const o = new Observed();
  for (let i = 0; i < MAX_ENTRIES + 3; i++) o.file(`/x/${i}`, "read");
  assert.equal(o.files.size, MAX_ENTRIES);
  assert.equal(o.dropped, 3);
});

test("the record's paths are bounded in bytes: 4,000-byte paths stop at 64 MiB, the rest counted as dropped; an exec is kept with its path", () => {
  const o = new Observed();
  const long = (i: number): string => `/${String(i).padStart(8, "0")}/${"a".repeat(3990)}`;
  const fit = Math.floor(MAX_PATH_BYTES / long(0).length);
  for (let i = 0; i < fit + 5; i++) o.file(long(i), "read");
  assert.equal(o.files.size, fit);
  assert.equal(o.dropped, 5);
  o.exec(long(fit + 10));
  assert.equal(o.execs.size, 0, "an exec whose path was not kept is not kept either");
  assert.equal(o.dropped, 6);
  const short = new Observed();
  short.exec("/bin/true");
  assert.deepEqual([...short.execs], [["/bin/true", 1]]);
});

/** A resolver's query for name (RFC 1035: id, flags RD, one question, type A, class IN). */
function query(name: string, flags = 0x0100, questions = 1): Buffer {
  const labels = name.split(".").map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
  const header = Buffer.alloc(12);
  header.writeUInt16BE(0x1234, 0);
  header.writeUInt16BE(flags, 2);
  header.writeUInt16BE(questions, 4);
  return Buffer.concat([header, ...labels, Buffer.from([0, 0, 1, 0, 1])]);
}

test("dnsQuestion reads a standard query's name and nothing else", () => {
  assert.equal(dnsQuestion(query("registry.npmjs.org")), "registry.npmjs.org");
  assert.equal(dnsQuestion(query("example.com", 0x8180)), undefined, "a response");
  assert.equal(dnsQuestion(query("example.com", 0x0100, 2)), undefined, "two questions");
  assert.equal(dnsQuestion(query("example.com").subarray(0, 20)), undefined, "cut short");
  assert.equal(dnsQuestion(Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n")), undefined);
  assert.equal(dnsQuestion(query("bad label.com")), undefined);
});

test("the profile text: extends, the command, sections only when they have keys", () => {
  const s = suggest(observed({ "/opt/tool/bin/t": ["exec"], "/work/p/a": ["write"] }), CTX);
  const text = profileText(s, { cmd: ["make", "-j2", "it's"], cwd: "/work/p", when: "2026-12-01" });
  assert.equal(text, [
    "# Written by sandlock learn on 2026-12-01 from one run of:",
    "#   make -j2 'it'\\''s'",
    "# Review it before use: it allows what that run did, no more.",
    'extends = "system"',
    "",
    "[program]",
    'exec = "make"',
    'args = ["-j2", "it\'s"]',
    'cwd = "/work/p"',
    "",
    "[filesystem]",
    'write = ["/work/p"]',
    "protected_files = true",
    "",
  ].join("\n"));
  const report = reportText(observed({ "/usr/bin/python3": ["exec"], "/usr/local/bin/python3": ["exec"] }), s, "the command exited 0", (p) => p === "/usr/bin/python3");
  assert.match(report, /ran 1 program: \/usr\/bin\/python3;/, "a PATH search's misses are not programs that ran");
});

test("writes through a link the command made in a -w directory: judged where they land, never proposed as the link", () => {
  const base = host(["/out/", "/out/sub/", "/out/sub/ok", "/victim/", "/work/p/"]);
  const links: Record<string, string> = { "/out/l": "/victim" };
  const to = (p: string): string => {
    for (const [l, t] of Object.entries(links)) if (p === l || p.startsWith(`${l}/`)) return t + p.slice(l.length);
    return p;
  };
  const h: PresetHost = { ...base, exists: (p) => base.exists(to(p)), realpath: (p) => base.realpath(to(p)), isSymlink: (p) => p in links };
  const ctx = { ...CTX, host: h, writable: [...CTX.writable, "/out"] };
  const s = suggest(observed({ "/out/l/pwn": ["write"], "/out/sub/ok": ["write"] }), ctx);
  assert.deepEqual(s.write, ["/out/sub"]);
  assert.deepEqual(s.refusedWrites, ["/victim"]);
  // Making, moving or removing the link itself is a write in its directory.
  assert.deepEqual(suggest(observed({ "/out/l": ["write"] }), ctx).write, ["/out"]);
});

test("the profile text: names the command chose are TOML escapes, the command stays on its comment line", () => {
  const s = suggest(observed({ "/work/p/a": ["write"] }), CTX);
  const text = profileText({ ...s, write: ["/work/p/d\x7f\u202e\u009b"] }, { cmd: ["sh", "-c", "true\n[network]\nallow = [\"*\"]"], cwd: "/work/p", when: "2026-12-01" });
  assert.ok(text.includes('write = ["/work/p/d\\u007f\\u202e\\u009b"]'), text);
  assert.ok(text.includes("#   sh -c 'true\\u{A}[network]\\u{A}allow = [\"*\"]'\n"), text);
  assert.doesNotMatch(text, /^\[network\]/m);
  assert.doesNotMatch(text, /[\x7f\u009b\u202e]/);
});

test("the report: names the command chose are printable, lists are cut at 20", () => {
  const seen = observed({ "/work/p/x\x1b]52;c;SGVsbG8=\x07\nsandlock learn: forged": ["exec"] });
  const s = { ...suggest(seen, CTX), secrets: ["/work/p/s\u202e\u009b"], read: Array.from({ length: 25 }, (_, i) => `/opt/d${i}`) };
  const report = reportText(seen, s, "the command exited 0", () => true);
  assert.doesNotMatch(report, /[\x1b\x07\u009b\u202e]/);
  assert.doesNotMatch(report, /^sandlock learn: forged/m);
  assert.ok(report.includes("/work/p/x\\u{1B}]52;c;SGVsbG8=\\u{7}\\u{A}sandlock learn: forged"), report);
  assert.ok(report.includes("secrets: /work/p/s\\u{202E}\\u{9B}"), report);
  assert.ok(report.includes("/opt/d19, and 5 more"), report);
});

test("learn's arguments: every mistake named", () => {
  const bad: [string[], RegExp][] = [
    [[], /sandlock learn: no command: give one after "--"/],
    [["-e", "ls", "--", "ls"], /give either -e "..." or a command after "--", not both/],
    [["-o", "a.toml", "--save", "x", "--", "ls"], /give -o FILE or --save NAME, not both/],
    [["-o", "", "--", "ls"], /--output/],
    [["--fs-write", "", "--", "ls"], /--fs-write/],
    [["--env", "NOEQUALS", "--", "ls"], /--env/],
    [["-t", "soon", "--", "ls"], /--timeout/],
    [["--no-net", "--", "ls"], /sandlock learn: unknown flag --no-net/],
    [["--fs-wrte", "x", "--", "ls"], /unknown flag --fs-wrte \(did you mean --fs-write\?\)/],
  ];
  for (const [argv, message] of bad) assert.throws(() => parseLearnArgs(argv), message, argv.join(" "));
  const ok = parseLearnArgs(["-w", "out", "--no-network", "-e", "make all"]);
  assert.ok(ok !== "help");
  assert.deepEqual(ok.cmd, ["/bin/sh", "-c", "make all"]);
  assert.deepEqual(ok.writable, ["out"]);
  assert.equal(ok.network, false);
  assert.equal(parseLearnArgs(["--help"]), "help");
});

test("the names a run looked up are looked up again at most 4 at a time, and none starts after the deadline", async () => {
  // A resolver that never answers: the names are the command's (up to 200,000 recorded);
  // every lookup started is one the host cannot cancel.
  let started = 0;
  const never = (): Promise<readonly string[]> => {
    started++;
    return new Promise(() => undefined);
  };
  const names = Array.from({ length: 10_000 }, (_, i) => `n${i}.example.test`);
  const t0 = Date.now();
  const got = await addressesOf(names, never, 100);
  assert.ok(Date.now() - t0 < 2000, "returns at the deadline");
  assert.equal(started, 4);
  assert.equal(got.size, 0);
  // Answered at once: every name gets its addresses.
  const all = await addressesOf(names.slice(0, 50), async (n) => [`192.0.2.${n.length}`], 5000);
  assert.equal(all.size, 50);
});
