// Resource fields: process, file and CPU limits, CPU affinity and GPU devices. Bounds that
// the spec leaves open are the kernel's own limits, so a value here can never overflow later.

import { formatBytes, parseByteSize } from "./bytes.js";
import { checkArray, checkInteger } from "./field-checks.js";
import { invalid } from "./quote.js";

export const DEFAULT_MAX_PROCESSES = 64;
/** PID_MAX_LIMIT on 64-bit kernels: no more processes can exist at once. */
export const MAX_PROCESSES_LIMIT = 4_194_304;
/** RLIMIT_NOFILE is an unsigned int capped by fs.nr_open, itself at most INT_MAX. */
export const MAX_OPEN_FILES_LIMIT = 2 ** 31 - 1;
/** NR_CPUS of the largest x86_64 kernel configuration (CONFIG_MAXSMP). */
export const MAX_CPUS = 8192;
const MAX_GPU = 2 ** 31 - 1;

/**
 * The smallest maxMemory accepted. Measured on x86_64 (the charge is VmData + RssShmem):
 * a dynamically linked /bin/true needs 128 KiB, sh 192 KiB, a static glibc program with
 * threads 384 KiB, Node about 40 MiB. Below 1 MiB nearly every real program is killed
 * at start, and the usual cause is a unit left out ("-m 64" is 64 bytes), so a smaller
 * cap is refused rather than run into an exit 137.
 */
export const MIN_MAX_MEMORY = 1n << 20n;

export function parseMaxMemory(field: string, value: unknown): bigint {
  const bytes = parseByteSize(field, value);
  if (bytes < MIN_MAX_MEMORY) {
    const unitless = typeof value === "number" || typeof value === "bigint" || (typeof value === "string" && /^\d+b?$/i.test(value));
    const hint = unitless && bytes > 0n ? ` (did you mean ${bytes}M?)` : "";
    throw invalid(field, value, `is below the minimum of ${formatBytes(MIN_MAX_MEMORY)}: programs cannot start under a smaller cap${hint}`);
  }
  return bytes;
}

export function checkMaxProcesses(field: string, value: unknown): number {
  return checkInteger(field, value, 1, MAX_PROCESSES_LIMIT, `is outside 1..${MAX_PROCESSES_LIMIT} (the kernel's pid limit)`);
}

export function checkMaxOpenFiles(field: string, value: unknown): number {
  return checkInteger(field, value, 1, MAX_OPEN_FILES_LIMIT, `is outside 1..${MAX_OPEN_FILES_LIMIT}`);
}

/** The sandbox's epoll watches: 0 (no add) up to what an int holds; the host's own limit
 * (fs.epoll.max_user_watches) is checked when the sandbox is planned (plan/features.ts). */
export function checkMaxEpollWatches(field: string, value: unknown): number {
  return checkInteger(field, value, 0, 2 ** 31 - 1, `is outside 0..${2 ** 31 - 1}`);
}

export function checkMaxCpu(field: string, value: unknown): number {
  return checkInteger(field, value, 1, 100, "is outside 1..100 (percent of one core)");
}

export function checkNumCpus(field: string, value: unknown): number {
  return checkInteger(field, value, 1, MAX_CPUS, `is outside 1..${MAX_CPUS}`);
}

/** CPU affinity: a non-empty list of distinct core numbers, kept in the order given. */
export function parseCpuCores(field: string, value: unknown): readonly number[] {
  const list = checkArray(field, value, "core numbers");
  if (list.length === 0) throw invalid(field, value, "is empty (give at least one core)");
  return Object.freeze(distinctIntegers(field, list, MAX_CPUS - 1, "core number"));
}

/**
 * "all" or a list of distinct device numbers. An empty list means no GPU, which is the
 * default, so it normalises to undefined.
 */
export function parseGpuDevices(field: string, value: unknown): readonly number[] | "all" | undefined {
  if (value === "all") return "all";
  if (!Array.isArray(value)) throw invalid(field, value, `is not "all" or an array of device numbers`);
  if (value.length === 0) return undefined;
  return Object.freeze(distinctIntegers(field, value, MAX_GPU, "device number"));
}

function distinctIntegers(field: string, list: readonly unknown[], max: number, what: string): number[] {
  const seen = new Set<number>();
  for (const item of list) {
    if (typeof item !== "number" || !Number.isInteger(item) || item < 0 || item > max) {
      throw invalid(field, item, `is not a ${what} (0..${max})`);
    }
    if (seen.has(item)) throw invalid(field, item, "is listed twice");
    seen.add(item);
  }
  return [...seen];
}
