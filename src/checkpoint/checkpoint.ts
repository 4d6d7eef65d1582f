// The Checkpoint a sandbox's checkpoint() returns: the captured processes, the policy and
// the app state, with save (atomic, versioned directory) and load (validated).

import { Policy } from "../policy/policy.js";
import type { PolicyJSON } from "../policy/types.js";
import { CheckpointError } from "../errors.js";
import { inOwnPidNamespace, type CheckpointData, type ProcessImage } from "./image.js";

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
  /**
   * Why the policy saved with this checkpoint is not trusted, or undefined when it is: a
   * checkpoint captured by this process, or loaded from a directory whose seal verifies
   * under this user's key (docs/checkpoint.md, "The seal"). Sandbox.restore refuses to run
   * one that is not trusted under its saved policy; given a policy, it runs under that.
   */
  readonly unverified: string | undefined;

  /** @internal Made by Sandbox.checkpoint() and Checkpoint.load(). */
  constructor(data: CheckpointData, unverified?: string) {
    this.createdAt = data.createdAt;
    this.arch = data.arch;
    this.kernel = data.kernel;
    this.policyJSON = data.policy;
    this.appState = data.appState;
    this.processes = data.processes;
    this.unverified = unverified;
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

  /**
   * The view the sandbox ran in: "kernel" when its threads' ids were its own pid
   * namespace's (the image holds them as nsTid), else "supervised" (host ids). A restore
   * runs in the same view; only the kernel view's gives every thread its id back
   * (docs/checkpoint.md, "Ids").
   */
  get procView(): "kernel" | "supervised" {
    return inOwnPidNamespace(this.processes[0]) ? "kernel" : "supervised";
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
   * without a policy runs under the policy saved there. Sealed, with the directory's real
   * path (a checkpoint moved or copied is not trusted), with a key kept in this user's
   * kernel keyring, which no sandbox can reach; where the keyring cannot be used the
   * checkpoint is saved without a seal, and the result says why (a restore of it then needs
   * a policy).
   */
  async save(dir: string): Promise<SavedCheckpoint> {
    if (typeof dir !== "string" || dir === "") throw new CheckpointError("CHECKPOINT_FAILED", `checkpoint save: dir must be a non-empty path string, got ${JSON.stringify(dir)}`);
    const [{ encodeCheckpoint, MANIFEST }, { saveFiles }, { refusedSavePlace }, { SEAL, sealOf }] = await Promise.all([import("./format.js"), import("./store.js"), import("./save-place.js"), import("./seal.js")]);
    const files = encodeCheckpoint(this.data());
    let sealed: ReturnType<typeof sealOf> = { why: "not saved" };
    const place = await saveFiles(
      dir,
      files,
      (parentReal) => refusedSavePlace(this.policyJSON, parentReal),
      (place) => {
        sealed = sealOf(files.get(MANIFEST)!, place);
        return new Map("seal" in sealed ? [[SEAL, sealed.seal]] : []);
      },
    );
    return "seal" in sealed ? { sealed: true, dir: place } : { sealed: false, dir: place, why: sealed.why };
  }

  /** Reads a directory written by save; CheckpointError (CHECKPOINT_INVALID) names any problem.
   * Its seal is checked: `unverified` says why it did not verify (a directory named through
   * a symbolic link, or moved since its save, is not trusted). */
  static async load(dir: string): Promise<Checkpoint> {
    if (typeof dir !== "string" || dir === "") throw new CheckpointError("CHECKPOINT_INVALID", `checkpoint load: dir must be a non-empty path string, got ${JSON.stringify(dir)}`);
    const [{ decodeCheckpoint, MANIFEST }, { loadFiles }, { SEAL, sealProblem }] = await Promise.all([import("./format.js"), import("./store.js"), import("./seal.js")]);
    const { where, place, files } = await loadFiles(dir, [SEAL]);
    const data = decodeCheckpoint(where, (name) => files.get(name));
    const problem = sealProblem(files.get(MANIFEST), files.get(SEAL), place, where);
    return new Checkpoint(data, problem === undefined ? undefined : `checkpoint ${where}: ${problem}`);
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

/** What Checkpoint.save resolves with. */
export interface SavedCheckpoint {
  /** Whether the directory was sealed (docs/checkpoint.md, "The seal"). */
  readonly sealed: boolean;
  /** The directory's real path: the name under which `Checkpoint.load` trusts its seal. */
  readonly dir: string;
  /** Why it was not, when it was not (the kernel keyring could not be used). */
  readonly why?: string;
}

/** Options of Sandbox.checkpoint(). */
export interface CheckpointOptions {
  /** Bytes of the caller's own to keep with the checkpoint (any content, NUL and 0xFF included). */
  appState?: Buffer | Uint8Array;
}
