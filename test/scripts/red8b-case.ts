// The eighth security review, part B (test/integration/redteam8b.test.ts): what a sandbox
// leaves behind for the host (set-id files, line disciplines on its terminal, extended
// attributes) and the kernel view's constructed root, in both views, each with its positive
// control. Prints one JSON line. Usage: red8b-case.js PART
// Parts: setid-create, ldisc, held, self-write, init-environ

import { spawn } from "node:child_process";
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Sandbox } from "../../src/index.js";
import { ptyRunner } from "../helpers/pty-runner.js";
import { CLI, ROOT, SYSTEM_RO } from "../helpers/system.js";

const part = process.argv[2]!;
const base = mkdtempSync("/tmp/sandlock-red8b-");
chmodSync(base, 0o755);
const PY = "/usr/bin/python3";
const VIEWS = [["1", "kernel"], ["0", "supervised"]] as const;

/** A helper program of the case, readable by the sandbox. */
function helper(name: string, text: string): string {
  const file = join(base, name);
  writeFileSync(file, text, { mode: 0o644 });
  return file;
}

/** A fresh writable directory for one run. */
function writable(name: string): string {
  const dir = join(base, name);
  mkdirSync(dir, { mode: 0o777 });
  chmodSync(dir, 0o777);
  return dir;
}

function run(cmd: string, args: string[], opts: { stdin?: "ignore" } = {}): Promise<string> {
  return new Promise((resolve) => {
    const c = spawn(cmd, args, { stdio: [opts.stdin ?? "ignore", "pipe", "pipe"] });
    let out = "";
    c.stdout!.on("data", (d) => (out += d));
    c.stderr!.on("data", (d) => (out += d));
    c.once("close", () => resolve(out.trim()));
  });
}

async function inside(view: string, script: string, args: string[], w: string, extra: object = {}): Promise<{ view: string; out: string }> {
  process.env.SANDLOCK_KERNEL_VIEW = view;
  const r = await Sandbox.run({ fsReadable: [...SYSTEM_RO, base], fsWritable: [w, "/dev/null"], ...extra }, [PY, script, ...args]);
  return { view: String(r.procView), out: (r.stdoutText + r.stderrText).trim() };
}

const lines = (text: string): Record<string, string> => Object.fromEntries(text.split("\n").filter((l) => l.includes(" ")).map((l) => [l.slice(0, l.indexOf(" ")), l.slice(l.indexOf(" ") + 1)]));

const modes = (dir: string): Record<string, string> => Object.fromEntries(readdirSync(dir).map((f) => [f, (statSync(join(dir, f)).mode & 0o7777).toString(8)]));

/**
 * Every way to create a file with set-user-ID or set-group-ID in its mode: open and openat
 * with O_CREAT or O_TMPFILE, creat, mknod and mknodat of a regular file. The kernel keeps
 * the bits on the new, empty file (the sandbox's own write or truncate would clear them: it
 * has no CAP_FSETID), and a privileged host writer filling it in place keeps them: root's
 * `cp /usr/bin/id f` made a set-user-ID root `id` (seen from the test user: euid=0).
 * Each line: "<way> <errno or mode>". Control: a plain 0755 create succeeds.
 */
const SETID = `import os, sys, errno, ctypes
w = sys.argv[1]
libc = ctypes.CDLL(None, use_errno=True)
def sc(nr, *a):
    r = libc.syscall(nr, *a)
    if r < 0: raise OSError(ctypes.get_errno(), "")
    return r
def mode(p): return oct(os.stat(p).st_mode & 0o7777)[2:]
def b(n): return (w + "/" + n).encode()
ways = [
  ("open", lambda: os.close(sc(2, b("open"), os.O_CREAT | os.O_WRONLY, 0o4755)), "open"),
  ("openat", lambda: os.close(sc(257, -100, b("openat"), os.O_CREAT | os.O_WRONLY, 0o4755)), "openat"),
  ("openat-sgid", lambda: os.close(sc(257, -100, b("openat-sgid"), os.O_CREAT | os.O_WRONLY, 0o2755)), "openat-sgid"),
  ("creat", lambda: os.close(sc(85, b("creat"), 0o4755)), "creat"),
  ("mknod", lambda: sc(133, b("mknod"), 0o100000 | 0o4755, 0), "mknod"),
  ("mknodat", lambda: sc(259, -100, b("mknodat"), 0o100000 | 0o6755, 0), "mknodat"),
  ("tmpfile", lambda: os.close(sc(257, -100, w.encode(), os.O_TMPFILE | os.O_WRONLY, 0o4755)), None),
  ("plain", lambda: os.close(sc(257, -100, b("plain"), os.O_CREAT | os.O_WRONLY, 0o755)), "plain"),
]
for name, f, made in ways:
    try:
        f(); print(name, mode(w + "/" + made) if made else "ok")
    except OSError as e:
        print(name, errno.errorcode.get(e.errno, e.errno))
`;

async function setidCreate(): Promise<object> {
  const script = helper("setid.py", SETID);
  const out: Record<string, unknown> = {};
  for (const [env, view] of VIEWS) {
    const w = writable(`w${env}`);
    const r = await inside(env, script, [w], w);
    out[view] = { view: r.view, ops: lines(r.out), left: modes(w) };
  }
  // Bare: the same program leaves the bits, and (as root) a privileged writer filling the
  // file in place keeps them.
  const bare = writable("bare");
  const ops = lines(await run(PY, [script, bare]));
  const filled: Record<string, string> = {};
  if (process.getuid?.() === 0) {
    await run("/bin/cp", ["/usr/bin/id", join(bare, "open")]);
    filled.open = (statSync(join(bare, "open")).mode & 0o7777).toString(8);
    filled.size = String(statSync(join(bare, "open")).size);
  }
  return { ...out, bare: { ops, filled } };
}

/**
 * TIOCSETD on the terminal the sandbox inherits: N_NULL (27) stays attached when the
 * sandbox ends, and every byte typed after is discarded (the user's shell never reads its
 * keyboard again); where modules autoload, any number loads a line discipline's module.
 * A pty is made by a helper, the CLI run on it as its controlling terminal, as from a
 * shell; afterwards the helper reads the slave's discipline (TIOCGETD). Control: bare,
 * the same call attaches it.
 */
const PTY = ptyRunner(`ld = struct.unpack("i", fcntl.ioctl(s, termios.TIOCGETD, b"\\0" * 4))[0]
print("ldisc %d" % ld)`);

async function ldisc(): Promise<object> {
  const pty = helper("pty.py", PTY);
  const nNull = existsSync("/proc/tty/ldiscs") && /^n_null\s+27$/m.test(readFileSync("/proc/tty/ldiscs", "latin1"));
  const n = nNull ? 27 : 0;
  // The answer goes to a file: N_NULL discards what is written to the terminal too.
  const setd = helper("setd.py", `import fcntl, termios, struct, errno, sys\ntry:\n    fcntl.ioctl(0, termios.TIOCSETD, struct.pack("i", ${n})); r = "ok"\nexcept OSError as e:\n    r = errno.errorcode[e.errno]\nopen(sys.argv[1], "w").write(r)\n`);
  const answer = (w: string): string | undefined => (existsSync(join(w, "setd")) ? readFileSync(join(w, "setd"), "latin1") : undefined);
  const out: Record<string, unknown> = { nNull };
  for (const [env, view] of VIEWS) {
    process.env.SANDLOCK_KERNEL_VIEW = env;
    const w = writable(`t${env}`);
    // --status-fd 2 names the view before the command runs (stderr: the terminal).
    const text = await run(PY, [pty, process.execPath, CLI, "run", "--status-fd", "2", ...SYSTEM_RO.flatMap((p) => ["-r", p]), "-r", base, "-w", w, "--", PY, setd, join(w, "setd")]);
    out[view] = { out: text, view: /"procView":"(\w+)"/.exec(text)?.[1], setd: answer(w), ldisc: Number(/ldisc (\d+)/.exec(text)?.[1]) };
  }
  const w = writable("tbare");
  const bare = await run(PY, [pty, PY, setd, join(w, "setd")]);
  out.bare = { setd: answer(w), ldisc: Number(/ldisc (\d+)/.exec(bare)?.[1]) };
  return out;
}

/**
 * What held, in one run per view: the capability and privileged attribute namespaces
 * (a file capability is an escalation the host would honour), and the kernel view's
 * constructed root (its tmpfs, the staging tmpfs' covers, the served hostname). Each line
 * "<op> <errno or ok>". Controls: user.* attributes and a POSIX ACL (the owner's own right,
 * as a chmod is) succeed on the same file; a write in the writable grant succeeds.
 */
const HELD = `import os, sys, errno, struct
w = sys.argv[1]
p = w + "/prog"
open(p, "wb").write(b"#!/bin/sh\\n")
def t(name, f):
    try:
        f(); print(name, "ok")
    except OSError as e:
        print(name, errno.errorcode.get(e.errno, e.errno))
t("cap-v2", lambda: os.setxattr(p, "security.capability", struct.pack("<5I", 0x02000001, 1 << 7, 0, 0, 0)))
t("cap-v3", lambda: os.setxattr(p, "security.capability", struct.pack("<6I", 0x03000001, 1 << 7, 0, 0, 0, 0)))
t("trusted", lambda: os.setxattr(p, "trusted.x", b"1"))
t("security", lambda: os.setxattr(p, "security.x", b"1"))
t("user", lambda: os.setxattr(p, "user.x", b"1"))
acl = struct.pack("<I", 2) + b"".join(struct.pack("<HHI", *e) for e in [(1, 7, 0xffffffff), (4, 5, 0xffffffff), (0x20, 5, 0xffffffff)])
t("acl", lambda: os.setxattr(p, "system.posix_acl_access", acl))
if len(sys.argv) > 2: sys.exit(0)  # bare: the attributes only, never the host's root
t("root-create", lambda: open("/planted", "w"))
t("root-mkdir", lambda: os.mkdir("/planted-dir"))
t("root-fifo", lambda: os.mkfifo("/planted-fifo"))
t("empty-write", lambda: open("/empty", "w"))
t("hostname-write", lambda: open("/etc/hostname", "w"))
t("cover-write", lambda: open("/proc/kmsg", "w"))
t("grant-write", lambda: open(w + "/ok", "w").write("x"))
`;

async function held(): Promise<object> {
  const script = helper("held.py", HELD);
  const out: Record<string, unknown> = {};
  for (const [env, view] of VIEWS) {
    const w = writable(`h${env}`);
    const r = await inside(env, script, [w], w, { name: "red8b", fsReadable: [...SYSTEM_RO, base, "/proc"] });
    out[view] = { view: r.view, ops: lines(r.out), caps: await run("/usr/sbin/getcap", [join(w, "prog")]) };
  }
  // Bare, root sets a file capability on the same kind of file: a win would be seen (only
  // the attribute lines: the root's lines are never tried outside a sandbox).
  if (process.getuid?.() === 0) {
    const w = writable("bare");
    out.bare = lines(await run(PY, [script, w, "bare"]));
  }
  return out;
}

/**
 * sandlock installed in the project a sandbox may write (a devDependency under `-w .`):
 * the sandbox can rewrite what the next, unsandboxed `sandlock run` executes. Shown with
 * the cache of assembled filters: a one-instruction "allow" program planted under an
 * entry's key loads at the next run of that policy, whose blocklist is then gone (`unshare
 * -U` succeeds). The bundle itself is as exposed, so no check of the cache could close
 * this; the CLI now warns before it starts when its installation, or the `.bin` link it
 * was started by, lies beneath a writable grant. Control: a grant beside it, no warning.
 */
const PLANT = `import glob, os, struct, sys
for f in glob.glob(sys.argv[1] + "/sandlock.seccomp.*.cache"):
    data = open(f, "rb").read()
    key = data[:data.index(b"\\n", data.index(b"\\n") + 1) + 1]
    open(f + ".x", "wb").write(key + struct.pack("<HBBI", 6, 0, 0, 0x7fff0000))
    os.chmod(f + ".x", 0o644)
    os.rename(f + ".x", f)
    print("planted")
`;

async function selfWrite(): Promise<object> {
  const project = writable("project");
  const pkg = join(project, "node_modules", "sandlock");
  for (const p of ["bin", "package.json", join("dist", "src")]) cpSync(join(ROOT, p), join(pkg, p), { recursive: true });
  mkdirSync(join(pkg, "build", "Release"), { recursive: true });
  for (const f of ["sandlock-launcher", "sandlock_native.node"]) cpSync(join(ROOT, "build", "Release", f), join(pkg, "build", "Release", f));
  mkdirSync(join(project, "node_modules", ".bin"));
  symlinkSync("../sandlock/bin/sandlock.cjs", join(project, "node_modules", ".bin", "sandlock"));
  const other = writable("other");
  const plant = helper("plant.py", PLANT);
  const cli = (bin: string, w: string, cmd: string[]): Promise<string> => run(process.execPath, [bin, "run", ...SYSTEM_RO.flatMap((p) => ["-r", p]), "-r", base, "-w", w, "--", ...cmd]);
  const bin = join(pkg, "bin", "sandlock.cjs");
  const unshare = ["/bin/sh", "-c", "unshare -U true; echo unshare:$?"];
  const before = await cli(bin, other, unshare); // writes the cache of this policy's filter
  const planted = await cli(bin, project, [PY, plant, join(pkg, "dist", "src", "cli")]);
  const after = await cli(bin, other, unshare);
  const viaLink = await cli(join(project, "node_modules", ".bin", "sandlock"), join(project, "node_modules", ".bin"), ["/bin/true"]);
  return { pkg, project, before, planted, after, viaLink, link: join(project, "node_modules", ".bin", "sandlock") };
}

/**
 * The kernel view's init (pid 1) is a fork of the launcher's child that never execs: its
 * /proc/1/environ and /proc/1/cmdline read the launcher's own environment and argument
 * areas, which held the host's whole environment (the supervising process's) and the
 * launcher's host path, whatever `cleanEnv` or `env` gave the command. A variable only the
 * host has is looked for there and in the command's own environment, with `cleanEnv`.
 * Controls: the command's own /proc/self/environ is readable (it holds the policy's
 * variable), and bare, a process started with the host's environment shows it in its own.
 */
async function initEnviron(): Promise<object> {
  const marker = `RED8B_SECRET_${process.pid}`;
  process.env[marker] = "hunter2";
  process.env.SANDLOCK_KERNEL_VIEW = "1";
  // grep -a counts the one NUL-separated line when it holds the name.
  const script = `echo init-env $(grep -ac ${marker} /proc/1/environ); echo cmdline $(tr '\\0' ' ' </proc/1/cmdline); echo own $(grep -ac POLICY_VAR /proc/self/environ)`;
  const r = await Sandbox.run({ fsReadable: [...SYSTEM_RO, "/proc"], cleanEnv: true, env: { POLICY_VAR: "1" } }, ["/bin/sh", "-c", script]);
  const got = lines(r.stdoutText);
  const bare = (await run("/bin/sh", ["-c", `grep -ac ${marker} /proc/self/environ`])).trim();
  delete process.env[marker];
  return { view: r.procView, initEnv: got["init-env"], cmdline: got.cmdline ?? "", own: got.own, bare, err: r.stderrText };
}

async function main(): Promise<object> {
  switch (part) {
    case "setid-create":
      return setidCreate();
    case "ldisc":
      return ldisc();
    case "held":
      return held();
    case "self-write":
      return selfWrite();
    case "init-environ":
      return initEnviron();
    default:
      throw new Error(`unknown part ${part}`);
  }
}

main()
  .then((o) => process.stdout.write(JSON.stringify(o) + "\n"))
  .catch((e) => process.stdout.write(JSON.stringify({ error: String(e?.stack ?? e) }) + "\n"))
  .finally(() => rmSync(base, { recursive: true, force: true }));
