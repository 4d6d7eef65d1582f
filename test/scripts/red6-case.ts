// The sixth security review's cases (test/integration/redteam6.test.ts): what the host does
// for a sandbox before and after it runs, set up by files the sandbox can write. Prints one
// JSON line. Usage: red6-case.js PROBE PART
// Parts: git-include

import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Sandbox } from "../../src/index.js";

const probe = process.argv[2]!;
const part = process.argv[3]!;
const base = mkdtempSync("/tmp/sandlock-red6-");
chmodSync(base, 0o755);
const system = ["/usr", "/bin", "/lib", "/lib64", "/etc"];

/** A config that runs a command on every `git status` (core.fsmonitor is run as a hook). */
const evilConfig = (marker: string): string => `[core]\n\tfsmonitor = "touch ${marker}; false"\n`;

/** `git status` as the user would type it next, outside any sandbox, with HOME=`home`:
 * whether it ran the planted command (its marker appeared). */
function gitRunsPlanted(repo: string, marker: string, home: string): boolean {
  try {
    execFileSync("git", ["-C", repo, "status", "--short"], { env: { PATH: "/usr/bin:/bin", HOME: home, GIT_CONFIG_NOSYSTEM: "1" }, stdio: "ignore" });
  } catch {
    // a broken repository is no win; the marker decides
  }
  return existsSync(marker);
}

/**
 * A protected config that includes a file in the writable grant: the repository's own
 * `.git/config` (`[include] path = ../local.cfg`, relative to .git), and the user's
 * `~/.gitconfig` (`[includeIf "gitdir:..."] path = <repo>/team.cfg`). The sandbox writes the
 * included file; the user's next `git status` runs what it planted. Each with protectedFiles
 * on (refused at the start now) and off (the control: the plant runs), and a target outside
 * the grant (the control that the check refuses only what the grant reaches).
 */
async function gitInclude(): Promise<object> {
  const out: Record<string, unknown> = {};
  const home = join(base, "home");
  mkdirSync(home);
  const savedHome = process.env.HOME;
  process.env.HOME = home; // the user whose ~/.gitconfig is read (protect-includes.ts)
  try {
    const ways: Record<string, (repo: string) => string> = {
      repo: (repo) => {
        writeFileSync(join(repo, ".git", "config"), `[core]\n\trepositoryformatversion = 0\n[include]\n\tpath = ../local.cfg\n`, { flag: "a" });
        return "local.cfg";
      },
      global: (repo) => {
        writeFileSync(join(home, ".gitconfig"), `[includeIf "gitdir:${repo}/"]\n\tpath = ${repo}/team.cfg\n`);
        return "team.cfg";
      },
      outside: () => {
        writeFileSync(join(home, ".gitconfig"), `[include]\n\tpath = ~/own.cfg\n`);
        return "";
      },
    };
    for (const [way, setup] of Object.entries(ways)) {
      for (const on of [true, false]) {
        const key = `${way}-${on ? "protected" : "allowed"}`;
        const repo = join(base, key);
        execFileSync("git", ["init", "-q", repo], { env: { PATH: "/usr/bin:/bin", HOME: home } });
        rmSync(join(home, ".gitconfig"), { force: true });
        const file = setup(repo);
        const marker = join(base, `${key}.pwned`);
        const sh = file === "" ? "echo made > made.txt" : `printf '${evilConfig(marker)}' > ${file}`;
        let started: string;
        try {
          const r = await Sandbox.run({ fsReadable: system, fsWritable: [repo], cwd: repo, protectedFiles: on }, ["/bin/sh", "-c", sh], { timeout: 60_000 });
          started = `exit ${r.exitCode}`;
        } catch (e) {
          started = `${(e as Error).name}: ${(e as Error).message.replaceAll(base, "BASE")}`;
        }
        out[key] = { started, ran: file === "" ? existsSync(join(repo, "made.txt")) : gitRunsPlanted(repo, marker, home) };
      }
    }
  } finally {
    process.env.HOME = savedHome;
  }
  return out;
}

/**
 * A writable grant that is the user's home directory: `~/.gitconfig` and
 * `~/.config/git/config` are read by every git command the user types anywhere. The
 * sandbox writes a core.fsmonitor into each; the user's next `git status` in a repository
 * elsewhere runs it. protectedFiles on (refused: EACCES) and off (the control: it runs).
 */
async function gitHome(): Promise<object> {
  const out: Record<string, unknown> = {};
  for (const on of [true, false]) {
    for (const file of [".gitconfig", ".config/git/config"]) {
      const key = `${file}-${on ? "protected" : "allowed"}`;
      const home = join(base, `home-${on}-${file.replace(/\W/g, "")}`), repo = join(base, `elsewhere-${key.replace(/\W/g, "")}`);
      mkdirSync(home);
      execFileSync("git", ["init", "-q", repo], { env: { PATH: "/usr/bin:/bin", HOME: home } });
      const marker = join(base, `${key.replace(/\W/g, "")}.pwned`);
      const sh = `mkdir -p .config/git; printf '${evilConfig(marker)}' > ${file} && echo written`;
      const r = await Sandbox.run({ fsReadable: system, fsWritable: [home], cwd: home, env: { HOME: home }, protectedFiles: on }, ["/bin/sh", "-c", sh], { timeout: 60_000 });
      out[key] = { exit: r.exitCode, stderr: r.stderrText.trim().replaceAll(base, "BASE"), ran: gitRunsPlanted(repo, marker, home) };
    }
  }
  return out;
}

const parts: Record<string, () => Promise<object>> = {
  "git-include": gitInclude,
  "git-home": gitHome,
};
try {
  if (probe === "") throw new Error("no probe");
  console.log(JSON.stringify(await parts[part]!()));
} finally {
  rmSync(base, { recursive: true, force: true });
}
