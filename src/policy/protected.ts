// protectedFiles: the names, relative to the root of a writable grant or a workdir, of the
// files that make code run later outside the sandbox (docs/security.md, "Protected files").

/**
 * Each entry protects the name and everything beneath it. Git runs hooks and reads its
 * config (core.hooksPath, core.fsmonitor, aliases, filters) on the next command; direnv
 * loads .envrc on `cd`; editors and coding agents run tasks, hooks and MCP servers from
 * their project settings; npm reads .npmrc (script-shell, node-options); shells read
 * their start-up files when the grant is a home directory. `.git/commondir` names the
 * directory git takes its config and hooks from instead, `.git/config.worktree` is more
 * config (with extensions.worktreeConfig); `.git/modules` holds the git
 * directories of submodules (their config and hooks: the superproject's `git status` runs
 * in each), `.git/worktrees` those of linked worktrees (each `commondir` says where a
 * worktree, often outside the grant, takes its config from) (fifth review). `.gitconfig`
 * and `.config/git` are the user's own git config and hooks when the grant is a home
 * directory: every git command anywhere reads them (sixth review). `node-compile-cache` is
 * where Node 22 and later keep compiled code for `module.enableCompileCache()` by default
 * (beneath the temporary directory): the V8 code caches there are code the next Node
 * program to load those modules runs, outside the sandbox, and V8 checks a cache only
 * against its source's length. Found in /tmp on the machines this project runs on, written
 * as root by the tools of three Node versions; a sandbox granted /tmp could plant code in
 * it (docs/security.md, "Protected files").
 */
export const PROTECTED_NAMES: readonly string[] = Object.freeze([
  ".git/hooks", ".git/config", ".git/config.worktree", ".git/commondir", ".git/modules", ".git/worktrees",
  ".envrc",
  ".vscode", ".idea", ".cursor", ".claude", ".mcp.json",
  ".npmrc",
  ".gitconfig", ".config/git",
  ".bashrc", ".bash_profile", ".bash_login", ".bash_logout", ".profile", ".zshrc", ".zshenv", ".zprofile", ".zlogin",
  "node-compile-cache",
]);

/** Whether `rel` (relative to a grant's root or the workdir, "/"-separated, no leading
 * "/") is a protected name or lies beneath one, at any depth (as the supervisor refuses). */
export function isProtected(rel: string): boolean {
  return protectedAt(rel.split("/"));
}

/** Whether removing or replacing `rel` would take a protected name with it (`.git`,
 * `sub/.git`). */
export function holdsProtected(rel: string): boolean {
  return holdsAt(rel.split("/"));
}

/** Whether a change that leaves `rel` of that kind redirects git: `.git` (at any depth) as
 * a file (a gitfile, "gitdir: PATH") or a symbolic link sends git to a directory of the
 * writer's choosing, config and hooks included (fifth review). */
export function redirectsGit(rel: string, isDir: boolean): boolean {
  return rel.split("/").pop() === ".git" && !isDir;
}

const PROTECTED_PARTS: readonly (readonly string[])[] = PROTECTED_NAMES.map((n) => n.split("/"));

/**
 * Whether a path, as its components below a writable grant's root, is a protected name or
 * lies beneath one at any depth: `sub/.git/hooks/x` and `a/b/.envrc` are, as is
 * `.git/config` itself. The supervisor refuses every name operation there (names.ts).
 */
export function protectedAt(parts: readonly string[]): boolean {
  for (let i = 0; i < parts.length; i++) {
    for (const p of PROTECTED_PARTS) {
      if (i + p.length > parts.length) continue;
      if (p.every((c, k) => parts[i + k] === c)) return true;
    }
  }
  return false;
}

/**
 * Whether a path, at any depth, names a directory that protected names live in (`.git`,
 * `sub/.git`): renaming it away, or renaming a directory onto it, would move a protected
 * subtree to an unprotected name or bring a directory of the sandbox's in as one.
 */
export function holdsAt(parts: readonly string[]): boolean {
  if (parts.length === 0) return false;
  for (const p of PROTECTED_PARTS) {
    for (let len = 1; len < p.length && len <= parts.length; len++) {
      if (p.slice(0, len).every((c, k) => parts[parts.length - len + k] === c)) return true;
    }
  }
  return false;
}
