// File-metadata cases: runs the probe's metadata calls (and real programs) inside
// sandboxes on files outside every grant, under a read-only grant and under the writable
// grant, reads each file's state from outside before and after, and runs the same calls
// unsandboxed as the positive control. Prints one JSON line.
// Usage: meta-case.js PROBE families|credentials|races|programs|links|bytes|host-ids|host-fds|fs-off|private

import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, closeSync, lchownSync, linkSync, mkdirSync, mkdtempSync, openSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Sandbox } from "../../src/index.js";

const probe = process.argv[2]!;
const part = process.argv[3];
const root = process.getuid!() === 0;
const base = mkdtempSync("/tmp/sandlock-meta-");
chmodSync(base, 0o755);
const dir = (name: string): string => {
  const d = join(base, name);
  mkdirSync(d, { recursive: true });
  return d;
};
const [OUT, RO, WRITE, BARE] = ["out", "ro", "write", "bare"].map(dir) as [string, string, string, string];
const policy = { fsReadable: [probe, RO], fsWritable: [WRITE] };
/** What programs need besides: their binaries, libraries and the user database. */
const system = ["/usr", "/bin", "/lib", "/lib64", "/etc"];

function probeOut(args: string[]): string {
  return execFileSync(probe, args).toString().trim();
}

/** The state of a file as the probe reads it from outside (mode, owner, times, xattrs, flags). */
function state(path: string): string {
  return probeOut(["meta-state", path]);
}

/** A file f and a symlink l to it in d, in the starting state meta-all is compared with;
 * as root, f and l get group 1, so a change of group to the caller's own (0) shows. */
function target(d: string): { f: string; l: string } {
  const f = join(d, "f");
  const l = join(d, "l");
  writeFileSync(f, "x\n");
  symlinkSync(f, l);
  probeOut(["meta-prep", f]);
  if (root) {
    chownSync(f, 0, 1);
    lchownSync(l, 0, 1);
  }
  return { f, l };
}

/** The view the last sandboxed run had (Sandbox.procView): the errno outside differs. */
let lastView: string | null = null;

async function sandboxed(cmd: string[], p: object = policy): Promise<string[]> {
  const r = await Sandbox.run(p, cmd, { timeout: 60_000 });
  lastView = r.procView;
  if (r.status !== "exited") throw new Error(`${cmd.join(" ")}: ${r.status} ${r.stderrText}`);
  return r.stdoutText.trim().split("\n");
}

function bare(cmd: string[]): string[] {
  return execFileSync(cmd[0]!, cmd.slice(1)).toString().trim().split("\n");
}

const lines = (ls: string[]): Record<string, string> => Object.fromEntries(ls.map((l) => l.split(" ") as [string, string]));

/** Every call once on a file of each place, and unsandboxed. */
async function families(): Promise<object> {
  const out: Record<string, object> = {};
  for (const [name, d] of [["out", OUT], ["ro", RO], ["write", WRITE], ["bare", BARE]] as const) {
    const { f, l } = target(d);
    const before = { f: state(f), l: state(l) };
    const cmd = [probe, "meta-all", f, l];
    // /proc granted: the /proc/self/fd re-opens (magic-*) are tried in either view (the
    // kernel view has no /proc without the grant).
    const calls = lines(name === "bare" ? bare(cmd) : await sandboxed(cmd, { ...policy, fsReadable: [...policy.fsReadable, "/proc"] }));
    out[name] = { calls, before, after: { f: state(f), l: state(l) } };
  }
  return { ...out, view: lastView };
}

/** What needs a capability: refused inside even when the supervisor holds it. */
async function credentials(): Promise<object> {
  const setup = (d: string): string[] => {
    const own = join(d, "own");
    writeFileSync(own, "x\n");
    chmodSync(own, 0o644);
    mkdirSync(`${own}.d`);
    chmodSync(`${own}.d`, 0o755);
    if (root) chownSync(own, 0, 1);
    if (root) chownSync(`${own}.d`, 0, 1);
    if (!root) return [own, "-", "-"];
    const foreign = join(d, "foreign");
    writeFileSync(foreign, "x\n");
    chownSync(foreign, 4242, 4242);
    const locked = join(d, "locked");
    mkdirSync(locked, { mode: 0o700 });
    writeFileSync(join(locked, "f"), "x\n");
    chownSync(locked, 4242, 4242);
    return [own, foreign, join(locked, "f")];
  };
  const inside = setup(WRITE);
  const control = setup(BARE);
  const result = {
    sandboxed: lines(await sandboxed([probe, "meta-privileged", ...inside])),
    bare: lines(bare([probe, "meta-privileged", ...control])),
    after: Object.fromEntries([...inside, `${inside[0]}.d`].filter((p) => p !== "-").map((p) => [p.slice(WRITE.length + 1), statSync(p).mode & 0o7777])),
  };
  for (const p of [inside[0]!, control[0]!]) probeOut(["meta-unflag", p]);
  return result;
}

/** Symlink swap, path-buffer rewrite and dup2 while another thread changes metadata. */
async function races(): Promise<object> {
  const inF = join(WRITE, "in");
  const outF = join(OUT, "oute");
  const roF = join(RO, "fd");
  for (const p of [inF, outF, roF]) {
    writeFileSync(p, "x\n");
    chmodSync(p, 0o644);
  }
  const before = { out: state(outF), ro: state(roF) };
  // Same length, as the buffer race needs: .../write/in and .../out/oute.
  const swap = await sandboxed([probe, "meta-swap-chmod", "3000", join(WRITE, "race"), inF, outF]);
  const buf = await sandboxed([probe, "meta-buf-setxattr", "3000", inF, outF]);
  const dup = await sandboxed([probe, "meta-dup2-fchmod", "3000", inF, roF]);
  return { swap: swap[0], buf: buf[0], dup: dup[0], before, after: { out: state(outF), ro: state(roF), in: state(inF) } };
}

/** chmod, touch -d, cp -p and tar -xf, as programs use them. */
async function programs(): Promise<object> {
  const src = join(RO, "src");
  mkdirSync(src);
  for (let i = 0; i < 20; i++) writeFileSync(join(src, `file${i}`), `content ${i}\n`);
  mkdirSync(join(src, "sub"));
  writeFileSync(join(src, "sub", "deep"), "deep\n");
  chmodSync(join(src, "file3"), 0o600);
  execFileSync("touch", ["-d", "2003-04-05 06:07:08", join(src, "file0"), join(src, "sub")]);
  const archive = join(RO, "a.tar");
  execFileSync("tar", ["-cf", archive, "-C", RO, "src"]);
  const victim = join(OUT, "victim");
  writeFileSync(victim, "x\n");
  chmodSync(victim, 0o644);
  const script = [
    `cd ${WRITE}`,
    `echo x > made; chmod 0700 made && echo chmod ok`,
    `touch -d "2001-02-03 04:05:06" made && echo touch ok`,
    `cp -p ${join(src, "file0")} copied && echo cp ok`,
    `mkdir x && tar -xf ${archive} -C x && echo tar ok`,
    `chmod 0777 ${victim} 2>/dev/null || echo chmod-outside refused`,
    `touch -d "2001-02-03" ${victim} 2>/dev/null || echo touch-outside refused`,
  ].join("; ");
  const out = await sandboxed(["/bin/sh", "-c", script], { fsReadable: [...system, RO], fsWritable: [WRITE] });
  const st = (p: string): { mode: number; mtime: number } => {
    const s = statSync(p);
    return { mode: s.mode & 0o7777, mtime: Math.floor(s.mtimeMs / 1000) };
  };
  return {
    out,
    made: st(join(WRITE, "made")),
    copied: st(join(WRITE, "copied")),
    source: st(join(src, "file0")),
    extracted: { file0: st(join(WRITE, "x", "src", "file0")), file3: st(join(WRITE, "x", "src", "file3")), sub: st(join(WRITE, "x", "src", "sub")) },
    victim: st(victim),
  };
}

/** Where a path leads: a symlink out of the grant, "..", a hard link into the grant,
 * /proc, a missing file. Each line "what ok|ERRNO". */
async function links(): Promise<object> {
  const t = (name: string): string => {
    const p = join(OUT, name);
    writeFileSync(p, "x\n");
    chmodSync(p, 0o644);
    return p;
  };
  const [t1, t2, t3] = [t("t1"), t("t2"), t("t3")];
  symlinkSync(t1, join(WRITE, "esc"));
  linkSync(t2, join(WRITE, "hard"));
  const cases: [string, string[]][] = [
    ["symlink-out-chmod", ["chmod", join(WRITE, "esc")]],
    ["symlink-out-lchown", ["lchown", join(WRITE, "esc"), join(WRITE, "esc")]],
    ["dotdot-chmod", ["chmod", `${WRITE}/../out/t3`]],
    ["hard-inside-chmod", ["chmod", join(WRITE, "hard")]],
    ["hard-outside-name-chmod", ["fchmodat", t2]],
    ["proc-self-chmod", ["chmod", "/proc/self/status"]],
    ["proc-1-chmod", ["chmod", "/proc/1/status"]],
    ["missing-inside", ["chmod", join(WRITE, "nope")]],
    ["missing-outside", ["chmod", join(OUT, "nope")]],
  ];
  const out: Record<string, string> = {};
  for (const [name, args] of cases) out[name] = (await sandboxed([probe, "meta", ...args]))[0]!;
  const mode = (p: string): number => statSync(p).mode & 0o7777;
  return { calls: out, modes: { t1: mode(t1), t2: mode(t2), t3: mode(t3) }, view: lastView };
}

/** The supervisor's own identities change while a sandbox runs (root only: setgroups):
 * its calls are then refused (EPERM) rather than made with identities the caller lacks;
 * back as they were, they work again. As the test user, only the unchanged case runs. */
async function hostIds(): Promise<object> {
  const f = join(WRITE, "f");
  writeFileSync(f, "x\n");
  const sb = new Sandbox(policy);
  await sb.spawn([probe, "meta-each-line", f], { stdin: "pipe", stdout: "pipe" });
  let text = "";
  sb.stdout!.on("data", (c: Buffer) => (text += c.toString()));
  const ask = async (): Promise<string> => {
    const seen = text.split("\n").length;
    sb.stdin!.write("go\n");
    for (let i = 0; i < 500 && text.split("\n").length === seen; i++) await new Promise((r) => setTimeout(r, 10));
    return text.split("\n")[seen - 1]!;
  };
  const out: Record<string, string> = { before: await ask() };
  if (root) {
    const groups = process.getgroups!();
    process.setgroups!([...groups, 4242]);
    try {
      out.changed = await ask();
    } finally {
      process.setgroups!(groups);
    }
    out.restored = await ask();
  }
  sb.stdin!.end();
  await sb.wait();
  return out;
}

/** Descriptors the host passed (a file as stdin, /dev/null for an ignored stdin) are
 * judged like any other: outside the writable grant refused, inside allowed. */
async function hostFds(): Promise<object> {
  const out: Record<string, object> = {};
  for (const [name, d] of [["out", OUT], ["write", WRITE]] as const) {
    const { f } = target(d);
    const before = state(f);
    const fd = openSync(f, "r");
    try {
      const r = await Sandbox.run(policy, [probe, "meta-stdin"], { stdin: fd });
      out[name] = { calls: lines(r.stdoutText.trim().split("\n")), before, after: state(f) };
    } finally {
      closeSync(fd);
    }
  }
  const nullBefore = statSync("/dev/null").mode;
  const r = await Sandbox.run(policy, [probe, "meta-stdin"]);
  out.devnull = { calls: lines(r.stdoutText.trim().split("\n")), unchanged: statSync("/dev/null").mode === nullBefore };
  return out;
}

/** Paths that are not UTF-8 reach the kernel as the bytes they are. */
async function bytes(): Promise<object> {
  return { line: (await sandboxed([probe, "meta-bytes", WRITE]))[0], mode: statSync(Buffer.concat([Buffer.from(`${WRITE}/`), Buffer.from([0xff, 0xfe])])).mode & 0o7777 };
}

/** With the filesystem protection disabled, nothing is trapped: the calls go as they are. */
async function fsOff(): Promise<object> {
  const { f, l } = target(OUT);
  const calls = lines(await sandboxed([probe, "meta-all", f, l], { fsReadable: [probe], protection: { disable: ["fs"] } }));
  return { calls, after: state(f) };
}

async function main(): Promise<void> {
  try {
    const parts: Record<string, () => Promise<object>> = {
      families, credentials, races, programs, links, bytes, "host-ids": hostIds, "host-fds": hostFds, "fs-off": fsOff,
      private: async () => ({ line: (await sandboxed([probe, "meta-private"]))[0] }),
    };
    const run = parts[part ?? ""];
    if (run === undefined) throw new Error(`meta-case: unknown part ${part}`);
    process.stdout.write(JSON.stringify({ root, ...(await run()) }) + "\n");
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}

void main();
