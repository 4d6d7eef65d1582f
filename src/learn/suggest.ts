// From what a learning run saw to the smallest profile that lets the command run: a base
// preset (minimal or system), the paths it does not cover collapsed to sensible
// directories, never a secret, and the network destinations by name where the run looked
// the name up.

import { basename, dirname, join, relative, sep } from "node:path";
import { tmpdir } from "node:os";
import { within } from "../plan/proc-grants.js";
import { HOST, SECRET_PATHS, presetInput, type PresetHost } from "../policy/presets.js";
import type { Destination, FileAccess, Observed } from "./observed.js";

/** Files and directories of a home that hold credentials: never suggested, even when read. */
export const HOME_SECRETS: readonly string[] = [
  ".ssh", ".gnupg", ".aws", ".azure", ".config/gcloud", ".kube", ".docker/config.json", ".netrc", ".git-credentials",
  ".npmrc", ".pypirc", ".config/gh", ".config/hub", ".password-store", ".vault-token", ".cargo/credentials",
  ".cargo/credentials.toml", ".m2/settings.xml", ".gradle/gradle.properties", ".local/share/keyrings", ".pgpass",
  ".my.cnf", ".bash_history", ".zsh_history", ".python_history", ".node_repl_history", ".terraform.d/credentials.tfrc.json",
];

/** Home directories whose children are collapsed one level deeper (~/.cache/pip, not ~/.cache). */
const HOME_NESTED = new Set([".config", ".cache", ".local", ".local/share", ".local/lib", ".local/state"]);

export interface SuggestContext {
  /** The command's working directory during learning (writable there). */
  readonly cwd: string;
  readonly home: string | undefined;
  /** The other writable paths of the learning run (-w paths, /dev/null and the like). */
  readonly writable: readonly string[];
  readonly host?: PresetHost;
  /** Where private TMPDIRs are made (os.tmpdir()). */
  readonly tmpRoot?: string;
  /** Addresses of each name the run looked up (resolved after the run). */
  readonly addresses?: ReadonlyMap<string, readonly string[]>;
}

export interface Suggestion {
  readonly base: "minimal" | "system";
  /** Readable grants beyond the base, outermost only. */
  readonly read: readonly string[];
  /** Writable grants (the working directory when written, the -w paths written, /dev nodes). */
  readonly write: readonly string[];
  readonly privateTmp: boolean;
  /** Network rules: tcp://name:port or tcp://address:port. */
  readonly netAllow: readonly string[];
  readonly allowBind: readonly number[];
  /** Paths read or written that no suggestion includes because they hold secrets. */
  readonly secrets: readonly string[];
  /** Writes outside every writable path (refused while learning), by the directory to allow. */
  readonly refusedWrites: readonly string[];
}

function outermost(paths: Iterable<string>): string[] {
  const list = [...new Set(paths)].sort();
  return list.filter((p) => !list.some((q) => q !== p && within(p, q)));
}

export function isSecretPath(path: string, home: string | undefined, real: string | undefined): boolean {
  const candidates = real === undefined || real === path ? [path] : [path, real];
  return candidates.some((p) => SECRET_PATHS.some((s) => within(p, s)) || (home !== undefined && HOME_SECRETS.some((s) => within(p, join(home, s)))));
}

/** Whether a grant of `dir` would hold a secret beneath it: a directory above one ("/",
 * "/etc", the home directory) is never suggested whole, whatever was listed or read in it.
 * `homes`: the home directory as spelled and as it really is. */
function holdsSecret(dir: string, homes: readonly string[]): boolean {
  return SECRET_PATHS.some((s) => within(s, dir)) || homes.some((h) => HOME_SECRETS.some((s) => within(join(h, s), dir)));
}

/**
 * Directories of /dev whose entries are made per run: a terminal's number, POSIX shared
 * memory and semaphores (/dev/shm/sem.NAME), message queues. The directory is suggested,
 * not the entry.
 */
function sharedDevDir(path: string): string | undefined {
  return ["/dev/pts", "/dev/shm", "/dev/mqueue"].find((d) => within(path, d) && path !== d);
}

/** The grant that covers one path read outside the base. `path` is where the file really
 * is (symbolic links resolved): the rules below must judge what Landlock will grant, not a
 * spelling the command chose (a link it made to /etc, read as ./e/fstab). `cwds`: the
 * working directory as spelled and as it really is. */
function readGrant(path: string, access: ReadonlySet<FileAccess>, ctx: SuggestContext, host: PresetHost, cwds: readonly string[], homes: readonly string[]): string | undefined {
  const shared = sharedDevDir(path);
  if (shared !== undefined) return shared;
  if (within(path, "/dev")) return path; // one node at a time
  if (cwds.some((c) => within(path, c))) return ctx.cwd;
  const home = ctx.home;
  if (home !== undefined && within(path, home) && path !== home) {
    const rel = path.slice(home.length + 1).split("/");
    const depth = HOME_NESTED.has(rel[0]!) || HOME_NESTED.has(rel.slice(0, 2).join("/")) ? (HOME_NESTED.has(rel.slice(0, 2).join("/")) ? 3 : 2) : 1;
    return join(home, ...rel.slice(0, Math.min(depth, rel.length)));
  }
  // /etc holds secrets next to ordinary files: one file at a time there.
  if (within(path, "/etc") || within(path, "/sys")) return path;
  if (access.has("list")) return path;
  // A file elsewhere: its directory (a library's neighbours, a script's modules), unless
  // that directory holds a secret (a file read in "/" is granted alone, not "/").
  if (!host.exists(path) || isDirectory(path, host)) return path;
  return holdsSecret(dirname(path), homes) ? path : dirname(path);
}

/** A trailing slash makes the lookup fail (ENOTDIR) unless path is a directory. */
function isDirectory(path: string, host: PresetHost): boolean {
  return host.exists(`${path}/`);
}

function formatDestination(d: Destination, names: ReadonlyMap<string, readonly string[]>): string {
  const name = [...names].find(([, addrs]) => addrs.includes(d.address))?.[0];
  const host = name ?? (d.address.includes(":") ? `[${d.address}]` : d.address);
  return `${d.protocol}://${host}:${d.port}`;
}

/**
 * The profile for what `seen` saw. Paths that no longer exist are left out (a probe that
 * found nothing finds nothing without a grant too); a write is granted on its directory.
 */
export function suggest(seen: Observed, ctx: SuggestContext): Suggestion {
  const host = ctx.host ?? HOST;
  const tmpRoot = ctx.tmpRoot ?? tmpdir();
  const privateTmp = (p: string): boolean => within(p, tmpRoot) && basename(p.slice(tmpRoot.length + 1).split(sep)[0] ?? "").startsWith("sandlock-tmp-");
  const minimalRead = presetInput("minimal", { cwd: ctx.cwd, host }).fsReadable ?? [];
  const system = presetInput("system", { cwd: ctx.cwd, host });
  const systemRead = system.fsReadable ?? [];
  const systemWrite = system.fsWritable ?? [];
  const covered = (p: string, grants: readonly string[]): boolean => {
    const real = host.realpath(p) ?? p;
    return grants.some((g) => within(p, g) || within(real, g));
  };

  const secrets = new Set<string>();
  const reads = new Map<string, ReadonlySet<FileAccess>>();
  const writes: string[] = [];
  let usesTmp = false;
  let needsSystem = false;
  for (const [path, access] of seen.files) {
    if (privateTmp(path)) {
      usesTmp = true;
      continue;
    }
    const real = host.realpath(path);
    if (isSecretPath(path, ctx.home, real)) {
      if (real !== undefined) secrets.add(path);
      continue;
    }
    if (within(path, "/proc")) {
      needsSystem = true; // the /proc view comes with the system preset
      continue;
    }
    if (access.has("write")) writes.push(path);
    // Keyed by the real path: a grant names what Landlock resolves, so a path read
    // through a link is judged (and granted) where it really is.
    if ((access.has("read") || access.has("exec") || access.has("list")) && real !== undefined) reads.set(real, new Set([...(reads.get(real) ?? []), ...access]));
  }

  // Writes: inside a writable path of the learning run (else the kernel refused them).
  // Judged, like reads, where they really are: a write recorded as -w/l/etc/x, where the
  // command made l a link to /, named the grant -w/l/etc, which the next run's Landlock
  // rule opens as /etc (and -w/l as /). The learning run's own rules were opened the same
  // way, so a write that lands outside them was refused and is reported as such.
  const allowedWrite = [ctx.cwd, ...ctx.writable];
  const allowedReal = allowedWrite.map((w) => host.realpath(w) ?? w);
  const write = new Set<string>();
  const refused = new Set<string>();
  for (const p of writes) {
    // The grant that would cover this write: a directory made per run, a /dev node, the
    // directory the write happened in (a write may create the file), or the path itself
    // when it is a directory.
    const dev = sharedDevDir(p) ?? (within(p, "/dev") ? p : undefined);
    // A link is a name in its directory (made, moved or removed there): never the place it
    // leads to. A write that went through it is then proposed as that directory, as safe as
    // any other grant there (the record does not say which call it was).
    const link = dev === undefined && host.isSymlink(p);
    const near = dev ?? (!link && host.exists(p) && isDirectory(p, host) ? p : existingParent(p, host));
    if (near === undefined) continue;
    const grant = dev ?? host.realpath(near);
    if (grant === undefined) continue;
    // Where the write itself went: a -w FILE is written in its directory, which no -w covers.
    const target = dev !== undefined ? p : (link ? undefined : host.realpath(p)) ?? join(grant, relative(near, p));
    const at = (dev !== undefined ? allowedWrite : allowedReal).findIndex((w) => within(target, w));
    const allowed = (dev !== undefined ? allowedWrite : allowedReal)[at];
    if (allowed === undefined) refused.add(grant);
    else if (at === 0) write.add(ctx.cwd);
    else write.add(within(grant, allowed) ? grant : allowed);
  }

  const extra = (grants: readonly string[]): string[] => [...reads].filter(([p]) => !covered(p, grants) && !write.has(p) && ![...write].some((w) => within(p, w))).map(([p]) => p);
  const cwds = [...new Set([ctx.cwd, host.realpath(ctx.cwd) ?? ctx.cwd])];
  const homes = ctx.home === undefined ? [] : [...new Set([ctx.home, host.realpath(ctx.home) ?? ctx.home])];
  const base = needsSystem || extra(minimalRead).some((p) => !cwds.some((c) => within(p, c))) ? "system" : "minimal";
  const baseRead = base === "system" ? systemRead : minimalRead;
  // A directory that was listed is granted as it is, unless a secret lies beneath it (a
  // listing of "/" or of /etc): then it is left out, and reported with the secrets.
  const grants = extra(baseRead).map((p) => readGrant(p, reads.get(p)!, ctx, host, cwds, homes)).filter((p): p is string => p !== undefined);
  const read = outermost(grants.filter((p) => {
    const real = host.realpath(p);
    if (isSecretPath(p, ctx.home, real)) return false;
    if (!holdsSecret(p, homes) && (real === undefined || !holdsSecret(real, homes))) return true;
    secrets.add(p);
    return false;
  }));
  const writeList = outermost([...write].filter((w) => !(base === "system" && systemWrite.includes(w))));

  const names = ctx.addresses ?? new Map<string, readonly string[]>();
  const named = [...seen.destinations.values()].filter((d) => d.port !== 53 || ![...names.values()].some((a) => a.includes(d.address)));
  // DNS itself: needless when every other destination has a name (rules with names get a
  // synthetic /etc/hosts), kept otherwise.
  const unnamed = named.filter((d) => d.port !== 53 && formatDestination(d, names).includes(d.address));
  const netAllow = [...new Set(named.filter((d) => d.port !== 53 || unnamed.length > 0).map((d) => formatDestination(d, names)))].sort();
  return {
    base,
    read,
    write: writeList,
    privateTmp: usesTmp,
    netAllow,
    allowBind: [...seen.binds].filter((p) => p !== 0).sort((a, b) => a - b),
    secrets: [...secrets].sort(),
    refusedWrites: outermost(refused),
  };
}

function existingParent(path: string, host: PresetHost): string | undefined {
  let p = dirname(path);
  while (p !== "/" && !host.exists(p)) p = dirname(p);
  return host.exists(p) ? p : undefined;
}
