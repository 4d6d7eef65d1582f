// Checks what Sandbox.newWithFns was given and turns it into what the zygote loads: a
// module (path or URL) with export names, or self-contained functions sent as source.

import { existsSync, statSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { SandboxError } from "../errors.js";
import { DEFAULT_MAX_BUFFER } from "../confine/stdio.js";

/** A self-contained function run in the zygote or a clone (it is sent as source text). */
export type ForkFunction = (...args: never[]) => unknown;

/** What Sandbox.newWithFns runs: `init` once in the zygote, `work(cloneId)` in each clone. */
export interface ForkFunctions {
  /** Path (absolute, or relative to the current directory), file: URL or data: URL of an ES or CommonJS module. */
  module?: string | URL;
  /** Export name in `module` (default "init"; may be absent when defaulted), or a self-contained function. */
  init?: string | ForkFunction;
  /** Export name in `module` (default "work"), or a self-contained function called with the clone id. */
  work?: string | ForkFunction;
}

/** optional: the name was defaulted, and a module without it simply has no such step. */
export type FnSpec = { name: string; optional?: boolean } | { source: string };

export interface ZygoteSpec {
  /** What the zygote imports: a file: or data: URL. */
  moduleUrl?: string;
  /** The module's file, which the zygote is granted read access to. */
  modulePath?: string;
  init: FnSpec;
  work: FnSpec;
}

const KEYS = new Set(["module", "init", "work"]);
const NAME = /^[A-Za-z_$][\w$]*$/;

function bad(text: string): SandboxError {
  return new SandboxError(`newWithFns: ${text}`);
}

function sourceOf(fn: ForkFunction, what: string): FnSpec {
  const source = Function.prototype.toString.call(fn);
  if (/\{\s*\[native code\]\s*\}\s*$/.test(source)) {
    throw bad(`${what} is a built-in or bound function; its source cannot be sent to the zygote (pass a module instead)`);
  }
  if (/^class[\s{]/.test(source)) throw bad(`${what} is a class, not a function`);
  return { source };
}

function moduleLocation(module: string | URL): { url: string; path?: string } {
  let url: URL | undefined;
  if (module instanceof URL) url = module;
  else if (typeof module !== "string" || module === "") throw bad(`module must be a non-empty path or URL, got ${JSON.stringify(module)}`);
  else if (/^[a-z][a-z0-9+.-]*:/i.test(module) && !isAbsolute(module)) url = new URL(module);
  if (url !== undefined) {
    if (url.protocol === "data:") return { url: url.href };
    if (url.protocol !== "file:") throw bad(`module ${JSON.stringify(url.href)}: only file: and data: URLs can be loaded by the zygote`);
  }
  const path = url !== undefined ? fileURLToPath(url) : resolve(module as string);
  if (!existsSync(path)) throw bad(`module ${JSON.stringify(path)} does not exist`);
  if (!statSync(path).isFile()) throw bad(`module ${JSON.stringify(path)} is not a file`);
  return { url: pathToFileURL(path).href, path };
}

function fnSpec(value: unknown, what: string, hasModule: boolean, fallback: string): FnSpec {
  if (typeof value === "function") return sourceOf(value as ForkFunction, what);
  const defaulted = value === undefined;
  if (defaulted) value = fallback;
  if (typeof value !== "string") throw bad(`${what} must be an export name or a function, got ${typeof value}`);
  if (!hasModule) throw bad(`${what} is the export name ${JSON.stringify(value)} but no module was given (pass a function, or a module)`);
  if (!NAME.test(value)) throw bad(`${what}: ${JSON.stringify(value)} is not a valid export name`);
  return defaulted && what === "init" ? { name: value, optional: true } : { name: value };
}

export function checkForkFunctions(fns: ForkFunctions): ZygoteSpec {
  if (fns === null || typeof fns !== "object") throw bad("expected { module?, init?, work? }");
  for (const key of Object.keys(fns)) if (!KEYS.has(key)) throw bad(`unknown field ${JSON.stringify(key)} (expected module, init, work)`);
  const hasModule = fns.module !== undefined;
  const spec: ZygoteSpec = {
    // No module and no init function: nothing to prepare.
    init: !hasModule && fns.init === undefined ? { source: "() => undefined" } : fnSpec(fns.init, "init", hasModule, "init"),
    work: fnSpec(fns.work, "work", hasModule, "work"),
  };
  if (hasModule) {
    const where = moduleLocation(fns.module!);
    spec.moduleUrl = where.url;
    if (where.path !== undefined) spec.modulePath = where.path;
  }
  return spec;
}

/** Options of {@link Sandbox.fork}. */
export interface ForkOptions {
  /**
   * Bytes of stdout and of stderr kept for each clone of this call; past them the clone is
   * killed and its wait() rejects with OutputLimitError. Default: {@link FORK_OUTPUT_BUDGET}
   * split over the call's clones (each of the 2n streams gets 1 GiB / 2n), at most the
   * 100 MiB a run keeps: 100 MiB for up to 5 clones, 8 MiB for 64, 512 KiB for 1,000.
   */
  maxBuffer?: number;
}

/** 1 GiB: what one fork call's clones may hold in the caller's memory together by default. */
export const FORK_OUTPUT_BUDGET = 1 << 30;

/** The per-stream bound of fork(n, opts)'s clones; throws SandboxError naming a bad option. */
export function forkMaxBuffer(n: number, opts: unknown): number {
  if (typeof opts !== "object" || opts === null || Array.isArray(opts)) throw new SandboxError(`fork: options must be an object such as { maxBuffer: 1048576 }, got ${Array.isArray(opts) ? "an array" : opts === null ? "null" : typeof opts}`);
  for (const k of Object.keys(opts)) if (k !== "maxBuffer") throw new SandboxError(`fork: unknown option ${JSON.stringify(k)} (fork takes maxBuffer)`);
  const m = (opts as ForkOptions).maxBuffer;
  if (m === undefined) return Math.min(DEFAULT_MAX_BUFFER, Math.floor(FORK_OUTPUT_BUDGET / (2 * n)));
  if (typeof m !== "number" || !Number.isSafeInteger(m) || m < 1) {
    throw new SandboxError(`fork: maxBuffer ${typeof m === "number" ? String(m) : JSON.stringify(m)} must be a positive integer number of bytes (a clone's output is never kept without a bound)`);
  }
  return m;
}
