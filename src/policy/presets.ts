// Built-in presets (SPEC 9a): named policy inputs made of ordinary fields, resolved against
// this host (only paths that exist are granted) and the working directory (workspace).

import { existsSync, lstatSync, readdirSync, realpathSync } from "node:fs";
import { PolicyError } from "../errors.js";
import { composeInputs } from "./compose.js";
import { didYouMean } from "./suggest.js";
import type { PolicyInput } from "./types.js";

/** The built-in presets, usable as `-p NAME` and `Policy.preset(NAME)` (docs/profiles.md). */
export const PRESET_NAMES = ["minimal", "system", "workspace", "system-net", "workspace-net"] as const;
/** One built-in preset name. */
export type PresetName = (typeof PRESET_NAMES)[number];

/** One line each, for `sandlock profile list` and the help. */
export const PRESET_SUMMARY: Readonly<Record<PresetName, string>> = Object.freeze({
  "minimal": "the loader and the shared libraries a dynamically linked program needs to start, nothing else",
  "system": "read-only system directories, a curated part of /etc (no secrets), /dev/null, zero, full, random, urandom, tty, /proc (the sandbox's view)",
  "workspace": "system, the working directory writable, a private TMPDIR and HOME made per run and removed after; no network",
  "system-net": "system, with outbound HTTP, HTTPS and DNS",
  "workspace-net": "workspace, with outbound HTTP, HTTPS and DNS",
});

/** The host as presets see it (a fake in unit tests). */
export interface PresetHost {
  /** Whether something exists at path (symlinks followed). */
  exists(path: string): boolean;
  /** The real path, or undefined when it cannot be resolved. */
  realpath(path: string): string | undefined;
  /** Whether path itself is a symbolic link. */
  isSymlink(path: string): boolean;
  /** Names in a directory ([] when it cannot be listed). */
  list(dir: string): string[];
}

export const HOST: PresetHost = {
  exists: (p) => existsSync(p),
  realpath: (p) => {
    try {
      return realpathSync.native(p);
    } catch {
      return undefined;
    }
  },
  isSymlink: (p) => lstatSync(p, { throwIfNoEntry: false })?.isSymbolicLink() === true,
  list: (d) => {
    try {
      return readdirSync(d);
    } catch {
      return [];
    }
  },
};

/** The directories the dynamic loader searches by default, and its configuration. */
const LIBRARY_DIRS = ["/lib", "/lib64", "/lib32", "/libx32", "/usr/lib", "/usr/lib64", "/usr/lib32", "/usr/libx32", "/usr/local/lib"];
const LOADER_CONFIG = ["/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/ld.so.preload"];

/** Read-only system trees (besides the libraries). /opt holds installed software. */
const SYSTEM_DIRS = ["/usr", "/bin", "/sbin", "/opt"];

/**
 * The part of /etc that programs read to start and work: users and groups (no passwords:
 * those live in shadow), name resolution, time and locale, the public TLS trust store,
 * shells and terminals, and the system-wide configuration of common tools. An allowlist:
 * whatever is not named here (shadow, gshadow, sudoers, ssh host keys, ssl/private,
 * machine-id, PAM, cron, package manager state) gets no rule, for root as for anyone.
 */
const ETC_ENTRIES = [
  "passwd", "group", "nsswitch.conf", "host.conf", "hosts", "hostname", "resolv.conf", "gai.conf",
  "services", "protocols", "networks", "rpc", "netconfig", "ethertypes",
  "localtime", "timezone", "locale.alias", "locale.conf", "locale.gen",
  "ssl/certs", "ssl/openssl.cnf", "ca-certificates", "ca-certificates.conf", "pki/tls/certs", "pki/tls/openssl.cnf",
  "pki/ca-trust", "crypto-policies",
  "shells", "profile", "profile.d", "bash.bashrc", "bashrc", "inputrc", "terminfo", "environment",
  "alternatives", "gitconfig", "npmrc", "pip.conf", "perl", "vim", "vimrc", "nanorc", "wgetrc", "magic", "magic.mime",
  "mime.types", "manpath.config", "xdg", "fonts", "os-release", "lsb-release", "debian_version", "redhat-release",
  "alpine-release", "mtab",
];
/** Versioned directories of the same kind: /etc/python3.11. */
const ETC_PATTERN = /^python3(\.\d+)?$/;

/**
 * Paths that no preset ever grants, checked on the real path of every grant (a link in
 * /etc pointing at one of them is left out): password hashes, sudo rules, SSH host keys,
 * TLS private keys, the host's identity, Kerberos keys, VPN and Wi-Fi secrets.
 */
export const SECRET_PATHS: readonly string[] = [
  "/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-", "/etc/sudoers", "/etc/sudoers.d", "/etc/ssh",
  "/etc/ssl/private", "/etc/pki/tls/private", "/etc/machine-id", "/etc/krb5.keytab", "/etc/security",
  "/etc/wireguard", "/etc/ipsec.secrets", "/etc/NetworkManager/system-connections", "/etc/ppp", "/etc/credstore",
  "/etc/letsencrypt", "/etc/subuid", "/etc/subgid",
];

/** Device nodes programs expect; the writable ones are sinks or the caller's own terminal. */
const DEV_WRITABLE = ["/dev/null", "/dev/zero", "/dev/full", "/dev/tty"];
const DEV_READABLE = ["/dev/random", "/dev/urandom"];

/** What a program may reach from a network preset: web and name resolution. */
export const WEB_RULES: readonly string[] = ["tcp://*:80,443", "*:53"];

function within(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir.endsWith("/") ? dir : `${dir}/`);
}

function isSecret(real: string): boolean {
  return SECRET_PATHS.some((s) => within(real, s));
}

/**
 * The paths among `paths` that exist, by their real path, each once, never a secret. A
 * symlink's target is granted (Landlock checks the file it leads to), except in kernel
 * filesystems, which get their own handling (/etc/mtab -> /proc/mounts stays /etc/mtab).
 */
function existing(host: PresetHost, paths: readonly string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    const real = host.realpath(p);
    if (real === undefined || isSecret(real) || isSecret(p)) continue;
    // A link into a kernel filesystem (/etc/mtab -> /proc/self/mounts) would become a rule
    // on the resolving process's own /proc entry: left out, the /proc grant serves it.
    if (real !== p && ["/proc", "/sys", "/dev"].some((k) => within(real, k))) continue;
    if (!out.includes(real)) out.push(real);
  }
  return out;
}

function etcEntries(host: PresetHost): string[] {
  const names = [...ETC_ENTRIES, ...host.list("/etc").filter((n) => ETC_PATTERN.test(n)).sort()];
  return names.map((n) => `/etc/${n}`);
}

/** Grants inside another grant of the same list add nothing (/usr/bin under /usr). */
function outermost(paths: readonly string[]): string[] {
  return paths.filter((p) => !paths.some((q) => q !== p && within(p, q)));
}

function minimal(host: PresetHost): PolicyInput {
  return { fsReadable: outermost(existing(host, [...LIBRARY_DIRS, ...LOADER_CONFIG])) };
}

/** `proc`: grant /proc (through the sandbox's view, which needs the supervisor). */
function system(host: PresetHost, proc = true): PolicyInput {
  const readable = [...SYSTEM_DIRS, ...LIBRARY_DIRS, ...LOADER_CONFIG, ...etcEntries(host), ...DEV_READABLE, ...(proc ? ["/proc"] : []), "/sys/devices/system/cpu"];
  return { fsReadable: outermost(existing(host, readable)), fsWritable: existing(host, DEV_WRITABLE) };
}

/**
 * Why "/" is refused: workspace makes the working directory writable, and at "/" that is
 * the whole filesystem. The error says how to choose the project directory instead.
 */
function workspace(host: PresetHost, cwd: string, home: string | undefined, proc = true): PolicyInput {
  const real = host.realpath(cwd) ?? cwd;
  const why =
    real === "/" ? "the whole filesystem" :
    real === "/home" || real === "/root" ? "every user's files" :
    home !== undefined && real === (host.realpath(home) ?? home) ? "your home directory (~/.ssh, shell start-up files)" :
    isSecret(real) || within("/etc", real) ? "secrets of the system" : undefined;
  if (why !== undefined) {
    throw new PolicyError("cwd", cwd, `preset "workspace": the working directory ${JSON.stringify(cwd)} would make ${why} writable; run it from a project directory (or set cwd)`);
  }
  return composeInputs(system(host, proc), { fsWritable: [cwd], privateTmp: true, protectedFiles: true });
}

export interface PresetContext {
  /** The command's working directory (workspace makes it writable). */
  cwd: string;
  /** The caller's home directory, which workspace refuses to make writable. */
  home?: string;
  host?: PresetHost;
  /**
   * The sandbox runs without a supervisor (supervisor: false, --no-supervisor): /proc is
   * left out, since only the supervisor's view may show it (a sandbox inside a sandbox
   * then sees no /proc at all, see docs/security.md "Without a supervisor").
   */
  unsupervised?: boolean;
}

/** The policy input of a preset on this host; PolicyError for an unknown name. */
export function presetInput(name: string, ctx: PresetContext): PolicyInput {
  const host = ctx.host ?? HOST;
  const proc = ctx.unsupervised !== true;
  switch (name as PresetName) {
    case "minimal": return minimal(host);
    case "system": return system(host, proc);
    case "workspace": return workspace(host, ctx.cwd, ctx.home, proc);
    case "system-net": return composeInputs(system(host, proc), { netAllow: WEB_RULES });
    case "workspace-net": return composeInputs(workspace(host, ctx.cwd, ctx.home, proc), { netAllow: WEB_RULES });
  }
  throw new PolicyError("preset", name, `preset: ${JSON.stringify(name)} is not a preset (presets: ${PRESET_NAMES.join(", ")})${didYouMean(name, PRESET_NAMES)}`);
}

/**
 * The smallest preset whose grants cover `real` (a real path), for the hint of an exec that
 * failed for lack of a grant: "minimal" (the loader, the libraries and their
 * configuration), "system" (the system trees), or undefined when neither does (no preset
 * grants a secret). Resolved on this host as `-p NAME` would be.
 */
export function presetCovering(real: string, host: PresetHost = HOST): "minimal" | "system" | undefined {
  for (const name of ["minimal", "system"] as const) {
    const p = presetInput(name, { cwd: "/", host });
    const grants = [...(p.fsReadable ?? []), ...(p.fsWritable ?? [])];
    if (grants.some((g) => typeof g === "string" && within(real, g))) return name;
  }
  return undefined;
}

export function isPresetName(name: string): name is PresetName {
  return (PRESET_NAMES as readonly string[]).includes(name);
}
