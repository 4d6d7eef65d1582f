// Where the registry of running named sandboxes lives: one directory per user, mode 0700,
// owned by that user and not a symlink, so no other user can list, plant or reach entries.
// $XDG_RUNTIME_DIR/sandlock when the session has one, else /tmp/sandlock-<uid>.

import { lstatSync, mkdirSync } from "node:fs";
import { join } from "node:path";

/** sizeof(sun_path) - 1: the longest socket path bind and connect take. */
const SUN_PATH_MAX = 107;
/** The longest entry file name: 32 hex digits and ".sock". */
export const ENTRY_NAME_BYTES = 37;

/** A registry directory that passed every check, or why it was refused. */
export interface Refusal {
  readonly ok: false;
  readonly path: string;
  readonly why: string;
  readonly missing: boolean;
}
export type DirCheck = { readonly ok: true; readonly path: string } | Refusal;

function euid(): number {
  return process.geteuid?.() ?? -1;
}

/**
 * The candidate directories, most preferred first. Processes of one user may disagree on
 * XDG_RUNTIME_DIR (a login shell has it, a service often not): sandboxes are registered in
 * the first usable candidate and looked up in all of them.
 */
export function candidateDirs(env: NodeJS.ProcessEnv = process.env): string[] {
  const out: string[] = [];
  const xdg = env.XDG_RUNTIME_DIR;
  if (xdg !== undefined && xdg.startsWith("/")) out.push(join(xdg, "sandlock"));
  out.push(`/tmp/sandlock-${euid()}`);
  return out;
}

function octal(mode: number): string {
  return `0${(mode & 0o7777).toString(8)}`;
}

/**
 * Checks `path` (creating it, mode 0700, when `create` is set and it does not exist). What
 * is refused, and why it matters on a shared /tmp where anyone may create names first:
 * a symlink (it would lead our sockets, and our connects, wherever its owner chose); a
 * directory owned by someone else (its owner could plant entries that answer in our name,
 * or remove ours); group or other permission bits (others could connect to or replace
 * entries). A directory in sticky /tmp cannot be renamed or removed by another user, so
 * once checked its path keeps naming it.
 */
export function checkDir(path: string, create: boolean): DirCheck {
  if (Buffer.byteLength(path) + 1 + ENTRY_NAME_BYTES > SUN_PATH_MAX) {
    return { ok: false, path, why: `its path is too long for a unix socket address (at most ${SUN_PATH_MAX - 1 - ENTRY_NAME_BYTES} bytes)`, missing: false };
  }
  for (let attempt = 0; attempt < 2; attempt++) {
    let st;
    try {
      st = lstatSync(path);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "EACCES") return { ok: false, path, why: "cannot be examined (lstat: EACCES): a directory above it is not open to this user", missing: false };
      if (code !== "ENOENT") return { ok: false, path, why: `lstat: ${code ?? String(e)}`, missing: false };
      if (!create) return { ok: false, path, why: "does not exist", missing: true };
      try {
        mkdirSync(path, { mode: 0o700 }); // not recursive: the parent must exist already
      } catch (m) {
        const mcode = (m as NodeJS.ErrnoException).code;
        if (mcode === "EEXIST") continue; // created meanwhile (by us or by someone else): check it
        return { ok: false, path, why: `mkdir: ${mcode ?? String(m)}`, missing: false };
      }
      continue;
    }
    if (st.isSymbolicLink()) return { ok: false, path, why: "is a symbolic link (refusing to follow it: someone else may have planted it)", missing: false };
    if (!st.isDirectory()) return { ok: false, path, why: "is not a directory", missing: false };
    if (st.uid !== euid()) return { ok: false, path, why: `is owned by uid ${st.uid}, not by this user (uid ${euid()}): someone else may have created it first`, missing: false };
    if ((st.mode & 0o077) !== 0) return { ok: false, path, why: `has mode ${octal(st.mode)}; it must be 0700 (chmod 700 ${path})`, missing: false };
    return { ok: true, path };
  }
  return { ok: false, path, why: "appeared and vanished while being created", missing: false };
}

let chosen: DirCheck | undefined;

/**
 * The directory new entries go to: the first candidate only (created if need be), checked
 * once per process (see checkDir for why a checked path stays valid). A refused one is not
 * replaced by the next candidate: a planted or loosened directory is an anomaly to report,
 * and where a process registers must not depend on what someone else created.
 */
export function registrationDir(): { dir: string | undefined; refused: Refusal[] } {
  if (chosen?.ok) return { dir: chosen.path, refused: [] };
  const c = checkDir(candidateDirs()[0]!, true);
  if (!c.ok) return { dir: undefined, refused: [c] };
  chosen = c;
  return { dir: c.path, refused: [] };
}

/** Forgets the checked directory (it was removed while this process ran). */
export function forgetRegistrationDir(): void {
  chosen = undefined;
}

/** Every existing candidate for lookups, checked now: usable ones and refused ones. */
export function lookupDirs(): { dirs: string[]; refused: Refusal[] } {
  const dirs: string[] = [];
  const refused: Refusal[] = [];
  for (const path of candidateDirs()) {
    const c = checkDir(path, false);
    if (c.ok) dirs.push(path);
    else if (!c.missing) refused.push(c);
  }
  return { dirs, refused };
}
