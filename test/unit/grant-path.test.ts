// grantRealpath: a grant's path resolved as the kernel would, following a symbolic link only
// in a directory that, with its ancestors, only root can change. A fake filesystem for the
// rules, the real one for a link in /tmp and the policy's error message.

import { test } from "node:test";
import assert from "node:assert/strict";
import { lstatSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, type Stats } from "node:fs";
import { join } from "node:path";
import { grantRealpath, SwappableLinkError } from "../../src/plan/grant-path.js";
import { Policy } from "../../src/policy/index.js";
import { computeFeatures } from "../../src/plan/features.js";
import { PolicyError } from "../../src/errors.js";

type Node = { kind: "dir" | "file"; uid?: number; mode?: number } | { kind: "link"; to: string };

/** lstat and readlink over a table of paths; a missing path throws ENOENT. */
function fake(table: Record<string, Node>): [(p: string) => Stats, (p: string) => string] {
  const get = (p: string): Node => {
    const n = table[p];
    if (n === undefined) throw Object.assign(new Error(`ENOENT: ${p}`), { code: "ENOENT" });
    return n;
  };
  const lstat = (p: string): Stats => {
    const n = get(p);
    return {
      uid: n.kind === "link" ? 0 : (n.uid ?? 0),
      mode: n.kind === "link" ? 0o777 : (n.mode ?? 0o755),
      isSymbolicLink: () => n.kind === "link",
      isDirectory: () => n.kind === "dir",
    } as Stats;
  };
  const readlink = (p: string): string => {
    const n = get(p);
    if (n.kind !== "link") throw Object.assign(new Error(`EINVAL: ${p}`), { code: "EINVAL" });
    return n.to;
  };
  return [lstat, readlink];
}

const SYSTEM: Record<string, Node> = {
  "/": { kind: "dir" },
  "/usr": { kind: "dir" },
  "/usr/lib": { kind: "dir" },
  "/usr/lib/x.so": { kind: "file" },
  "/lib": { kind: "link", to: "usr/lib" },
  "/etc": { kind: "dir" },
  "/etc/alt": { kind: "link", to: "/home/u/tools" },
  "/home": { kind: "dir" },
  "/home/u": { kind: "dir", uid: 1000 },
  "/home/u/tools": { kind: "dir", uid: 1000 },
  "/home/u/proj": { kind: "link", to: "../u/tools" },
  "/home/u/tools/bin": { kind: "link", to: "/usr/lib" },
  "/srv": { kind: "dir", mode: 0o775 },
  "/srv/link": { kind: "link", to: "/usr" },
  "/loop": { kind: "link", to: "/loop" },
};

test("system links (root-owned directories no group or other can write) are followed, relative and absolute", () => {
  const [lstat, readlink] = fake(SYSTEM);
  assert.equal(grantRealpath("/lib", lstat, readlink), "/usr/lib");
  assert.equal(grantRealpath("/lib/x.so", lstat, readlink), "/usr/lib/x.so");
  assert.equal(grantRealpath("/usr/./lib/../lib//", lstat, readlink), "/usr/lib");
  assert.equal(grantRealpath("/../../lib", lstat, readlink), "/usr/lib", "'..' at the root stays at the root");
  // A system link into a user's directory is followed; the user's directory holds no link
  // on the way, so the result is that directory.
  assert.equal(grantRealpath("/etc/alt", lstat, readlink), "/home/u/tools");
});

test("a link in a directory another uid owns, or a group or others can write, is refused, naming the directory and why", () => {
  const [lstat, readlink] = fake(SYSTEM);
  assert.throws(() => grantRealpath("/home/u/proj", lstat, readlink), (e: unknown) => e instanceof SwappableLinkError && e.link === "/home/u/proj" && e.dir === "/home/u" && e.why === "owned by uid 1000");
  // Reached through a trusted link, the link inside the user's directory is still judged where it is.
  assert.throws(() => grantRealpath("/etc/alt/bin", lstat, readlink), (e: unknown) => e instanceof SwappableLinkError && e.link === "/home/u/tools/bin" && e.dir === "/home/u");
  assert.throws(() => grantRealpath("/srv/link", lstat, readlink), (e: unknown) => e instanceof SwappableLinkError && e.dir === "/srv" && e.why === "writable by its group");
});

test("the errors realpath gives: ENOENT, ENOTDIR, ELOOP, and a relative path is refused", () => {
  const [lstat, readlink] = fake(SYSTEM);
  const code = (f: () => unknown): string | undefined => {
    try {
      f();
    } catch (e) {
      return (e as NodeJS.ErrnoException).code;
    }
    return undefined;
  };
  assert.equal(code(() => grantRealpath("/nope", lstat, readlink)), "ENOENT");
  assert.equal(code(() => grantRealpath("/usr/lib/x.so/y", lstat, readlink)), "ENOTDIR");
  assert.equal(code(() => grantRealpath("/usr/lib/x.so/..", lstat, readlink)), "ENOTDIR");
  assert.equal(code(() => grantRealpath("/loop", lstat, readlink)), "ELOOP");
  assert.equal(code(() => grantRealpath("usr", lstat, readlink)), "EINVAL");
});

test("on the real filesystem: a link in /tmp (writable by others) is not followed by a grant; the policy error names it and the way out", (t) => {
  if ((lstatSync("/tmp").mode & 0o002) === 0) return t.skip("/tmp is not writable by others here");
  const base = mkdtempSync("/tmp/sandlock-grant-path-");
  try {
    mkdirSync(join(base, "real"));
    symlinkSync(join(base, "real"), join(base, "link"));
    assert.equal(grantRealpath(join(base, "real")), join(base, "real"), "control: the directory itself resolves to itself");
    assert.throws(() => grantRealpath(join(base, "link")), SwappableLinkError);
    assert.throws(
      () => computeFeatures(new Policy({ fsWritable: [join(base, "link")] }), { landlockAbi: 7, cpuCount: 2 }, new Map()),
      (e: unknown) =>
        e instanceof PolicyError &&
        e.field === "fsWritable" &&
        e.message.includes(`fsWritable: ${JSON.stringify(join(base, "link"))} passes through ${join(base, "link")} is a symbolic link (to ${join(base, "real")})`) &&
        e.message.includes("grant what it leads to by its own path"),
    );
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});
