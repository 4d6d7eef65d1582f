// The seeded randomness of a sandbox with randomSeed: keystreams of AES-256-CTR, each keyed
// by SHA-256 of the seed and a label ("getrandom", "device 3"), so two runs with the same
// seed that make the same requests in the same order get the same bytes, and a different
// seed gives unrelated ones. Deterministic, not secret: the seed is in the policy.
// node:crypto loads only when a seeded sandbox draws (src/lazy-crypto.ts).

import type { Cipher } from "node:crypto";
import { crypto } from "../lazy-crypto.js";

const ZERO_IV = Buffer.alloc(16);

export class SeededStream {
  private readonly cipher: Cipher;

  constructor(seed: bigint, label: string) {
    const key = crypto().createHash("sha256").update(`sandlock randomSeed ${seed} ${label}`).digest();
    this.cipher = crypto().createCipheriv("aes-256-ctr", key, ZERO_IV);
  }

  /** The next n bytes of the stream. */
  next(n: number): Buffer {
    return this.cipher.update(Buffer.alloc(n));
  }
}
