// A command run from a Linux text console (a virtual terminal as its controlling terminal,
// as after a login on tty1) and the console's own ioctls. Run as root, which lends a free
// virtual console to the account UID:GID (chown, as login does), runs a helper as that
// account that makes it its controlling terminal and starts the CLI on it (both views)
// and, as the control, the same program bare; after each, root reads the console's
// keyboard mode, display mode and colour map back and puts them as they were.
// Usage: console-case.js STAGE UID GID; prints one JSON line.

import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SYSTEM_RO } from "../helpers/system.js";

const [stage, uid, gid] = process.argv.slice(2) as [string, string, string];
const PY = "/usr/bin/python3";
const VT = "/dev/tty6";

/** STATE VT [SAVED]: prints the console's keyboard mode, display mode and colour map as
 * JSON; with SAVED (that JSON), sets them back first. */
const STATE = `import fcntl, os, struct, sys, json
fd = os.open(sys.argv[1], os.O_RDWR | os.O_NOCTTY)
if len(sys.argv) > 2:
    s = json.loads(sys.argv[2])
    fcntl.ioctl(fd, 0x4B45, s["kb"]); fcntl.ioctl(fd, 0x4B3A, s["mode"]); fcntl.ioctl(fd, 0x4B71, bytes.fromhex(s["cmap"]))
kb = struct.unpack("i", fcntl.ioctl(fd, 0x4B44, b"\\0" * 4))[0]
mode = struct.unpack("i", fcntl.ioctl(fd, 0x4B3B, b"\\0" * 4))[0]
cmap = fcntl.ioctl(fd, 0x4B70, bytes(48)).hex()
print(json.dumps({"kb": kb, "mode": mode, "cmap": cmap}))
`;

/** VT ARGV...: a session of its own with VT as its controlling terminal and fds 0-2, then
 * exec (as a getty's login shell has it). */
const ON_VT = `import os, sys, fcntl, termios
os.setsid()
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.ioctl(fd, termios.TIOCSCTTY, 0)
for i in (0, 1, 2): os.dup2(fd, i)
os.close(fd)
os.execv(sys.argv[2], sys.argv[2:])
`;

/** ANSWER-FILE: the keyboard off (KDSKBMODE K_OFF), graphics mode (KDSETMODE KD_GRAPHICS),
 * an all-black colour map (PIO_CMAP); each call's answer written to the file. */
const CHANGE = `import fcntl, sys, errno
out = []
for name, req, arg in (("kbmode", 0x4B45, 4), ("mode", 0x4B3A, 1), ("cmap", 0x4B71, bytes(48))):
    try:
        fcntl.ioctl(0, req, arg); out.append(name + " ok")
    except OSError as e:
        out.append(name + " " + errno.errorcode[e.errno])
open(sys.argv[1], "w").write(" ".join(out))
`;

const dir = mkdtempSync("/tmp/sandlock-console-");
chmodSync(dir, 0o755);
const file = (name: string, text: string): string => {
  writeFileSync(join(dir, name), text, { mode: 0o644 });
  return join(dir, name);
};
const owner = statSync(VT);
const work = join(dir, "w");
try {
  const state = file("state.py", STATE);
  const onVt = file("on-vt.py", ON_VT);
  const change = file("change.py", CHANGE);
  execFileSync("mkdir", [work]);
  chownSync(work, Number(uid), Number(gid));
  const look = (restore?: string): string => execFileSync(PY, [state, VT, ...(restore !== undefined ? [restore] : [])], { encoding: "utf8" }).trim();
  const before = look();
  chownSync(VT, Number(uid), Number(gid));
  const asAccount = (argv: string[]): void => {
    execFileSync("setpriv", [`--reuid=${uid}`, `--regid=${gid}`, "--clear-groups", "--", PY, onVt, VT, ...argv], { encoding: "utf8", timeout: 60_000, cwd: "/" });
  };
  const cli = (view: string): string[] => [process.execPath, join(stage, "bin", "sandlock.cjs"), "run", "--proc-view", view, ...SYSTEM_RO.flatMap((p) => ["-r", p]), "-r", dir, "-w", work, "--"];
  const out: Record<string, { answers: string; after: unknown }> = {};
  for (const [name, argv] of [["supervised", cli("supervised")], ["kernel", cli("kernel")], ["bare", []]] as const) {
    const answer = join(work, `answer-${name}`);
    asAccount([...argv, PY, change, answer]);
    out[name] = { answers: existsSync(answer) ? readFileSync(answer, "latin1") : "no answer", after: JSON.parse(look()) };
    look(before); // as it was, before the next run
  }
  process.stdout.write(`${JSON.stringify({ before: JSON.parse(before), ...out, restored: JSON.parse(look()) })}\n`);
} finally {
  chownSync(VT, owner.uid, owner.gid);
  rmSync(dir, { recursive: true, force: true });
}
