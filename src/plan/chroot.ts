// chroot and fsMount (SPEC 2.1, docs/chroot.md): the virtual root's host paths, and the
// policy's paths (virtual: inside the root) translated to the host's for planning, and the
// planned host paths back to the paths the command's mount namespace shows them at.

import { lstatSync, readdirSync, readlinkSync, statSync } from "node:fs";
import { posix } from "node:path";
import { ConfinementError, PolicyError } from "../errors.js";
import type { Policy } from "../policy/policy.js";
import { grantRealpath, SwappableLinkError } from "./grant-path.js";
import { observe } from "./host-reads.js";
import type { PathGrant } from "./landlock.js";
import { refuseNul } from "./nul.js";

/** One fsMount: `host` (its real path) seen at `virtual` inside the root. */
export interface ChrootMount {
  readonly virtual: string;
  readonly host: string;
  readonly readOnly: boolean;
}

/** What the launcher builds (native/launcher/chroot.c). */
export interface ChrootSpec {
  /** The chroot directory's real path. */
  readonly root: string;
  /** In the order they are mounted: a mount point inside another mount after it. */
  readonly mounts: readonly ChrootMount[];
  /** The host's /proc and /dev are bound at /proc and /dev (a grant names a path in them). */
  readonly proc: boolean;
  readonly dev: boolean;
  /** The host paths in the root that /proc and /dev are bound over (those bound). */
  readonly bindPoints?: readonly string[];
}

/** The host's trees bound into the root under their own names, when granted. */
const HOST_TREES = ["/proc", "/dev"] as const;

const MAX_LINKS = 40; // the kernel's own limit on symbolic links in one lookup

/** "/a/./b/../c" -> "/a/c", ".." at the root staying at the root (as in the sandbox). */
export function normalizeVirtual(path: string): string {
  const out: string[] = [];
  for (const c of path.split("/")) {
    if (c === "" || c === ".") continue;
    if (c === "..") out.pop();
    else out.push(c);
  }
  return `/${out.join("/")}`;
}

function beneath(path: string, prefix: string): boolean {
  return prefix === "/" || path === prefix || path.startsWith(`${prefix}/`);
}

function rest(path: string, prefix: string): string {
  return prefix === "/" ? path : path.slice(prefix.length) || "/";
}

/**
 * `virtual` resolved as the sandbox's lookup will resolve it in the root `root` (a real
 * host path): component by component, ".." stopping at the root, symbolic links followed
 * with absolute ones starting again at the root. The host path it names (no link left on
 * it), or undefined when a component does not exist. Planning only: the launcher opens what
 * this returns following no link (a swap since fails the start), and at run time the
 * sandbox's own namespace, where nothing but the root exists, does the resolving.
 */
export function resolveInRoot(root: string, virtual: string): string | undefined {
  let todo = virtual.split("/").filter((c) => c !== "" && c !== ".");
  const done: string[] = [];
  let links = 0;
  while (todo.length > 0) {
    const c = todo.shift()!;
    if (c === "..") {
      done.pop();
      continue;
    }
    const host = posix.join(root, ...done, c);
    let link: boolean;
    try {
      // only what decides the resolution is noted (a stat's times would change every read)
      link = observe(`islink ${host}`, () => lstatSync(host).isSymbolicLink());
    } catch {
      return undefined;
    }
    if (!link) {
      done.push(c);
      continue;
    }
    if (++links > MAX_LINKS) return undefined;
    const target = observe(`readlink ${host}`, () => readlinkSync(host));
    const parts = target.split("/").filter((x) => x !== "" && x !== ".");
    if (target.startsWith("/")) done.length = 0;
    todo = [...parts, ...todo];
  }
  return posix.join(root, ...done);
}

/** The host path a virtual path of the policy names: through the fsMount it lies in (the
 * innermost), the host's /proc or /dev when bound, else inside the root. undefined: it does
 * not exist (a grant of it gives nothing, as a rule on a missing path). */
export function chrootHostPath(spec: ChrootSpec, virtual: string): string | undefined {
  const v = normalizeVirtual(virtual);
  const mount = [...spec.mounts].reverse().find((m) => beneath(v, m.virtual));
  if (mount !== undefined) return resolveInRoot(mount.host, rest(v, mount.virtual));
  for (const t of HOST_TREES) {
    if ((t === "/proc" ? spec.proc : spec.dev) && beneath(v, t)) return v;
  }
  return resolveInRoot(spec.root, v);
}

/** Where the command's namespace shows host path `host` (a planned real path), or
 * undefined when nothing there reaches it (a Landlock rule on it would be opened on
 * nothing: it is left out). The innermost of the root, the mounts and the bound trees. */
export function chrootVirtualPath(spec: ChrootSpec, host: string): string | undefined {
  let best: { prefix: string; at: string } | undefined;
  const consider = (prefix: string, at: string): void => {
    if (beneath(host, prefix) && (best === undefined || prefix.length > best.prefix.length)) best = { prefix, at };
  };
  consider(spec.root, "/");
  for (const m of spec.mounts) consider(m.host, m.virtual);
  if (spec.proc) consider("/proc", "/proc");
  if (spec.dev) consider("/dev", "/dev");
  if (best === undefined) return undefined;
  const tail = host === best.prefix ? "" : best.prefix === "/" ? host.slice(1) : host.slice(best.prefix.length + 1);
  return tail === "" ? best.at : posix.join(best.at, tail);
}

/** The virtual paths of a policy list mapped to the host (missing ones left out). */
export function chrootHostPaths(spec: ChrootSpec, paths: readonly string[]): string[] {
  return paths.map((p) => chrootHostPath(spec, p)).filter((p): p is string => p !== undefined);
}

/** The host path of `virtual` taken literally (no link followed): where the launcher, which
 * follows none on the way to a mount point (chroot.c attach), will look for it. */
function lexicalHostPath(spec: ChrootSpec, virtual: string): string {
  const v = normalizeVirtual(virtual);
  const mount = [...spec.mounts].reverse().find((m) => beneath(v, m.virtual));
  return mount !== undefined ? posix.join(mount.host, rest(v, mount.virtual)) : posix.join(spec.root, v);
}

/** A mount point reached through a symbolic link is refused: the launcher follows none there
 * (a link swapped in later would move the mount under a grant planned without it). */
function linkFree(field: string, label: string, virtual: string, resolved: string | undefined, literal: string): void {
  if (resolved !== undefined && resolved !== literal) throw new PolicyError(field, virtual, `${label}: the mount point ${JSON.stringify(virtual)} passes through a symbolic link in the chroot (it leads to ${JSON.stringify(resolved)}): mount points are reached following no link; give the directory's own path`);
}

function realDirectory(field: string, label: string, path: string): string {
  let real: string;
  try {
    real = observe(`realpath ${path}`, () => grantRealpath(path));
  } catch (e) {
    if (e instanceof SwappableLinkError) throw new PolicyError(field, path, `${label}: ${JSON.stringify(path)} passes through ${e.message}; another process could swap it while the sandbox starts, so it is not followed: give the directory it leads to by its own path`);
    const code = (e as NodeJS.ErrnoException).code ?? "error";
    throw new PolicyError(field, path, `${label}: ${JSON.stringify(path)} ${code === "ENOENT" || code === "ENOTDIR" ? "does not exist" : `cannot be inspected (${code})`}`);
  }
  if (!observe(`isdir ${real}`, () => statSync(real).isDirectory())) throw new PolicyError(field, path, `${label}: ${JSON.stringify(path)} is not a directory`);
  return real;
}

/**
 * The chroot of a policy, checked against the host: the directory and every fsMount's host
 * directory exist (real paths, no link another process could swap), every mount point
 * exists in the root as a directory (nothing is created there), and what cannot be combined
 * yet is refused by name. `unavailable`: why this host cannot give the sandbox a mount
 * namespace, if it cannot (the run is then refused, never made without the root).
 */
export function planChroot(policy: Policy, unavailable: string | undefined): ChrootSpec | undefined {
  if (policy.chroot === undefined) return undefined;
  if (policy.workdir !== undefined) throw new PolicyError("chroot", policy.chroot, `chroot: ${JSON.stringify(policy.chroot)} with workdir ${JSON.stringify(policy.workdir)}: a copy-on-write workdir inside a chroot is not supported yet`);
  if (policy.privateTmp) throw new PolicyError("chroot", policy.chroot, `chroot: ${JSON.stringify(policy.chroot)} with privateTmp (--private-tmp, the workspace presets): a private temporary directory inside a chroot is not supported yet; grant a writable directory of the root instead (-w /tmp)`);
  if (policy.policyFn !== undefined) throw new PolicyError("chroot", policy.chroot, `chroot: ${JSON.stringify(policy.chroot)} with policyFn: the callback's paths inside a chroot are not supported yet`);
  // The supervisor's protected-name checks prove paths beneath the grants as the host sees
  // them; inside a root they would be judged against the wrong tree.
  if (policy.protectedFiles) throw new PolicyError("chroot", policy.chroot, `chroot: ${JSON.stringify(policy.chroot)} with protectedFiles (the workspace preset): protected names inside a chroot are not supported yet; lift it with protectedFiles: false (--allow-protected) if the root holds nothing to protect`);
  const root = realDirectory("chroot", "chroot", policy.chroot);
  const mounts: ChrootMount[] = [];
  const entries = Object.entries(policy.fsMount).sort(([a], [b]) => normalizeVirtual(a).split("/").length - normalizeVirtual(b).split("/").length);
  for (const [virtual, spec] of entries) {
    const readOnly = spec.endsWith(":ro");
    const given = readOnly ? spec.slice(0, -3) : spec;
    const label = `fsMount[${JSON.stringify(virtual)}]`;
    const host = realDirectory("fsMount", label, given);
    // The mount point, resolved in the root as the launcher resolves it (RESOLVE_IN_ROOT),
    // through the mounts made before it.
    const inner = chrootHostPath({ root, mounts, proc: false, dev: false }, virtual);
    linkFree("fsMount", label, virtual, inner, lexicalHostPath({ root, mounts, proc: false, dev: false }, virtual));
    let isDir = false;
    try {
      isDir = inner !== undefined && observe(`isdir ${inner}`, () => statSync(inner).isDirectory());
    } catch {
      isDir = false;
    }
    if (!isDir) throw new PolicyError("fsMount", virtual, `${label}: the mount point ${JSON.stringify(virtual)} is not a directory in the chroot ${JSON.stringify(policy.chroot)}: create it there (nothing is created in the chroot)`);
    mounts.push({ virtual: normalizeVirtual(virtual), host, readOnly });
  }
  const granted = [...policy.fsReadable, ...policy.fsWritable].map(normalizeVirtual);
  const wants = (tree: string): boolean => granted.some((g) => beneath(g, tree));
  // `user` writes its id maps through /proc/self after joining the root (launcher/userns.c),
  // before Landlock: /proc is bound then too, and stays closed to the command unless granted.
  // Bound but not granted, the directory's listing (the pids) would be reachable through a
  // directory right on the root: so `user` asks for the /proc grant (the view lists only the
  // sandbox's own processes).
  if (policy.user !== undefined && !wants("/proc")) throw new PolicyError("user", policy.user, `user: inside the chroot ${JSON.stringify(policy.chroot)} the id maps are written through /proc: grant /proc too (fsReadable "/proc", -r /proc; the sandbox sees only its own processes there)`);
  const spec: ChrootSpec = { root, mounts, proc: wants("/proc"), dev: wants("/dev") };
  const bindPoints: string[] = [];
  for (const tree of HOST_TREES) {
    if (!(tree === "/proc" ? spec.proc : spec.dev)) continue;
    const inner = resolveInRoot(root, tree);
    linkFree("chroot", "chroot", tree, inner, posix.join(root, tree));
    if (inner !== undefined) bindPoints.push(inner);
    let isDir = false;
    try {
      isDir = inner !== undefined && statSync(inner).isDirectory();
    } catch {
      isDir = false;
    }
    if (!isDir) throw new PolicyError("chroot", policy.chroot, `chroot: the host's ${tree} is bound at ${tree} (a path in it is granted), but ${JSON.stringify(posix.join(policy.chroot, tree))} is not a directory: create it in the chroot`);
  }
  if (bindPoints.length > 0) Object.assign(spec, { bindPoints });
  if (unavailable !== undefined) {
    throw new ConfinementError(`chroot: the root ${JSON.stringify(policy.chroot)} is built in ${process.getuid?.() === 0 ? "a mount namespace" : "a user namespace"}, and this host refuses it: ${unavailable}. Without it the host's files would be reachable, so the run is refused`, {});
  }
  return spec;
}

/** SL_STEP_CHROOT: u32 uid, u32 gid, u32 flags (1: /proc, 2: /dev), u32 pad, the root, then
 * per mount "r" (read-only) or "w", its virtual path and its host path, then "" (chroot.c). */
export function chrootPayload(spec: ChrootSpec, uid: number, gid: number): Buffer {
  const head = Buffer.alloc(16);
  head.writeUInt32LE(uid >>> 0, 0);
  head.writeUInt32LE(gid >>> 0, 4);
  head.writeUInt32LE((spec.proc ? 1 : 0) | (spec.dev ? 2 : 0), 8);
  const strings = [spec.root, ...spec.mounts.flatMap((m) => [m.readOnly ? "r" : "w", m.virtual, m.host]), ""];
  for (const x of strings) refuseNul(x);
  return Buffer.concat([head, Buffer.from(strings.map((x) => `${x}\0`).join(""), "utf8")]);
}

/**
 * The grants with the host's /proc and /dev kept out of them. Landlock allows by the path the
 * sandbox walks: in its namespace a rule on the root (or on any directory above the mount
 * point) would cover the bound /proc and /dev whole, past the /proc view and the device
 * allowlist. So a grant above a bind point is split, read-only or writable: its directory
 * keeps only its directory rights, every other entry gets the grant's rights, and the bind
 * point none (the /proc and /dev grants themselves are planned apart, as on the host).
 * Files made later directly in a split directory have no rights beyond being listed: grant
 * a subdirectory for those.
 */
export function splitAroundBinds(spec: ChrootSpec, grants: readonly PathGrant[]): PathGrant[] {
  const points = spec.bindPoints ?? [];
  if (points.length === 0) return [...grants];
  const out: PathGrant[] = [];
  const split = (g: PathGrant, dir: string, inside: readonly string[]): void => {
    out.push({ path: dir, isDir: true, writable: g.writable, dirOnly: true });
    const entries = observe(`list ${dir}`, () => readdirSync(dir, { withFileTypes: true }).map((e) => ({ name: e.name, dir: e.isDirectory(), link: e.isSymbolicLink() })));
    for (const e of entries) {
      const path = posix.join(dir, e.name);
      // Landlock checks the file a symlink leads to, under that file's own rule.
      if (e.link || inside.includes(path)) continue;
      const deeper = inside.filter((p) => beneath(p, path));
      if (deeper.length > 0 && e.dir) split(g, path, deeper);
      else out.push({ path, isDir: e.dir, writable: g.writable });
    }
  };
  for (const g of grants) {
    const inside = points.filter((p) => beneath(p, g.path));
    if (g.dirOnly === true || !g.isDir || inside.length === 0) out.push(g);
    else if (inside.includes(g.path)) continue; // the bind point itself: the host's tree is planned apart
    else split(g, g.path, inside);
  }
  return out;
}
