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
 * worktree, often outside the grant, takes its config from) (fifth review).
 */
export const PROTECTED_NAMES: readonly string[] = Object.freeze([
  ".git/hooks", ".git/config", ".git/config.worktree", ".git/commondir", ".git/modules", ".git/worktrees",
  ".envrc",
  ".vscode", ".idea", ".cursor", ".claude", ".mcp.json",
  ".npmrc",
  ".bashrc", ".bash_profile", ".bash_login", ".bash_logout", ".profile", ".zshrc", ".zshenv", ".zprofile", ".zlogin",
]);

/** Whether `rel` (relative to a grant's root, "/"-separated, no leading "/") is a
 * protected name or lies beneath one. */
export function isProtected(rel: string): boolean {
  return PROTECTED_NAMES.some((n) => rel === n || rel.startsWith(`${n}/`));
}

/** Whether removing or replacing `rel` would take a protected name with it (".git"). */
export function holdsProtected(rel: string): boolean {
  return PROTECTED_NAMES.some((n) => n.startsWith(`${rel}/`));
}

/** Whether a change that leaves `rel` of that kind redirects git: `.git` as a file (a
 * gitfile, "gitdir: PATH") or a symbolic link sends git to a directory of the writer's
 * choosing, config and hooks included (fifth review). */
export function redirectsGit(rel: string, isDir: boolean): boolean {
  return rel === ".git" && !isDir;
}
