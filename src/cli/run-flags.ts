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
  { long: "profile", short: "p", arg: "NAME", kind: "profile", section: PROFILES, help: "start from preset NAME (minimal, system, workspace, system-net, workspace-net) or profile ~/.config/sandlock/profiles/NAME.toml; repeatable" },
  { long: "profile-file", arg: "PATH", kind: "profile", section: PROFILES, help: "start from the TOML profile in file PATH; repeatable" },

  { long: "fs-read", short: "r", arg: "PATH", kind: "list", field: "fsReadable", section: FS, help: "grant read and execute on PATH (a subtree or a file); repeatable" },
  { long: "fs-write", short: "w", arg: "PATH", kind: "list", field: "fsWritable", section: FS, help: "grant write, read and execute on PATH; repeatable" },
  { long: "fs-deny", arg: "PATH", kind: "list", field: "fsDenied", section: FS, help: "deny PATH even inside a granted tree; repeatable" },
  { long: "chroot", arg: "PATH", kind: "text", field: "chroot", section: FS, help: "make PATH the root the command sees (emulated, no root needed)" },
  { long: "fs-mount", arg: "V:H[:ro]", kind: "mount", field: "fsMount", section: FS, help: "map host directory H to V inside --chroot, :ro for read-only; repeatable" },
  { long: "private-tmp", kind: "bool", field: "privateTmp", section: FS, help: "a private writable directory per run, removed after; TMPDIR and HOME point into it" },
  { long: "cwd", arg: "PATH", kind: "text", field: "cwd", section: FS, help: "working directory of the command (default: --workdir, else the current one)" },

  { long: "workdir", arg: "PATH", kind: "text", field: "workdir", section: COW, help: "copy-on-write directory: writes under PATH are staged until exit" },
  { long: "fs-storage", arg: "PATH", kind: "text", field: "fsStorage", section: COW, help: "where the staged copy-on-write layers live" },
  { long: "max-disk", arg: "SIZE", kind: "text", field: "maxDisk", section: COW, help: "copy-on-write quota, e.g. 1G (writes past it fail with ENOSPC)" },
  { long: "on-exit", arg: "ACTION", kind: "text", field: "onExit", section: COW, help: "commit, abort or keep the staged writes when the command exits 0 (default commit)" },
  { long: "on-error", arg: "ACTION", kind: "text", field: "onError", section: COW, help: "commit, abort or keep the staged writes otherwise (default abort)" },
  { long: "dry-run", kind: "later", later: "needs the copy-on-write workdir", section: COW, help: "run, show what the command changed in --workdir, then discard it" },

  { long: "net-allow", arg: "RULE", kind: "list", field: "netAllow", section: NET, help: "allow egress to [scheme://]host[:port,...] (none: no egress at all); repeatable" },
  { long: "net-deny", arg: "RULE", kind: "list", field: "netDeny", section: NET, help: "allow all egress except to this IP or CIDR[:ports]; repeatable" },
  { long: "net-allow-bind", arg: "PORTS", kind: "csv", field: "netAllowBind", section: NET, help: "TCP ports the command may bind: 8080, 8000-8100 or *; comma list, repeatable" },
  { long: "net-deny-bind", arg: "PORTS", kind: "csv", field: "netDenyBind", section: NET, help: "bind any TCP port except these; comma list, repeatable" },
  { long: "port-remap", kind: "bool", field: "portRemap", section: NET, help: "give the sandbox a private virtual port space" },

  { long: "max-memory", short: "m", arg: "SIZE", kind: "text", field: "maxMemory", section: LIM, help: "anonymous memory cap for the whole sandbox, e.g. 512M" },
  { long: "max-processes", short: "P", arg: "N", kind: "int", field: "maxProcesses", section: LIM, help: "peak concurrent processes (default 64)" },
  { long: "max-open-files", arg: "N", kind: "int", field: "maxOpenFiles", section: LIM, help: "open file descriptors per process (RLIMIT_NOFILE)" },
  { long: "cpu", short: "c", arg: "PERCENT", kind: "int", field: "maxCpu", section: LIM, help: "CPU cap in percent of one core, 1-100" },
  { long: "cpu-cores", arg: "LIST", kind: "int-csv", field: "cpuCores", section: LIM, help: "run only on these CPUs, e.g. 0,2; repeatable" },
  { long: "num-cpus", arg: "N", kind: "int", field: "numCpus", section: LIM, help: "number of CPUs the command sees" },
  { long: "gpu", arg: "all|LIST", kind: "gpu", field: "gpuDevices", section: LIM, help: "GPU devices the command may reach: all, or numbers like 0,1" },

  { long: "random-seed", arg: "N", kind: "text", field: "randomSeed", section: DET, help: "getrandom and /dev/urandom become a PRNG seeded with N (0..2^64-1)" },
  { long: "time-start", arg: "TIME", kind: "text", field: "timeStart", section: DET, help: "the wall clock starts at TIME (RFC 3339) and runs at real speed" },
  { long: "deterministic-dirs", kind: "bool", field: "deterministicDirs", section: DET, help: "directory listings come sorted by name" },
  { long: "no-randomize-memory", kind: "bool", field: "noRandomizeMemory", section: DET, help: "turn address space layout randomisation off" },
  { long: "no-huge-pages", kind: "bool", field: "noHugePages", section: DET, help: "turn transparent huge pages off" },
  { long: "no-coredump", kind: "bool", field: "noCoredump", section: DET, help: "never write core dumps (RLIMIT_CORE 0)" },

  { long: "name", arg: "NAME", kind: "text", field: "name", section: PROC, help: "sandbox name (sandlock ps, inspect, kill reach it by it), also the hostname the command sees" },
  { long: "clean-env", kind: "bool", field: "cleanEnv", section: PROC, help: "start from an empty environment" },
  { long: "env", arg: "K=V", kind: "env", field: "env", section: PROC, help: "set variable K to V; repeatable" },
  { long: "user", arg: "UID:GID", kind: "user", field: "user", section: PROC, help: "appear to run as this uid and gid" },

  { long: "extra-deny-syscall", arg: "NAMES", kind: "csv", field: "extraDenySyscalls", section: SYS, help: "also block these syscalls or groups; comma list, repeatable" },
  { long: "extra-allow-syscall", arg: "GROUPS", kind: "csv", field: "extraAllowSyscalls", section: SYS, help: "lift these groups (sysv_ipc) from the default blocklist; comma list, repeatable" },
  { long: "allow-degraded", arg: "P", kind: "csv", field: "protection.allowDegraded", section: SYS, help: "run without protection P when the kernel lacks it (see sandlock check); repeatable" },
  { long: "no-supervisor", kind: "off", field: "supervisor", section: SYS, help: "no seccomp supervisor, for a sandbox inside a sandbox: refuses the flags that need one (see docs/security.md)" },
  { long: "disable", arg: "P", kind: "csv", field: "protection.disable", section: SYS, help: "turn protection P off (not fs-refer: without it every cross-directory rename fails); repeatable" },

  { long: "exec-shell", short: "e", arg: "CMD", kind: "cli", section: RUN, help: "run CMD with /bin/sh -c instead of a command after --" },
  { long: "timeout", short: "t", arg: "SECS", kind: "cli", section: RUN, help: "after SECS seconds (decimals allowed) SIGTERM every process, SIGKILL after --kill-after; exit 124" },
  { long: "kill-after", arg: "SECS", kind: "cli", section: RUN, help: "grace between SIGTERM (from -t, or a signal sandlock got) and SIGKILL of everything (default 5; 0: at once)" },
  { long: "interactive", short: "i", kind: "cli", section: RUN, help: "keep the command in the terminal's process group (default when stdin is a terminal)" },
  { long: "json", kind: "cli", section: RUN, help: "capture stdout and stderr and print the result and enforcement report as JSON" },
  { long: "status-fd", arg: "FD", kind: "cli", section: RUN, help: "write JSON lines (started with the pid, exited with the result) to open descriptor FD" },
  { long: "help", short: "h", kind: "cli", section: RUN, help: "show this help" },
];

/** The flag that sets a policy field ("maxMemory" -> "--max-memory"). */
export const FLAG_OF_FIELD: ReadonlyMap<string, string> = new Map(
  RUN_FLAGS.filter((f) => f.field !== undefined).map((f) => [f.field!, `--${f.long}`]),
);
