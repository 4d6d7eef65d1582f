// protectedFiles at planning: the git configs git reads for the repositories at the writable
// grants' roots (and the user's own) may include other files or take hooks from a directory
// (core.hooksPath); one in a writable grant is config or hooks the sandbox can write, so
// such a start is refused (sixth review).

import { closeSync, constants, existsSync, fstatSync, openSync, readSync, readdirSync, realpathSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { PolicyError } from "../errors.js";
import { grantRealpath } from "./grant-path.js";
import { observe } from "./host-reads.js";
import type { PathGrant } from "./landlock.js";

/** git's own limit on nested includes (config.c MAX_INCLUDE_DEPTH). */
const MAX_DEPTH = 10;
/** Submodule and worktree git directories looked at per repository. */
const MAX_ENTRIES = 200;

/** One `include.path` / `includeIf.<cond>.path` / `core.hooksPath` value of a config
 * file, as written. */
export interface IncludeLine {
  readonly value: string;
  readonly key: string;
}

const unquote = (raw: string): string => {
  let out = "";
  let quoted = false;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === "\\" && i + 1 < raw.length) {
      const e = raw[++i]!;
      out += e === "n" ? "\n" : e === "t" ? "\t" : e;
    } else if (c === '"') quoted = !quoted;
    else if (!quoted && (c === "#" || c === ";")) break;
    else out += c;
  }
  return out.trim();
};

/**
 * The include lines of a git config file's text: `path` in section `include` or
 * `includeIf "<condition>"` (section and key names are case-insensitive to git; the
 * condition is ignored on purpose: which repository the user's next git command runs in
 * is not known here, so every conditional include counts).
 */
export function includeLines(text: string): IncludeLine[] {
  const out: IncludeLine[] = [];
  let section = "";
  for (const line of text.split("\n")) {
    let rest = line.trim();
    const head = /^\[\s*([A-Za-z0-9.-]+)(?:\s+"((?:[^"\\]|\\.)*)")?\s*\]/.exec(rest);
    if (head) {
      section = head[1]!.toLowerCase();
      if (/^includeif\./.test(section)) section = "includeif"; // [includeIf.cond] (old syntax)
      rest = rest.slice(head[0].length).trim();
      if (rest === "") continue;
    }
    const kv = /^([A-Za-z][A-Za-z0-9-]*)\s*=\s*(.*)$/.exec(rest);
    if (!kv) continue;
    const key = kv[1]!.toLowerCase();
    if (section === "core" && key === "hookspath") out.push({ key: "core.hooksPath", value: unquote(kv[2]!) });
    if (key !== "path" || (section !== "include" && section !== "includeif")) continue;
    out.push({ key: `${section === "include" ? "include" : "includeIf"}.path`, value: unquote(kv[2]!) });
  }
  return out;
}

/** Where git looks for an include value written in `from`: `~/` is the home directory, a
 * relative path is relative to the including file's directory; undefined for what cannot be
 * placed (`%(prefix)/`, an empty value). */
export function includeTarget(value: string, from: string, home: string): string | undefined {
  if (value === "" || value.startsWith("%(prefix)/")) return undefined;
  if (value === "~" || value.startsWith("~/")) return join(home, value.slice(1));
  if (value.startsWith("~")) return undefined; // ~user: another user's home
  return isAbsolute(value) ? resolve(value) : resolve(dirname(from), value);
}

/** The real path of `path`, or of its longest existing ancestor with the rest appended
 * (an include target need not exist yet: a missing one is as good to plant). */
function realish(path: string): string {
  const tail: string[] = [];
  let p = path;
  for (;;) {
    try {
      return join(realpathSync(p), ...tail.reverse());
    } catch {
      const up = dirname(p);
      if (up === p) return path;
      tail.push(p.slice(up.length + (up === "/" ? 0 : 1)));
      p = up;
    }
  }
}

/** Past this a config is refused, not read: git reads a config whole, so an include after
 * padding would be missed by a partial read. */
const MAX_CONFIG_BYTES = 16 << 20;

/**
 * The text of a config file as git reads it (links followed), or null when there is none.
 * Opened without blocking and read only when it is a regular file: a FIFO put in its place
 * (by a sandbox that could write the repository) blocked this read, and with it the start
 * of every later protectedFiles run on that directory (the host's event loop, in a
 * library), and a link to /dev/zero read without end.
 */
const readText = (path: string): string | null => observe(undefined, () => {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch {
    return null;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return null;
    if (st.size > MAX_CONFIG_BYTES) throw new PolicyError("protectedFiles", true, `protectedFiles: ${path} is ${st.size} bytes, more than sandlock reads of a git config (${MAX_CONFIG_BYTES}) to find what it includes; shrink it, or lift the protection with --allow-protected (protectedFiles: false)`);
    const buf = Buffer.alloc(st.size + 1);
    let n = 0;
    for (let got; n < buf.length && (got = readSync(fd, buf, n, buf.length - n, null)) > 0; ) n += got;
    if (n > st.size) throw new PolicyError("protectedFiles", true, `protectedFiles: ${path} grew while sandlock read it to find what it includes (another process is writing it); run again once it is written`);
    return buf.toString("utf8", 0, n);
  } finally {
    closeSync(fd);
  }
});

const list = (dir: string): string[] => observe(undefined, () => {
  try {
    return readdirSync(dir).slice(0, MAX_ENTRIES);
  } catch {
    return [];
  }
});

/** The config files git reads for the repository whose git directory is `gitDir`:
 * its config and config.worktree, those of its submodules and linked worktrees, and the
 * config of the common directory its commondir names. */
function repoConfigs(gitDir: string): string[] {
  const out = [join(gitDir, "config"), join(gitDir, "config.worktree")];
  for (const m of list(join(gitDir, "modules"))) out.push(...repoConfigs(join(gitDir, "modules", m)).slice(0, 2));
  for (const w of list(join(gitDir, "worktrees"))) out.push(join(gitDir, "worktrees", w, "config.worktree"));
  const common = readText(join(gitDir, "commondir"))?.trim();
  if (common) out.push(join(resolve(gitDir, common), "config"));
  return out;
}

/** The git directory of a work tree at `root`: `.git`, or where a `.git` file (a linked
 * worktree's or a submodule's "gitdir: PATH") points. */
function gitDirAt(root: string): string {
  const dotGit = join(root, ".git");
  const file = readText(dotGit); // null for a directory (EISDIR) or nothing
  const m = file === null ? null : /^gitdir:\s*(.+?)\s*$/m.exec(file);
  return m ? resolve(root, m[1]!) : dotGit;
}

/** The user's and the system's config files, as git finds them. */
function userConfigs(env: NodeJS.ProcessEnv, home: string): string[] {
  const out: string[] = [];
  if (env.GIT_CONFIG_NOSYSTEM === undefined) out.push(env.GIT_CONFIG_SYSTEM ?? "/etc/gitconfig");
  if (env.GIT_CONFIG_GLOBAL !== undefined) out.push(env.GIT_CONFIG_GLOBAL);
  else out.push(join(env.XDG_CONFIG_HOME ?? join(home, ".config"), "git", "config"), join(home, ".gitconfig"));
  return out;
}

const within = (path: string, root: string): boolean => path === root || (root === "/" ? path.startsWith("/") : path.startsWith(`${root}/`));

/**
 * Refuses the start when a config git reads for a repository at a writable grant's root
 * (or the user's own config) includes a file that lies in a writable grant: the sandbox
 * could write `core.fsmonitor`, `core.hooksPath` or an alias there, and the user's next git
 * command would run it outside the sandbox. Protecting the target as a name would need
 * each enforcement (the supervisor's names, the workdir's commit, the read-only binds) to
 * learn arbitrary paths, and a target can be chosen per repository by includeIf: refusing,
 * with the config and the grant named, is the same on every host. Deeper repositories
 * (`sub/.git/config`) are not read (that would walk the whole grant at every start).
 */
export function refuseIncludedConfigs(grants: readonly PathGrant[], env: NodeJS.ProcessEnv = process.env): void {
  const writable: { path: string; dir: boolean }[] = [];
  for (const g of grants) {
    if (!g.writable) continue;
    try {
      writable.push({ path: grantRealpath(g.path), dir: g.isDir && g.dirOnly !== true });
    } catch {
      // gone since planning: nothing there to write
    }
  }
  if (writable.length === 0) return;
  const home = env.HOME ?? homedir();
  // The work trees at the grants' roots: a relative core.hooksPath is taken from the top
  // of the work tree git runs in.
  const trees = writable.filter((g) => g.dir && observe(undefined, () => existsSync(join(g.path, ".git")))).map((g) => g.path);
  const refuse = (file: string, key: string, value: string, real: string, grant: string, what: string): never => {
    throw new PolicyError("protectedFiles", true, `protectedFiles: ${file} has ${key} = ${JSON.stringify(value)}, which is ${real}, inside the writable grant ${grant}: ${what}, so the sandbox could make the next git command outside it run code. Move it out of the grant, or lift the protection with --allow-protected (protectedFiles: false)`);
  };
  const grantOf = (real: string): string | undefined => writable.find((g) => (g.dir ? within(real, g.path) : real === g.path))?.path;
  const seen = new Set<string>();
  const visit = (file: string, depth: number, roots: readonly string[]): void => {
    if (depth > MAX_DEPTH || seen.has(file)) return;
    seen.add(file);
    const text = readText(file);
    if (text === null) return;
    for (const line of includeLines(text)) {
      if (line.key === "core.hooksPath") {
        // Hooks run from there (husky's `.husky`, a `.githooks` of the project).
        const fixed = line.value.startsWith("/") || line.value.startsWith("~") ? includeTarget(line.value, file, home) : undefined;
        for (const target of fixed !== undefined ? [fixed] : line.value === "" ? [] : roots.map((r) => resolve(r, line.value))) {
          const real = realish(target);
          const grant = grantOf(real);
          if (grant !== undefined) refuse(file, line.key, line.value, real, grant, "git runs the hooks in it (pre-commit, post-checkout...)");
        }
        continue;
      }
      const target = includeTarget(line.value, file, home);
      if (target === undefined) continue;
      const real = realish(target);
      const grant = grantOf(real);
      if (grant !== undefined) refuse(file, line.key, line.value, real, grant, "git reads it as config (core.fsmonitor, core.hooksPath, aliases run commands)");
      visit(target, depth + 1, roots);
    }
  };
  for (const f of userConfigs(env, home)) visit(f, 0, trees);
  for (const g of writable) if (g.dir) for (const f of repoConfigs(gitDirAt(g.path))) visit(f, 0, [g.path]);
}
