// npm pack's prepack step: copies the from-source build (build/Release) into
// prebuilds/linux-x64, stripped, after checking it runs where the package says it does.
// postpack (--clean) removes the copy again so the checkout keeps building from source.
import { execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";

/** The newest glibc symbol version the addon may need: Debian 12, Ubuntu 22.04, RHEL 9 and later. */
export const MAX_GLIBC = "2.34";
const OUT = join("prebuilds", "linux-x64");

function versionAbove(a, b) {
  const [x, y] = [a.split(".").map(Number), b.split(".").map(Number)];
  for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) > (y[i] ?? 0);
  return false;
}

if (process.argv[2] === "--clean") {
  rmSync("prebuilds", { recursive: true, force: true });
} else {
  if (process.platform !== "linux" || process.arch !== "x64") throw new Error(`prebuild: builds linux-x64 only, not ${process.platform}-${process.arch}`);
  mkdirSync(OUT, { recursive: true });
  for (const f of ["sandlock_native.node", "sandlock-launcher"]) {
    const from = join("build", "Release", f);
    if (!existsSync(from)) throw new Error(`prebuild: ${from} missing: run "npm run build" first`);
    const to = join(OUT, f);
    copyFileSync(from, to);
    execFileSync("strip", ["--strip-unneeded", to]);
    chmodSync(to, 0o755);
  }
  const addon = join(OUT, "sandlock_native.node");
  const needs = [...execFileSync("objdump", ["-T", addon], { encoding: "utf8" }).matchAll(/GLIBC_([0-9.]+)/g)].map((m) => m[1]);
  const newest = needs.reduce((a, b) => (versionAbove(b, a) ? b : a), "0");
  if (versionAbove(newest, MAX_GLIBC)) {
    throw new Error(`prebuild: ${addon} needs GLIBC_${newest}, above the ${MAX_GLIBC} the package supports (build on an older system)`);
  }
  // The launcher runs before any loader: it must be static.
  const launcher = execFileSync("objdump", ["-p", join(OUT, "sandlock-launcher")], { encoding: "utf8" });
  if (/NEEDED|INTERP/.test(launcher)) throw new Error("prebuild: sandlock-launcher is not static");
  process.stdout.write(`prebuild: ${OUT} (addon needs glibc >= ${newest})\n`);
}
