// The flags of `sandlock run` (SPEC 9): one row each with the policy field it sets, how
// its value is read, and its line of help. Parser, policy mapping and help all read this.

import type { FlagSpec } from "./args.js";

/**
 * How a flag's value becomes policy input:
 * bool: true | off: false (a --no-X flag) | text: the string, last wins | int: an integer, last wins
 * list: appended | csv: comma-separated items appended | int-csv: integers appended
 * env: KEY=VALUE | user: UID:GID | mount: VIRTUAL:HOST[:ro] | gpu: "all" or int-csv
 * cli: read by the run command itself | profile: a preset, profile or profile file, composed
 * first in command-line order | later: recognised, answered "not supported yet"
 */
export type ValueKind = "bool" | "off" | "text" | "int" | "list" | "csv" | "int-csv" | "env" | "user" | "mount" | "gpu" | "cli" | "profile" | "later";

export interface RunFlag extends FlagSpec {
  readonly kind: ValueKind;
  /** The policy field it sets; dotted for nested ones ("protection.disable"). */
  readonly field?: string;
  /** For kind "later": what it is waiting for. */
  readonly later?: string;
  readonly section: string;
  /** The "meaning" cell of the flag's row in docs/cli.md (markdown; --help has `help`). */
  readonly doc: string;
}

const FS = "Filesystem";
const COW = "Copy-on-write workdir";
const NET = "Network";
const LIM = "Resources";
const DET = "Determinism";
const PROC = "Process";
const SYS = "Syscalls and protections";
const RUN = "Running";
const PROFILES = "Presets and profiles (flags add to their lists and override the rest)";

export const RUN_FLAGS: readonly RunFlag[] = [
  { long: "profile", short: "p", arg: "NAME", kind: "profile", section: PROFILES, help: "start from preset NAME (minimal, system, workspace, system-net, workspace-net) or profile ~/.config/sandlock/profiles/NAME.toml; repeatable", doc: "start from a preset or the profile `NAME.toml` ([profiles.md](profiles.md)); repeatable, composed in order before the flags" },
  { long: "profile-file", arg: "PATH", kind: "profile", section: PROFILES, help: "start from the TOML profile in file PATH; repeatable", doc: "start from the TOML profile in PATH; repeatable" },

  { long: "fs-read", short: "r", arg: "PATH", kind: "list", field: "fsReadable", section: FS, help: "grant read and execute on PATH (a subtree or a file); repeatable", doc: "readable and executable subtree or file; repeatable" },
  { long: "fs-write", short: "w", arg: "PATH", kind: "list", field: "fsWritable", section: FS, help: "grant write, read and execute on PATH; repeatable", doc: "writable (and readable) subtree or file; repeatable" },
  { long: "fs-deny", arg: "PATH", kind: "list", field: "fsDenied", section: FS, help: "deny PATH even inside a granted tree; repeatable", doc: "denied even inside a granted tree; repeatable" },
  { long: "chroot", arg: "PATH", kind: "text", field: "chroot", section: FS, help: "make PATH the root the command sees (a mount namespace of its own, no root needed; -r/-w/--cwd are paths inside it)", doc: "root the command sees (docs/chroot.md); grants and --cwd are paths inside it" },
  { long: "fs-mount", arg: "V:H[:ro]", kind: "mount", field: "fsMount", section: FS, help: "map host directory H to V inside --chroot, :ro for read-only; repeatable", doc: "host directory H seen at V inside the chroot; repeatable" },
  { long: "allow-protected", kind: "off", field: "protectedFiles", section: FS, help: "let the command write the protected files (.git/hooks, .git/config, .envrc, editor and agent settings...) that -p workspace refuses", doc: "let the command write the protected files (`.git/hooks`, `.git/config`, `.envrc`, editor and agent settings, shell start-up files) that `-p workspace` refuses at any depth ([security.md](security.md#protected-files))" },
  { long: "private-tmp", kind: "bool", field: "privateTmp", section: FS, help: "a private writable directory per run, removed after; TMPDIR and HOME point into it", doc: "a private writable directory made for the run (mode 0700 under the caller's temp directory) and removed after it; `TMPDIR` and `HOME` point into it" },
  { long: "cwd", arg: "PATH", kind: "text", field: "cwd", section: FS, help: "working directory of the command (default: --workdir, else the current one)", doc: "working directory of the command" },

  { long: "workdir", arg: "PATH", kind: "text", field: "workdir", section: COW, help: "copy-on-write directory: writes under PATH are staged until exit", doc: "copy-on-write directory" },
  { long: "fs-storage", arg: "PATH", kind: "text", field: "fsStorage", section: COW, help: "where the staged copy-on-write layers live", doc: "where copy-on-write layers live (needs `--workdir`)" },
  { long: "max-disk", arg: "SIZE", kind: "text", field: "maxDisk", section: COW, help: "copy-on-write quota, e.g. 1G (writes past it fail with ENOSPC)", doc: "copy-on-write quota (needs `--workdir`)" },
  { long: "on-exit", arg: "ACTION", kind: "text", field: "onExit", section: COW, help: "commit, abort or keep the staged writes when the command exits 0 (default commit)", doc: "what happens to staged writes on exit 0 (needs `--workdir`)" },
  { long: "on-error", arg: "ACTION", kind: "text", field: "onError", section: COW, help: "commit, abort or keep the staged writes otherwise (default abort)", doc: "the same on any other ending (needs `--workdir`)" },
  { long: "dry-run", kind: "cli", section: COW, help: "run, show what the command changed in --workdir, then discard it", doc: "run, show the workdir changes, discard them" },
  { long: "diff", kind: "cli", section: COW, help: "with --dry-run: also show a unified diff of the changed text files", doc: "with `--dry-run`: a unified diff of the changed text files" },

  { long: "net-allow", arg: "RULE", kind: "list", field: "netAllow", section: NET, help: "allow egress to [scheme://]host[:port,...], or a domain: https://*.example.com; repeatable (without it: no egress at all)", doc: "allowed egress, `[scheme://]target[:port,...]`, or a domain rule `https://*.example.com` (docs/agents.md); without any, no egress" },
  { long: "net-deny", arg: "RULE", kind: "list", field: "netDeny", section: NET, help: "allow all egress except to this IP or CIDR[:ports]; repeatable", doc: "egress allowed except these IPs/CIDRs; not with `--net-allow`" },
  { long: "net-allow-bind", arg: "PORTS", kind: "csv", field: "netAllowBind", section: NET, help: "ports the command may bind (TCP; UDP where allowed): 8080, 8000-8100 or *; comma list, repeatable", doc: "TCP ports that may be bound: `8080`, `8000-8100`, `*`; where UDP is allowed, the UDP ports a socket may bind and receive at (besides port 0 and the ephemeral range)" },
  { long: "net-deny-bind", arg: "PORTS", kind: "csv", field: "netDenyBind", section: NET, help: "bind any TCP port except these; comma list, repeatable", doc: "every port may be bound except these" },
  { long: "port-remap", kind: "bool", field: "portRemap", section: NET, help: "a TCP port busy on the host is bound elsewhere; the command still sees and reaches the port it asked for (--json: ports)", doc: "a busy port is bound elsewhere; the command sees the one it asked for" },

  { long: "max-memory", short: "m", arg: "SIZE", kind: "text", field: "maxMemory", section: LIM, help: "anonymous memory cap for the whole sandbox, e.g. 512M", doc: "anonymous memory cap of the whole sandbox; at least 1M (a bare number is bytes)" },
  { long: "max-processes", short: "P", arg: "N", kind: "int", field: "maxProcesses", section: LIM, help: "peak concurrent processes (default 64)", doc: "peak concurrent processes (default 64)" },
  { long: "max-epoll-watches", arg: "N", kind: "int", field: "maxEpollWatches", section: LIM, help: "epoll watches of the whole sandbox (default a quarter of fs.epoll.max_user_watches)", doc: "epoll watches the whole sandbox holds at most (ENOSPC past them); fs.epoll.max_user_watches is one count for the whole uid, and Node aborts when an add fails" },
  { long: "max-open-files", arg: "N", kind: "int", field: "maxOpenFiles", section: LIM, help: "open file descriptors per process (RLIMIT_NOFILE)", doc: "RLIMIT_NOFILE, set right before exec; never above the caller's hard limit (a larger value is applied at that limit and reported)" },
  { long: "cpu", short: "c", arg: "PERCENT", kind: "int", field: "maxCpu", section: LIM, help: "CPU cap in percent of one core, 1-100", doc: "1-100 percent of one core" },
  { long: "cpu-cores", arg: "LIST", kind: "int-csv", field: "cpuCores", section: LIM, help: "run on these CPUs only, e.g. 0,2 (the command cannot widen its affinity; without a supervisor only where it starts); repeatable", doc: "the CPUs the command runs on, e.g. `0,2`: its affinity, which it cannot widen (every `sched_setaffinity` is cut to them; without a supervisor only its starting affinity)" },
  { long: "num-cpus", arg: "N", kind: "int", field: "numCpus", section: LIM, help: "number of CPUs the command sees", doc: "CPUs the command sees (at most the host's)" },
  { long: "gpu", arg: "all|LIST", kind: "gpu", field: "gpuDevices", section: LIM, help: "GPU devices the command may reach: all, or numbers like 0,1", doc: "reachable GPU devices" },

  { long: "random-seed", arg: "N", kind: "text", field: "randomSeed", section: DET, help: "getrandom, /dev/urandom and /dev/random give a stream seeded with N (0..2^64-1)", doc: "seeded getrandom, /dev/urandom and /dev/random" },
  { long: "time-start", arg: "TIME", kind: "text", field: "timeStart", section: DET, help: "the wall clock starts at TIME (RFC 3339) and runs at real speed", doc: "wall clock starts at this RFC 3339 time" },
  { long: "deterministic-dirs", kind: "bool", field: "deterministicDirs", section: DET, help: "directory listings come sorted by name", doc: "sorted directory listings" },
  { long: "no-randomize-memory", kind: "bool", field: "noRandomizeMemory", section: DET, help: "turn address space layout randomisation off", doc: "ASLR off" },
  { long: "no-huge-pages", kind: "bool", field: "noHugePages", section: DET, help: "turn transparent huge pages off", doc: "transparent huge pages off" },
  { long: "no-coredump", kind: "bool", field: "noCoredump", section: DET, help: "never write core dumps (RLIMIT_CORE 0)", doc: "RLIMIT_CORE 0" },

  { long: "name", arg: "NAME", kind: "text", field: "name", section: PROC, help: "sandbox name (sandlock ps, inspect, kill reach it by it), also the hostname the command sees", doc: "sandbox name and hostname; no control characters or whitespace; `sandlock ps`, `inspect` and `kill` reach the sandbox by it; a name already running is refused" },
  { long: "clean-env", kind: "bool", field: "cleanEnv", section: PROC, help: "start from an empty environment", doc: "start from an empty environment" },
  { long: "env", arg: "K=V", kind: "env", field: "env", section: PROC, help: "set variable K to V; repeatable", doc: "set a variable; repeatable" },
  { long: "user", arg: "UID:GID", kind: "user", field: "user", section: PROC, help: "appear to run as this uid and gid", doc: "appear as this uid/gid" },

  { long: "extra-deny-syscall", arg: "NAMES", kind: "csv", field: "extraDenySyscalls", section: SYS, help: "also block these syscalls or groups; comma list, repeatable", doc: "syscalls or groups added to the blocklist" },
  { long: "extra-allow-syscall", arg: "GROUPS", kind: "csv", field: "extraAllowSyscalls", section: SYS, help: "lift these groups (sysv_ipc) from the default blocklist; comma list, repeatable", doc: "groups lifted from the blocklist (`sysv_ipc`)" },
  { long: "allow-degraded", arg: "P", kind: "csv", field: "protection.allowDegraded", section: SYS, help: "run without protection P when the kernel lacks it (see sandlock check); repeatable", doc: "run without protection P if the kernel lacks it" },
  { long: "no-supervisor", kind: "off", field: "supervisor", section: SYS, help: "no seccomp supervisor, for a sandbox inside a sandbox: refuses the flags that need one (see docs/security.md)", doc: "no seccomp supervisor, for a sandbox inside a sandbox (see [Nesting](#a-sandbox-inside-a-sandbox)); flags that need one are refused" },
  { long: "proc-view", arg: "VIEW", kind: "text", field: "procView", section: SYS, help: "kernel (own namespaces, paths outside the grants absent) or supervised (host namespaces, served /proc); default: kernel where it applies (docs/kernel-view.md)", doc: "`kernel` or `supervised`; unset: the kernel view where it applies, else the supervised one (see [docs/kernel-view.md](kernel-view.md))" },
  { long: "disable", arg: "P", kind: "csv", field: "protection.disable", section: SYS, help: "turn protection P off (not fs-refer: without it every cross-directory rename fails); repeatable", doc: "turn protection P off; `fs-refer` only together with `fs` (alone it would make every cross-directory rename fail, EXDEV)" },

  { long: "exec-shell", short: "e", arg: "CMD", kind: "cli", section: RUN, help: "run CMD with /bin/sh -c instead of a command after --", doc: "run `/bin/sh -c CMD`; not together with a command" },
  { long: "timeout", short: "t", arg: "SECS", kind: "cli", section: RUN, help: "after SECS seconds (decimals allowed) SIGTERM every process, SIGKILL after --kill-after; exit 124", doc: "decimal seconds > 0; then SIGTERM to every process, SIGKILL after `--kill-after`; exit 124" },
  { long: "kill-after", arg: "SECS", kind: "cli", section: RUN, help: "grace between SIGTERM (from -t, or a signal sandlock got) and SIGKILL of everything (default 5; 0: at once)", doc: "grace between SIGTERM (from `-t`, or a signal sandlock got) and SIGKILL of everything; default 5, 0 kills at once" },
  { long: "interactive", short: "i", kind: "cli", section: RUN, help: "keep the command in the terminal's process group (default when stdin is a terminal)", doc: "keep the command in the terminal's process group" },
  { long: "json", kind: "cli", section: RUN, help: "capture stdout and stderr and print the result and enforcement report as JSON", doc: "capture stdout/stderr, print the result as JSON" },
  { long: "status-fd", arg: "FD", kind: "cli", section: RUN, help: "write JSON lines (started with the pid, exited with the result) to open descriptor FD", doc: "JSON lines of the run's events on descriptor FD" },
  { long: "help", short: "h", kind: "cli", section: RUN, help: "show this help", doc: "the flag list" },
];

/** The flag that sets a policy field ("maxMemory" -> "--max-memory"). */
export const FLAG_OF_FIELD: ReadonlyMap<string, string> = new Map(
  RUN_FLAGS.filter((f) => f.field !== undefined).map((f) => [f.field!, `--${f.long}`]),
);
