// A fluent way to write a policy: Policy.builder().fsRead("/usr").maxMemory("512M").build().
// It only collects input; build() validates it exactly like the object form.

import type { PolicyFn } from "./policy-fn.js";
import { Policy } from "./policy.js";
import type { BindInput, ByteSize, CowAction, PolicyInput, Protection } from "./types.js";

type Draft = { -readonly [K in keyof PolicyInput]: PolicyInput[K] };
type ListField = {
  [K in keyof Draft]-?: NonNullable<Draft[K]> extends readonly unknown[] ? K : never;
}[keyof Draft];

/**
 * List methods append (fsRead("/a").fsRead("/b") grants both); scalar methods replace.
 * The builder can be reused: build() snapshots it.
 */
export class PolicyBuilder {
  readonly #draft: Draft = {};

  #append<K extends ListField>(field: K, items: readonly unknown[]): this {
    const current = (this.#draft[field] ?? []) as readonly unknown[];
    (this.#draft as Record<string, unknown>)[field] = [...current, ...items];
    return this;
  }

  #set<K extends keyof Draft>(field: K, value: Draft[K]): this {
    this.#draft[field] = value;
    return this;
  }

  fsRead(...paths: string[]): this { return this.#append("fsReadable", paths); }
  fsWrite(...paths: string[]): this { return this.#append("fsWritable", paths); }
  fsDeny(...paths: string[]): this { return this.#append("fsDenied", paths); }
  denySyscalls(...names: string[]): this { return this.#append("extraDenySyscalls", names); }
  allowSyscalls(...groups: string[]): this { return this.#append("extraAllowSyscalls", groups); }
  netAllow(...rules: string[]): this { return this.#append("netAllow", rules); }
  netDeny(...rules: string[]): this { return this.#append("netDeny", rules); }
  netAllowBind(...specs: BindInput[]): this { return this.#append("netAllowBind", specs); }
  netDenyBind(...specs: BindInput[]): this { return this.#append("netDenyBind", specs); }
  maxMemory(size: ByteSize): this { return this.#set("maxMemory", size); }
  maxProcesses(n: number): this { return this.#set("maxProcesses", n); }
  maxOpenFiles(n: number): this { return this.#set("maxOpenFiles", n); }
  maxCpu(percent: number): this { return this.#set("maxCpu", percent); }
  cpuCores(...cores: number[]): this { return this.#append("cpuCores", cores); }
  numCpus(n: number): this { return this.#set("numCpus", n); }
  randomSeed(seed: number | bigint | string): this { return this.#set("randomSeed", seed); }
  timeStart(t: Date | string): this { return this.#set("timeStart", t); }
  deterministicDirs(on = true): this { return this.#set("deterministicDirs", on); }
  noRandomizeMemory(on = true): this { return this.#set("noRandomizeMemory", on); }
  noHugePages(on = true): this { return this.#set("noHugePages", on); }
  noCoredump(on = true): this { return this.#set("noCoredump", on); }
  name(name: string): this { return this.#set("name", name); }
  workdir(path: string): this { return this.#set("workdir", path); }
  cwd(path: string): this { return this.#set("cwd", path); }
  fsStorage(path: string): this { return this.#set("fsStorage", path); }
  maxDisk(size: ByteSize): this { return this.#set("maxDisk", size); }
  onExit(action: CowAction): this { return this.#set("onExit", action); }
  onError(action: CowAction): this { return this.#set("onError", action); }
  chroot(path: string): this { return this.#set("chroot", path); }
  fsMount(virtualPath: string, hostPath: string): this {
    return this.#set("fsMount", { ...this.#draft.fsMount, [virtualPath]: hostPath });
  }
  cleanEnv(on = true): this { return this.#set("cleanEnv", on); }
  env(key: string, value: string): this;
  env(vars: Readonly<Record<string, string>>): this;
  env(keyOrVars: string | Readonly<Record<string, string>>, value?: string): this {
    // A single pair is validated at build like any other entry (a non-string value fails there).
    const add = typeof keyOrVars === "string" ? { [keyOrVars]: value as string } : keyOrVars;
    return this.#set("env", { ...this.#draft.env, ...add });
  }
  user(uid: number, gid: number): this { return this.#set("user", { uid, gid }); }
  gpuDevices(devices: readonly number[] | "all"): this {
    return this.#set("gpuDevices", devices === "all" ? "all" : [...devices]);
  }
  portRemap(on = true): this { return this.#set("portRemap", on); }
  privateTmp(on = true): this { return this.#set("privateTmp", on); }
  policyFn(fn: PolicyFn): this { return this.#set("policyFn", fn); }
  /** supervisor(false): no seccomp supervisor (a sandbox inside a sandbox). */
  supervisor(on: boolean): this { return this.#set("supervisor", on); }
  allowDegraded(...protections: Protection[]): this {
    const p = this.#draft.protection;
    return this.#set("protection", { ...p, allowDegraded: [...(p?.allowDegraded ?? []), ...protections] });
  }
  disable(...protections: Protection[]): this {
    const p = this.#draft.protection;
    return this.#set("protection", { ...p, disable: [...(p?.disable ?? []), ...protections] });
  }

  /** What was collected so far, in object form, unvalidated (a copy). */
  toInput(): PolicyInput {
    return copyDraft(this.#draft);
  }

  /** Validate what was collected; throws the same errors as `new Policy(object)`. */
  build(): Policy {
    return new Policy(this.toInput());
  }
}

/** A copy deep enough that later builder calls cannot reach into it (policyFn is shared). */
function copyDraft(draft: Draft): PolicyInput {
  const copy: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(draft)) {
    if (Array.isArray(value)) copy[key] = [...value];
    else if (value !== null && typeof value === "object" && !(value instanceof Date)) copy[key] = { ...value };
    else copy[key] = value;
  }
  return copy as PolicyInput;
}
