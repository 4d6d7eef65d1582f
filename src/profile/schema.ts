// The keys of a TOML profile (SPEC 9): each [section] key, the policy field it sets and the
// shape of value it takes. Loading, `profile show` and the docs all read this one table.

/**
 * paths/strings: arrays of strings | string | bool | int | size: bytes or "512M" |
 * ports: array of port numbers or "lo-hi"/"*" strings | ints: array of integers |
 * table: string values by name | seed: integer or decimal string | time: TOML date-time
 * or RFC 3339 string | gpu: "all" or array of integers
 */
export type KeyKind = "paths" | "strings" | "string" | "bool" | "int" | "size" | "ports" | "ints" | "table" | "seed" | "time" | "gpu";

export interface ProfileKey {
  readonly section: string;
  readonly key: string;
  readonly kind: KeyKind;
  /** The policy field; dotted for nested ones. Undefined for [program] exec and args. */
  readonly field?: string;
}

const k = (section: string, key: string, kind: KeyKind, field?: string): ProfileKey =>
  field === undefined ? { section, key, kind } : { section, key, kind, field };

export const PROFILE_KEYS: readonly ProfileKey[] = [
  k("program", "exec", "string"),
  k("program", "args", "strings"),
  k("program", "env", "table", "env"),
  k("program", "cwd", "string", "cwd"),
  k("program", "clean_env", "bool", "cleanEnv"),
  k("program", "name", "string", "name"),

  k("filesystem", "read", "paths", "fsReadable"),
  k("filesystem", "write", "paths", "fsWritable"),
  k("filesystem", "deny", "paths", "fsDenied"),
  k("filesystem", "private_tmp", "bool", "privateTmp"),
  k("filesystem", "protected_files", "bool", "protectedFiles"),
  k("filesystem", "workdir", "string", "workdir"),
  k("filesystem", "on_exit", "string", "onExit"),
  k("filesystem", "on_error", "string", "onError"),
  k("filesystem", "storage", "string", "fsStorage"),
  k("filesystem", "max_disk", "size", "maxDisk"),
  k("filesystem", "chroot", "string", "chroot"),
  k("filesystem", "mount", "table", "fsMount"),

  k("network", "allow", "strings", "netAllow"),
  k("network", "deny", "strings", "netDeny"),
  k("network", "allow_bind", "ports", "netAllowBind"),
  k("network", "deny_bind", "ports", "netDenyBind"),
  k("network", "port_remap", "bool", "portRemap"),

  k("limits", "memory", "size", "maxMemory"),
  k("limits", "processes", "int", "maxProcesses"),
  k("limits", "open_files", "int", "maxOpenFiles"),
  k("limits", "epoll_watches", "int", "maxEpollWatches"),
  k("limits", "cpu", "int", "maxCpu"),
  k("limits", "cpu_cores", "ints", "cpuCores"),
  k("limits", "num_cpus", "int", "numCpus"),
  k("limits", "gpu", "gpu", "gpuDevices"),
  k("limits", "no_coredump", "bool", "noCoredump"),

  k("determinism", "random_seed", "seed", "randomSeed"),
  k("determinism", "time_start", "time", "timeStart"),
  k("determinism", "deterministic_dirs", "bool", "deterministicDirs"),
  k("determinism", "no_randomize_memory", "bool", "noRandomizeMemory"),
  k("determinism", "no_huge_pages", "bool", "noHugePages"),

  k("syscalls", "extra_deny", "strings", "extraDenySyscalls"),
  k("syscalls", "extra_allow", "strings", "extraAllowSyscalls"),

  k("protection", "allow_degraded", "strings", "protection.allowDegraded"),
  k("protection", "disable", "strings", "protection.disable"),
  k("protection", "supervisor", "bool", "supervisor"),
  k("protection", "proc_view", "string", "procView"),
];

/** Keys outside any section. */
export const TOP_LEVEL_KEYS = ["extends"] as const;

export const SECTIONS: readonly string[] = [...new Set(PROFILE_KEYS.map((e) => e.section))];

export function keysOf(section: string): ProfileKey[] {
  return PROFILE_KEYS.filter((e) => e.section === section);
}

/** The key that sets a policy field (its base name: "env.FOO" -> env). */
export function keyOfField(field: string): ProfileKey | undefined {
  return PROFILE_KEYS.find((e) => e.field === field) ?? PROFILE_KEYS.find((e) => e.field !== undefined && field.startsWith(`${e.field}.`))
    ?? PROFILE_KEYS.find((e) => e.field === field.split(/[.[]/, 1)[0]);
}

/** What a kind expects, for error messages. */
export const EXPECTED: Readonly<Record<KeyKind, string>> = {
  paths: "an array of absolute paths (strings)",
  strings: "an array of strings",
  string: "a string",
  bool: "true or false",
  int: "an integer",
  size: `a size (an integer of bytes, or a string like "512M")`,
  ports: `an array of ports (integers, or strings like "8000-8100" or "*")`,
  ints: "an array of integers",
  table: "a table of strings (key = \"value\")",
  seed: "an integer (or a decimal string for seeds above 2^53)",
  time: "a date-time (1970-01-01T00:00:00Z) or an RFC 3339 string",
  gpu: `"all" or an array of device numbers`,
};
