// A fluent way to write a policy: Policy.builder().fsRead("/usr").maxMemory("512M").build().
// It only collects input; build() validates it exactly like the object form.

import type { PolicyFn } from "./policy-fn.js";
import { Policy } from "./policy.js";
import type { BindInput, ByteSize, CowAction, PolicyInput, ProcView, Protection } from "./types.js";

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

  /** Appends to {@link PolicyInput.fsReadable | fsReadable} (see there for its CLI flag and default). */
  fsRead(...paths: string[]): this { return this.#append("fsReadable", paths); }
  /** Appends to {@link PolicyInput.fsWritable | fsWritable} (see there for its CLI flag and default). */
  fsWrite(...paths: string[]): this { return this.#append("fsWritable", paths); }
  /** Appends to {@link PolicyInput.fsDenied | fsDenied} (see there for its CLI flag and default). */
  fsDeny(...paths: string[]): this { return this.#append("fsDenied", paths); }
  /** Appends to {@link PolicyInput.extraDenySyscalls | extraDenySyscalls} (see there for its CLI flag and default). */
  denySyscalls(...names: string[]): this { return this.#append("extraDenySyscalls", names); }
  /** Appends to {@link PolicyInput.extraAllowSyscalls | extraAllowSyscalls} (see there for its CLI flag and default). */
  allowSyscalls(...groups: string[]): this { return this.#append("extraAllowSyscalls", groups); }
  /** Appends to {@link PolicyInput.netAllow | netAllow} (see there for its CLI flag and default). */
  netAllow(...rules: string[]): this { return this.#append("netAllow", rules); }
  /** Appends to {@link PolicyInput.netDeny | netDeny} (see there for its CLI flag and default). */
  netDeny(...rules: string[]): this { return this.#append("netDeny", rules); }
  /** Appends to {@link PolicyInput.netAllowBind | netAllowBind} (see there for its CLI flag and default). */
  netAllowBind(...specs: BindInput[]): this { return this.#append("netAllowBind", specs); }
  /** Appends to {@link PolicyInput.netDenyBind | netDenyBind} (see there for its CLI flag and default). */
  netDenyBind(...specs: BindInput[]): this { return this.#append("netDenyBind", specs); }
  /** Sets {@link PolicyInput.maxMemory | maxMemory} (see there for its CLI flag and default). */
  maxMemory(size: ByteSize): this { return this.#set("maxMemory", size); }
  /** Sets {@link PolicyInput.maxProcesses | maxProcesses} (see there for its CLI flag and default). */
  maxProcesses(n: number): this { return this.#set("maxProcesses", n); }
  /** Sets {@link PolicyInput.maxOpenFiles | maxOpenFiles} (see there for its CLI flag and default). */
  maxOpenFiles(n: number): this { return this.#set("maxOpenFiles", n); }
  /** Sets {@link PolicyInput.maxEpollWatches | maxEpollWatches} (see there for its CLI flag and default). */
  maxEpollWatches(n: number): this { return this.#set("maxEpollWatches", n); }
  /** Sets {@link PolicyInput.maxCpu | maxCpu} (see there for its CLI flag and default). */
  maxCpu(percent: number): this { return this.#set("maxCpu", percent); }
  /** Appends to {@link PolicyInput.cpuCores | cpuCores} (see there for its CLI flag and default). */
  cpuCores(...cores: number[]): this { return this.#append("cpuCores", cores); }
  /** Sets {@link PolicyInput.numCpus | numCpus} (see there for its CLI flag and default). */
  numCpus(n: number): this { return this.#set("numCpus", n); }
  /** Sets {@link PolicyInput.randomSeed | randomSeed} (see there for its CLI flag and default). */
  randomSeed(seed: number | bigint | string): this { return this.#set("randomSeed", seed); }
  /** Sets {@link PolicyInput.timeStart | timeStart} (see there for its CLI flag and default). */
  timeStart(t: Date | string): this { return this.#set("timeStart", t); }
  /** Sets {@link PolicyInput.deterministicDirs | deterministicDirs} (see there for its CLI flag and default). */
  deterministicDirs(on = true): this { return this.#set("deterministicDirs", on); }
  /** Sets {@link PolicyInput.noRandomizeMemory | noRandomizeMemory} (see there for its CLI flag and default). */
  noRandomizeMemory(on = true): this { return this.#set("noRandomizeMemory", on); }
  /** Sets {@link PolicyInput.noHugePages | noHugePages} (see there for its CLI flag and default). */
  noHugePages(on = true): this { return this.#set("noHugePages", on); }
  /** Sets {@link PolicyInput.noCoredump | noCoredump} (see there for its CLI flag and default). */
  noCoredump(on = true): this { return this.#set("noCoredump", on); }
  /** Sets {@link PolicyInput.name | name} (see there for its CLI flag and default). */
  name(name: string): this { return this.#set("name", name); }
  /** Sets {@link PolicyInput.workdir | workdir} (see there for its CLI flag and default). */
  workdir(path: string): this { return this.#set("workdir", path); }
  /** Sets {@link PolicyInput.cwd | cwd} (see there for its CLI flag and default). */
  cwd(path: string): this { return this.#set("cwd", path); }
  /** Sets {@link PolicyInput.fsStorage | fsStorage} (see there for its CLI flag and default). */
  fsStorage(path: string): this { return this.#set("fsStorage", path); }
  /** Sets {@link PolicyInput.maxDisk | maxDisk} (see there for its CLI flag and default). */
  maxDisk(size: ByteSize): this { return this.#set("maxDisk", size); }
  /** Sets {@link PolicyInput.onExit | onExit} (see there for its CLI flag and default). */
  onExit(action: CowAction): this { return this.#set("onExit", action); }
  /** Sets {@link PolicyInput.onError | onError} (see there for its CLI flag and default). */
  onError(action: CowAction): this { return this.#set("onError", action); }
  /** Sets {@link PolicyInput.chroot | chroot} (see there for its CLI flag and default). */
  chroot(path: string): this { return this.#set("chroot", path); }
  /** Adds one mapping to {@link PolicyInput.fsMount | fsMount} (see there for its CLI flag and default). */
  fsMount(virtualPath: string, hostPath: string): this {
    return this.#set("fsMount", { ...this.#draft.fsMount, [virtualPath]: hostPath });
  }
  /** Sets {@link PolicyInput.cleanEnv | cleanEnv} (see there for its CLI flag and default). */
  cleanEnv(on = true): this { return this.#set("cleanEnv", on); }
  /** Sets one variable, or several from an object, in {@link PolicyInput.env | env} (see there for its CLI flag and default). */
  env(key: string, value: string): this;
  env(vars: Readonly<Record<string, string>>): this;
  env(keyOrVars: string | Readonly<Record<string, string>>, value?: string): this {
    // A single pair is validated at build like any other entry (a non-string value fails there).
    const add = typeof keyOrVars === "string" ? { [keyOrVars]: value as string } : keyOrVars;
    return this.#set("env", { ...this.#draft.env, ...add });
  }
  /** Sets {@link PolicyInput.user | user} (see there for its CLI flag and default). */
  user(uid: number, gid: number): this { return this.#set("user", { uid, gid }); }
  /** Sets {@link PolicyInput.gpuDevices | gpuDevices} (see there for its CLI flag and default). */
  gpuDevices(devices: readonly number[] | "all"): this {
    return this.#set("gpuDevices", devices === "all" ? "all" : [...devices]);
  }
  /** Sets {@link PolicyInput.portRemap | portRemap} (see there for its CLI flag and default). */
  portRemap(on = true): this { return this.#set("portRemap", on); }
  /** Sets {@link PolicyInput.privateTmp | privateTmp} (see there for its CLI flag and default). */
  privateTmp(on = true): this { return this.#set("privateTmp", on); }
  /** Sets {@link PolicyInput.protectedFiles | protectedFiles} (see there for its CLI flag and default). */
  protectedFiles(on = true): this { return this.#set("protectedFiles", on); }
  /** Sets {@link PolicyInput.policyFn | policyFn} (see there for its CLI flag and default). */
  policyFn(fn: PolicyFn): this { return this.#set("policyFn", fn); }
  /** supervisor(false): no seccomp supervisor (a sandbox inside a sandbox). */
  supervisor(on: boolean): this { return this.#set("supervisor", on); }
  /** Sets {@link PolicyInput.procView | procView} (see there for its CLI flag and default). */
  procView(view: ProcView): this { return this.#set("procView", view); }
  /** Appends to {@link PolicyInput.protection | protection.allowDegraded} (see there for its CLI flag and default). */
  allowDegraded(...protections: Protection[]): this {
    const p = this.#draft.protection;
    return this.#set("protection", { ...p, allowDegraded: [...(p?.allowDegraded ?? []), ...protections] });
  }
  /** Appends to {@link PolicyInput.protection | protection.disable} (see there for its CLI flag and default). */
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
