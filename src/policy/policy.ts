// The Policy: an immutable, validated description of what a sandbox may do (SPEC 2.1).
// Built from a plain object, JSON or the fluent builder; every path runs the same checks.

import { homedir } from "node:os";
import { PolicyBuilder } from "./builder.js";
import { composeInputs } from "./compose.js";
import { presetInput } from "./presets.js";
import { invalid } from "./quote.js";
import { policyToJSON } from "./serialize.js";
import { assertSupported } from "./support.js";
import type { PolicyFields, PolicyInput, PolicyJSON } from "./types.js";
import { validatePolicy } from "./validate.js";

/** The validated fields, read-only; timeStart is a getter below (a Date is mutable). */
// A class and an interface of the same name merge: the fields are declared once, in
// PolicyFields, and the constructor copies them in.
export interface Policy extends Readonly<Omit<PolicyFields, "timeStart">> {}

/**
 * An immutable, validated policy: `new Policy({ fsReadable: ["/usr"] })`,
 * `Policy.builder()...build()`, `Policy.preset("system")` or `Policy.fromJSON(text)`.
 * Every field is documented in {@link PolicyInput} with its CLI flag and default.
 */
export class Policy {
  /** A Date is mutable even when frozen, so the policy keeps the instant and hands out copies. */
  readonly #timeStartMs: number | undefined;

  /**
   * Validate `input` (PolicyError on the first problem) and refuse fields whose
   * enforcement is not built yet (PolicyUnsupportedError). Passing a Policy copies it.
   */
  constructor(input: PolicyInput | Policy = {}) {
    const f: PolicyFields = input instanceof Policy ? input : validatePolicy(input);
    assertSupported(f);
    const { timeStart, ...fields } = f;
    Object.assign(this, fields);
    this.#timeStartMs = timeStart?.getTime();
    Object.freeze(this);
  }

  /** Where the sandbox's wall clock starts; a fresh Date on every read. */
  get timeStart(): Date | undefined {
    return this.#timeStartMs === undefined ? undefined : new Date(this.#timeStartMs);
  }

  /** A Policy from a plain object; an existing Policy is returned as is. */
  static from(input: PolicyInput | Policy): Policy {
    return input instanceof Policy ? input : new Policy(input);
  }

  /** Rebuild a policy from toJSON's output, as a JSON string or an already parsed object. */
  static fromJSON(json: string | object): Policy {
    let parsed: unknown = json;
    if (typeof json === "string") {
      try {
        parsed = JSON.parse(json);
      } catch (e) {
        throw invalid("json", json, `is not valid JSON (${(e as Error).message})`);
      }
    }
    return new Policy(parsed as PolicyInput);
  }

  /**
   * A built-in preset (SPEC 9a: minimal, system, workspace, system-net, workspace-net)
   * resolved on this host, composed with `overrides`: lists add to the preset's, other
   * fields replace them. workspace makes `overrides.cwd` (else process.cwd()) writable.
   * With `overrides.supervisor` false the preset leaves /proc out (only the supervisor's
   * view may show it).
   */
  static preset(name: string, overrides: PolicyInput = {}): Policy {
    const cwd = overrides.cwd ?? process.cwd();
    const unsupervised = overrides.supervisor === false;
    return new Policy(composeInputs(presetInput(name, { cwd, home: process.env.HOME ?? homedir(), unsupervised }), overrides));
  }

  /** A fluent builder: `Policy.builder().fsRead("/usr").maxMemory("512M").build()`. */
  static builder(): PolicyBuilder {
    return new PolicyBuilder();
  }

  /** The input form with JSON types, defaults left out; policyFn is not serialised. */
  toJSON(): PolicyJSON {
    return policyToJSON(this);
  }

  /**
   * A new policy with `overrides` replacing whole fields (lists are replaced, not
   * appended); an override of undefined resets that field to its default.
   */
  with(overrides: PolicyInput): Policy {
    const base: PolicyInput = { ...this.toJSON(), ...(this.policyFn ? { policyFn: this.policyFn } : {}), ...(this.policyFnFiles ? { policyFnFiles: true } : {}) };
    return new Policy({ ...base, ...overrides });
  }
}
