// The Checkpoint a sandbox's checkpoint() returns: the captured processes, the policy and
// the app state, with save (atomic, versioned directory) and load (validated).

import { Policy } from "../policy/policy.js";
import type { PolicyJSON } from "../policy/types.js";
import { CheckpointError } from "../errors.js";
import type { CheckpointData, ProcessImage } from "./image.js";

/**
 * A captured sandbox: its processes (registers, maps, memory, descriptors), policy and
 * app state; from sb.checkpoint(), saved with save() and read back with load().
 */
export class Checkpoint {
  /** ISO time of the capture. */
  readonly createdAt: string;
  /** process.arch of the capturing host: the register layouts are that architecture's. */
  readonly arch: string;
  /** Kernel release of the capturing host. */
  readonly kernel: string;
  /** The sandbox's policy as JSON (policyFn has no JSON form and is not kept). */
  readonly policyJSON: PolicyJSON;
  /** What the caller passed as appState, byte for byte, or null. */
  readonly appState: Buffer | null;
  /** Every process of the sandbox, parents before children. */
  readonly processes: readonly ProcessImage[];

  /** @internal Made by Sandbox.checkpoint() and Checkpoint.load(). */
  constructor(data: CheckpointData) {
    this.createdAt = data.createdAt;
    this.arch = data.arch;
    this.kernel = data.kernel;
    this.policyJSON = data.policy;
    this.appState = data.appState;
    this.processes = data.processes;
    Object.freeze(this);
  }

  /** The sandbox's policy, rebuilt from its JSON. */
  get policy(): Policy {
    try {
      return Policy.fromJSON(this.policyJSON);
    } catch (e) {
      throw new CheckpointError("CHECKPOINT_INVALID", `checkpoint: the saved policy is not valid: ${(e as Error).message}`, { path: "checkpoint.json", cause: e });
    }
  }

  /** The bytes of captured memory, over every process. */
  get memoryBytes(): number {
    let n = 0;
    for (const p of this.processes) for (const s of p.memory) n += s.data.length;
    return n;
  }

  /**
   * Writes the checkpoint as the new directory dir (which must not exist), atomically.
   * Refused (CHECKPOINT_FAILED) beneath a directory the checkpoint's own policy lets a
   * sandbox write (fsWritable, workdir, a chroot's root or writable fsMount): a restore
   * without a policy runs under the policy saved there.
   */
  async save(dir: string): Promise<void> {
    if (typeof dir !== "string" || dir === "") throw new CheckpointError("CHECKPOINT_FAILED", `checkpoint save: dir must be a non-empty path string, got ${JSON.stringify(dir)}`);
    const [{ encodeCheckpoint }, { saveFiles }, { refusedSavePlace }] = await Promise.all([import("./format.js"), import("./store.js"), import("./save-place.js")]);
    await saveFiles(dir, encodeCheckpoint(this.data()), (parentReal) => refusedSavePlace(this.policyJSON, parentReal));
  }

  /** Reads a directory written by save; CheckpointError (CHECKPOINT_INVALID) names any problem. */
  static async load(dir: string): Promise<Checkpoint> {
    if (typeof dir !== "string" || dir === "") throw new CheckpointError("CHECKPOINT_INVALID", `checkpoint load: dir must be a non-empty path string, got ${JSON.stringify(dir)}`);
    const [{ decodeCheckpoint }, { loadFiles }] = await Promise.all([import("./format.js"), import("./store.js")]);
    const { where, files } = await loadFiles(dir);
    return new Checkpoint(decodeCheckpoint(where, (name) => files.get(name)));
  }

  private data(): CheckpointData {
    return {
      createdAt: this.createdAt,
      arch: this.arch,
      kernel: this.kernel,
      policy: this.policyJSON,
      appState: this.appState,
      processes: [...this.processes],
    };
  }
}

/** Options of Sandbox.checkpoint(). */
export interface CheckpointOptions {
  /** Bytes of the caller's own to keep with the checkpoint (any content, NUL and 0xFF included). */
  appState?: Buffer | Uint8Array;
}
