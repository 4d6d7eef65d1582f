// chroot and fsMount cases: a small root built from the host's files (the static probe, /bin/sh
// and cat with their libraries), the probe's escapes and race inside it with the same runs
// without chroot as the controls, fsMount read-only and writable, the refusals of bad values,
// the CLI, and a sandbox inside a sandbox. Prints one JSON line.
// Usage: chroot-case.js PROBE escape|race|run|host|swap|refusals|cli|nested

import { execFile, execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { Policy, Sandbox } from "../../src/index.js";
import { native } from "../../src/confine/native.js";
import { computeFeatures } from "../../src/plan/features.js";
import { makePlan } from "../../src/plan/plan.js";
import { launchPlan } from "./launch-plan.js";
import { CLI as cli, ROOT } from "../helpers/system.js";

const stage = resolve(ROOT); // the package root, as a grant path

const probe = process.argv[2]!;
const part = process.argv[3];
const base = mkdtempSync("/tmp/sandlock-chroot-");
chmodSync(base, 0o755);

/** The root: bin/sl-probe, bin/sh and bin/cat with the libraries ldd names (copied to the
 * same paths inside), etc/marker, abs-link -> /etc/marker, out -> the host secret (a link
 * leading out), the secret's path again inside holding a decoy, tmp, proc, dev, data, rw.
 * The secret lives outside the root, readable by everyone. */
function makeRoot(): { root: string; secret: string; ro: string; rw: string } {
  const root = join(base, "root");
  const secret = join(base, "host", "secret");
  for (const d of ["bin", "etc", "tmp", "proc", "dev", "data", "rw"]) mkdirSync(join(root, d), { recursive: true });
  mkdirSync(dirname(secret), { recursive: true });
  writeFileSync(secret, "HOSTSECRET\n");
  copyFileSync(probe, join(root, "bin", "sl-probe"));
  chmodSync(join(root, "bin", "sl-probe"), 0o755);
  for (const prog of ["/bin/sh", "/bin/cat"]) {
    copyFileSync(prog, join(root, prog));
    chmodSync(join(root, prog), 0o755);
    for (const lib of execFileSync("ldd", [prog]).toString().match(/\/[^\s]+\.so[^\s]*/g) ?? []) {
      mkdirSync(join(root, dirname(lib)), { recursive: true });
      if (!existsSync(join(root, lib))) copyFileSync(lib, join(root, lib));
    }
  }
  writeFileSync(join(root, "etc", "marker"), "inside\n");
  symlinkSync("/etc/marker", join(root, "abs-link"));
  symlinkSync(secret, join(root, "out"));
  mkdirSync(join(root, dirname(secret)), { recursive: true });
  writeFileSync(join(root, secret), "decoy\n");
  const ro = join(base, "ro");
  const rw = join(base, "rw");
  mkdirSync(ro);
  mkdirSync(rw);
  writeFileSync(join(ro, "h.txt"), "mounted\n");
  return { root, secret, ro, rw };
}

const lines = (out: string): Record<string, string> => Object.fromEntries(out.trim().split("\n").filter((l) => l.length > 0).map((l) => [l.slice(0, l.indexOf(" ")), l.slice(l.indexOf(" ") + 1)]));

async function sandboxed(policy: object, cmd: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const r = await Sandbox.run(policy, cmd, { timeout: 60_000 });
  return { code: r.exitCode, out: r.stdoutText, err: r.stderrText };
}

/** The escapes inside the chroot; the control runs the same probe without chroot, granted
 * the root's directory and the secret's, with the root's host path as PREFIX. */
async function escape(): Promise<object> {
  const t = makeRoot();
  const inside = await sandboxed({ chroot: t.root, fsReadable: ["/", "/proc"], fsWritable: ["/tmp"] }, ["/bin/sl-probe", "chroot-escape", "", t.secret]);
  // The supervised view (pinned): the kernel view binds each grant apart, so openat2's
  // RESOLVE_NO_XDEV would meet a mount boundary the host's tree does not have (EXDEV).
  const control = await sandboxed({ fsReadable: [t.root, dirname(t.secret), "/proc"], fsWritable: [join(t.root, "tmp")], procView: "supervised" }, [join(t.root, "bin", "sl-probe"), "chroot-escape", t.root, t.secret]);
  return { inside: { ...inside, ops: lines(inside.out) }, control: { ...control, ops: lines(control.out) } };
}

async function race(): Promise<object> {
  const t = makeRoot();
  const ms = "2000";
  const inside = await sandboxed({ chroot: t.root, fsReadable: ["/"], fsWritable: ["/tmp"] }, ["/bin/sl-probe", "chroot-race", "", t.secret, ms]);
  const control = await sandboxed({ fsReadable: [t.root, dirname(t.secret)], fsWritable: [join(t.root, "tmp")] }, [join(t.root, "bin", "sl-probe"), "chroot-race", t.root, t.secret, ms]);
  return { inside, control };
}

/** The static probe and the dynamically linked shell run; the program is looked up in the
 * root's PATH; a writable grant and fsMount, read-only and writable. */
async function run(): Promise<object> {
  const t = makeRoot();
  const policy = { chroot: t.root, fsReadable: ["/"], fsWritable: ["/tmp", "/rw"], fsMount: { "/data": `${t.ro}:ro`, "/rw": t.rw } };
  const staticRun = await sandboxed(policy, ["/bin/sl-probe", "cat", "/etc/marker"]);
  const dynamic = await sandboxed(policy, ["sh", "-c", "cat /etc/marker /data/h.txt; echo $0"]);
  const writes = await sandboxed(policy, ["/bin/sh", "-c", [
    "/bin/sl-probe write /tmp/made", "/bin/sl-probe write /etc/x", "/bin/sl-probe write /data/x", "/bin/sl-probe write /rw/made",
  ].join("; ")]);
  // The same read-only mount without a writable grant on it, and with one: EROFS either way.
  const cwdRun = await sandboxed({ ...policy, cwd: "/etc" }, ["sh", "-c", "pwd; cat marker"]);
  const roGranted = await sandboxed({ ...policy, fsWritable: ["/tmp", "/data"] }, ["/bin/sl-probe", "write", "/data/x"]);
  return {
    staticRun, dynamic, writes,
    roGranted, cwdRun,
    hostTmp: readFileSync(join(t.root, "tmp", "made"), "utf8"),
    hostRw: readFileSync(join(t.rw, "made"), "utf8"),
    roUntouched: !existsSync(join(t.ro, "x")) && !existsSync(join(t.root, "etc", "x")),
  };
}

/** The host's /proc and /dev bound in the root: the /proc view and the device allowlist still
 * hold under a grant of the whole root (the planner splits it around the bind points); with
 * `user` and fsDenied the same root. The control is the same probe outside the chroot. */
async function host(): Promise<object> {
  const t = makeRoot();
  const policy = { chroot: t.root, fsReadable: ["/", "/proc", "/dev/null"], fsWritable: ["/tmp"] };
  const probes = ["read /proc/1/status", "read /proc/self/status", "read /proc/kcore", "read /dev/null", "read /dev/console", "write /proc/self/root/tmp/x"];
  const script = probes.map((p) => `/bin/sl-probe ${p}`).join("; ");
  const view = await sandboxed(policy, ["/bin/sh", "-c", `${script}; /bin/sl-probe cat /proc/self/stat; echo; for p in /proc/[0-9]*; do echo "$p"; done`]);
  const user = await sandboxed({ ...policy, user: { uid: 7, gid: 8 } }, ["/bin/sh", "-c", "/bin/sl-probe write /tmp/u; cat /proc/self/status"]);
  const denied = await sandboxed({ ...policy, fsDenied: ["/etc/marker"] }, ["/bin/sh", "-c", "/bin/sl-probe read /etc/marker; /bin/sl-probe read /abs-link; /bin/sl-probe read /bin/sl-probe"]);
  const userNoProc = await planned({ chroot: t.root, fsReadable: ["/"], user: { uid: 7, gid: 8 } });
  // A device node inside the chroot directory (only root can make one: as the user mknod is
  // refused and nothing is there to open): the root is mounted nodev.
  let node: object;
  try {
    execFileSync("mknod", ["-m", "666", join(t.root, "etc", "node"), "c", "1", "3"], { stdio: "pipe" });
    node = {
      inside: (await sandboxed(policy, ["/bin/sl-probe", "read", "/etc/node"])).out,
      control: (await sandboxed({ fsReadable: [t.root] }, [join(t.root, "bin", "sl-probe"), "read", join(t.root, "etc", "node")])).out,
    };
  } catch (e) {
    node = { mknod: String((e as { stderr?: Buffer }).stderr ?? e) };
  }
  return { view, user, userOwner: statSync(join(t.root, "tmp", "u")).uid, caller: process.getuid?.(), denied, userNoProc, node, root: t.root };
}

/** The root's /proc swapped for a symbolic link to another directory of the root between
 * planning and launch (by anything that can write the chroot): the plan split the root's
 * grant around /proc, so the host's procfs bound at the link's target would be readable
 * whole there (host pid 1's status). The launcher follows no link to a mount point: the start
 * fails (ELOOP). Control: the same plan, nothing swapped, reads /proc/version through the bind. */
async function swap(): Promise<object> {
  const t = makeRoot();
  mkdirSync(join(t.root, "x"));
  const launch = async (target: string, swapped: boolean): Promise<unknown> => {
    const features = computeFeatures(new Policy({ chroot: t.root, fsReadable: ["/", "/proc"] }), { landlockAbi: native().landlockAbi(), cpuCount: 1 });
    const unsupervised = { ...features, seccomp: { ...features.seccomp, notify: [] } };
    const plan = makePlan(unsupervised, { path: "/bin/sl-probe", argv: ["/bin/sl-probe", "read", target], env: {}, cwd: "/", ownProcessGroup: true });
    if (swapped) {
      renameSync(join(t.root, "proc"), join(t.root, "proc.real"));
      symlinkSync("/x", join(t.root, "proc"));
    }
    return launchPlan(plan);
  };
  const control = await launch("/proc/version", false);
  const swapped = await launch("/x/1/status", true);
  return { control, swapped };
}

function refusal(input: object): { name: string; message: string } {
  try {
    new Policy(input);
    return { name: "none", message: "" };
  } catch (e) {
    return { name: (e as Error).name, message: (e as Error).message };
  }
}

async function planned(input: object): Promise<{ name: string; message: string }> {
  try {
    const r = await Sandbox.run(input, ["/bin/sl-probe", "cat", "/etc/marker"], { timeout: 30_000 });
    return { name: "ran", message: r.stdoutText };
  } catch (e) {
    return { name: (e as Error).name, message: (e as Error).message };
  }
}

async function refusals(): Promise<object> {
  const t = makeRoot();
  const file = join(base, "file");
  writeFileSync(file, "");
  return {
    paths: { ...t, base, file },
    relative: refusal({ chroot: "root" }),
    relativeMount: refusal({ chroot: t.root, fsMount: { data: t.ro } }),
    dotdotMount: refusal({ chroot: t.root, fsMount: { "/data/../etc": t.ro } }),
    rootMount: refusal({ chroot: t.root, fsMount: { "/": t.ro } }),
    relativeHost: refusal({ chroot: t.root, fsMount: { "/data": "ro" } }),
    mountWithoutChroot: refusal({ fsMount: { "/data": t.ro } }),
    missing: await planned({ chroot: join(base, "nope"), fsReadable: ["/"] }),
    notDir: await planned({ chroot: file, fsReadable: ["/"] }),
    hostMissing: await planned({ chroot: t.root, fsReadable: ["/"], fsMount: { "/data": join(base, "nope") } }),
    hostRw: await planned({ chroot: t.root, fsReadable: ["/"], fsMount: { "/data": `${t.ro}:rw` } }),
    pointMissing: await planned({ chroot: t.root, fsReadable: ["/"], fsMount: { "/nowhere": t.ro } }),
    withWorkdir: await planned({ chroot: t.root, fsReadable: ["/"], workdir: t.rw }),
    withPrivateTmp: await planned({ chroot: t.root, fsReadable: ["/"], privateTmp: true }),
    withProtected: await planned({ chroot: t.root, fsReadable: ["/"], protectedFiles: true }),
    linkPoint: await (async () => {
      symlinkSync("/data", join(t.root, "plink"));
      return planned({ chroot: t.root, fsReadable: ["/"], fsMount: { "/plink": t.ro } });
    })(),
    control: await planned({ chroot: t.root, fsReadable: ["/"], fsMount: { "/data": `${t.ro}:ro` } }),
  };
}

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [cli, ...args], { encoding: "utf8", timeout: 60_000 }, (_e, stdout, stderr) => resolve({ code: child.exitCode, stdout, stderr }));
  });
}

async function cliCase(): Promise<object> {
  const t = makeRoot();
  const flags = ["run", "--chroot", t.root, "-r", "/", "-w", "/tmp", "--fs-mount", `/data:${t.ro}:ro`, "--"];
  return {
    read: await runCli([...flags, "cat", "/data/h.txt", "/etc/marker"]),
    roWrite: await runCli([...flags, "/bin/sl-probe", "write", "/data/x"]),
    rwSuffix: await runCli(["run", "--chroot", t.root, "-r", "/", "--fs-mount", `/data:${t.ro}:rw`, "--", "/bin/sl-probe", "cat", "/etc/marker"]),
    junk: await runCli(["run", "--chroot", t.root, "-r", "/", "--fs-mount", `/data:${t.ro}:ro:x`, "--", "/bin/sl-probe", "cat", "/etc/marker"]),
    relative: await runCli(["run", "--chroot", "root", "-r", "/", "--", "/bin/sl-probe", "cat", "/etc/marker"]),
    profile: await (async () => {
      const file = join(base, "chroot.toml");
      writeFileSync(file, `[filesystem]\nchroot = ${JSON.stringify(t.root)}\nread = ["/"]\nmount = { "/data" = ${JSON.stringify(`${t.ro}:ro`)} }\n`);
      return runCli(["run", "--profile-file", file, "--", "/bin/sh", "-c", "cat /data/h.txt; /bin/sl-probe write /data/x"]);
    })(),
    ro: t.ro,
  };
}

/** Inside a sandbox (a seccomp filter already: no namespace can be made) the run is refused
 * by name; the same inner run without chroot is the control. */
async function nested(): Promise<object> {
  const t = makeRoot();
  const outer = ["run", ...["/usr", "/lib", "/lib64", "/bin", "/etc", "/proc", "/dev", stage].flatMap((p) => ["-r", p]), "-w", base, "--", process.execPath, cli, "run", "--no-supervisor"];
  return {
    refused: await runCli([...outer, "--chroot", t.root, "-r", "/", "--", "/bin/sl-probe", "cat", "/etc/marker"]),
    control: await runCli([...outer, "-r", t.root, "--", join(t.root, "bin", "sl-probe"), "cat", join(t.root, "etc", "marker")]),
  };
}

const parts: Record<string, () => Promise<object>> = { escape, race, run, host, swap, refusals, cli: cliCase, nested };
const fn = parts[part ?? ""];
if (fn === undefined) throw new Error(`unknown part ${part}`);
try {
  console.log(JSON.stringify(await fn()));
} finally {
  rmSync(base, { recursive: true, force: true });
}
