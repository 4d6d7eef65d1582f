// `user` against the real kernel, as whoever runs this: the command appears as the
// policy's uid and gid (id, the owner of what it creates, chown to itself), nothing more:
// no file its caller cannot read becomes readable, the supplementary groups cannot be
// dropped, no namespace can be made again; and inside a sandbox (no user namespace to be
// had) the start is refused by name. Prints one JSON line. Usage: user-case.js

import { execFile } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync, realpathSync } from "node:fs";
import { join, resolve } from "node:path";
import { Sandbox } from "../../src/index.js";
import { CLI as cli, ROOT } from "../helpers/system.js";

const stage = resolve(ROOT); // the package root, as a grant path

const SYSTEM = ["/usr", "/lib", "/lib64", "/bin", "/etc"];
const dir = mkdtempSync("/tmp/sandlock-user-");
writeFileSync(join(dir, "closed"), "secret\n");
chmodSync(join(dir, "closed"), 0o000); // its owner without capabilities cannot read it

const script = [
  `cd ${dir}`,
  "id -u; id -g",
  "touch made && stat -c '%u %g' made",
  "chown 4242:4343 made && echo chown-self-ok",
  "chown 4244 made 2>&1 | grep -c 'Invalid argument'",
  "cat closed 2>&1 | grep -c 'Permission denied'",
  "python3 -c 'import os; os.setgroups([])' 2>&1 | grep -c PermissionError",
  "unshare -U true 2>&1 | grep -c 'Operation not permitted'",
].join("; ");
const policy = { fsReadable: SYSTEM, fsWritable: [dir] };
const mapped = await Sandbox.run({ ...policy, user: { uid: 4242, gid: 4343 } }, ["/bin/sh", "-c", script]);
const madeOutside = statSync(join(dir, "made"));
// Appearing as root gives no more than appearing as anyone: the closed file stays closed.
// No capability either, in any set (the new namespace's are emptied, and exec as its root
// gains none: the locked securebits).
const asRoot = await Sandbox.run({ ...policy, fsReadable: [...SYSTEM, "/proc"], user: { uid: 0, gid: 0 } }, ["/bin/sh", "-c", `cd ${dir}; id -u; cat closed 2>&1 | grep -c 'Permission denied'; grep -c '^Cap...:[[:space:]]*0000000000000000$' /proc/self/status`]);
// Control: without user, the caller's own ids.
const plain = await Sandbox.run(policy, ["/bin/sh", "-c", "id -u; id -g"]);

// Inside a sandbox (its filter refuses namespaces): the inner start is refused by name.
const outer = ["run", "-r", "/usr", "-r", "/lib", "-r", "/lib64", "-r", "/bin", "-r", "/etc", "-r", "/proc", "-r", "/dev", "-r", stage, "--"];
// The inner grants by their real paths: under the kernel view the outer sandbox's root (and
// its /lib -> usr/lib link) belongs to the caller, and grant-path.ts refuses such links.
const innerSystem = [...new Set(["/usr", "/lib", "/lib64", "/bin"].map((p) => realpathSync(p)))].flatMap((p) => ["-r", p]);
const inner = [process.execPath, cli, "run", "--no-supervisor", "--user", "7:7", ...innerSystem, "--", "/bin/true"];
const nested = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
  const child = execFile(process.execPath, [cli, ...outer, ...inner], { encoding: "utf8", timeout: 30_000 }, (_e, _out, stderr) => resolve({ code: child.exitCode, stderr }));
});
rmSync(dir, { recursive: true, force: true });
console.log(JSON.stringify({
  caller: [process.geteuid!(), process.getegid!()],
  mapped: { code: mapped.exitCode, out: mapped.stdoutText, err: mapped.stderrText.slice(-400) },
  madeOutside: [madeOutside.uid, madeOutside.gid],
  asRoot: { code: asRoot.exitCode, out: asRoot.stdoutText },
  plain: plain.stdoutText,
  nested,
}));
