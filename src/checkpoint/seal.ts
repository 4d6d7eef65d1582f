// The seal of a saved checkpoint: an HMAC-SHA256 of its directory's real path and its
// manifest.json (which holds the size and SHA-256 of every other file) under a key kept in
// the saving user's kernel keyring. A restore without a policy runs under the policy saved
// in the directory, and a sandbox allowed to write where a checkpoint lies could rewrite
// it (the policy, the memory): no sandbox can reach the keyring (keyctl, add_key and
// request_key are refused in every sandbox), so no sandbox can make a seal that verifies.
// docs/checkpoint.md, "The seal".

import { createHmac, timingSafeEqual } from "node:crypto";
import { native } from "../confine/native.js";
import { errnoName } from "../confine/errno.js";

/** The seal's file in a checkpoint directory (not listed in manifest.json, which it seals). */
export const SEAL = "seal";
/** What it starts with: the HMAC in hex and a newline; the rest is the directory's path. */
const MAC_BYTES = 65;
/** Said first in what the HMAC covers: a seal of this is of nothing else. Then the
 * directory's real path and a NUL (a path holds none), then the manifest. */
const LABEL = "sandlock checkpoint seal 2\0";
const ENOKEY = 126;
const EBADMSG = 74;

let keyName = "sandlock:checkpoint-seal";

/** The keyring key's name; tests use one of their own, so they can lose it without losing
 * the user's. Returns the previous one. */
export function useSealKeyName(name: string): string {
  const was = keyName;
  keyName = name;
  return was;
}

/** The key, or why there is none. */
function sealKey(create: boolean): Buffer | string {
  const k = native().userKey(keyName, create);
  if (typeof k !== "number") return k;
  if (k === -ENOKEY) return `this user's kernel keyring holds no seal key (${keyName}): it lives while the user has processes, so a reboot or the end of the user's last session loses it, and a checkpoint saved by another user is not sealed with it`;
  if (k === -EBADMSG) return `this user's kernel keyring holds a key named ${keyName} that sandlock did not make (not 32 bytes)`;
  return `the kernel keyring cannot be used here (${errnoName(-k)})`;
}

/**
 * A real path is read as UTF-8 text (readlink of the descriptor), and bytes that are not
 * UTF-8 decode to U+FFFD: two directories whose names differ only in such bytes, or in them
 * and a U+FFFD of their own, would read as one place and share one seal. Such a place is
 * neither sealed nor trusted: the reason, or undefined for a place of plain text.
 */
function inexact(place: string): string | undefined {
  if (!place.includes("\uFFFD")) return undefined;
  return `its directory's real path (${JSON.stringify(place)}) holds bytes that are not UTF-8 text, or the character U+FFFD they are read as, so it cannot be named exactly and is never sealed: another directory could read as the same path; save it under a path of plain text`;
}

function hmac(key: Buffer, place: string, manifest: Buffer): Buffer {
  return createHmac("sha256", key).update(LABEL).update(place).update("\0").update(manifest).digest();
}

/** The seal of `manifest` for the directory whose real path is `place` (the seal file's
 * bytes), or why the checkpoint cannot be sealed. The key is made at the first save. Read
 * again after sealing: a save making the key at the same instant as another may have had
 * its bytes replaced by the other's. */
export function sealOf(manifest: Buffer, place: string): { seal: Buffer } | { why: string } {
  const why = inexact(place);
  if (why !== undefined) return { why };
  for (let tries = 0; tries < 5; tries++) {
    const key = sealKey(true);
    if (typeof key === "string") return { why: key };
    const mac = hmac(key, place, manifest);
    const again = sealKey(false);
    if (typeof again !== "string" && again.equals(key)) return { seal: Buffer.from(`${mac.toString("hex")}\n${place}`) };
  }
  return { why: `the seal key ${keyName} changed at every read (another process of this user keeps replacing it)` };
}

/** Why a loaded checkpoint's saved policy cannot be trusted, or undefined when its seal
 * verifies under this user's key for the directory it was read from: `place`, its real
 * path, which must be the path the caller named (`named`, made absolute). */
export function sealProblem(manifest: Buffer | undefined, seal: Buffer | undefined, place: string, named: string): string | undefined {
  if (manifest === undefined) return "it has no manifest.json";
  if (seal === undefined) return `it has no seal (the file ${SEAL}: saved by an earlier sandlock or where the kernel keyring could not be used, or removed)`;
  // Through a symbolic link, a name can be pointed at any other checkpoint by whoever may
  // write a directory on the way: the swap the place in the seal stops, made with a link.
  if (place !== named) {
    return `it was read through a symbolic link (the directory named is ${place}): a sealed checkpoint is trusted only under its own path, as a link on the way could point the name at another checkpoint; name it ${place}`;
  }
  const why = inexact(place);
  if (why !== undefined) return why;
  // The path written after the HMAC names where it was saved; the HMAC, checked below with
  // the place it is read from, is what decides.
  const saved = seal.length > MAC_BYTES && seal[MAC_BYTES - 1] === 0x0a ? seal.subarray(MAC_BYTES).toString() : undefined;
  if (saved !== undefined && saved !== place) {
    return `it was saved as ${saved} and is read from ${place}: a seal binds a checkpoint to the directory it was saved as, so one moved, copied or swapped with another is not trusted`;
  }
  const key = sealKey(false);
  if (typeof key === "string") return `its seal cannot be checked: ${key}`;
  const want = Buffer.from(`${hmac(key, place, manifest).toString("hex")}\n${place}`);
  if (seal.length !== want.length || !timingSafeEqual(seal, want)) {
    return "its seal does not match this user's key: a file of it was changed after it was saved (the manifest, or the seal itself), or it was saved by another user or under a key since lost";
  }
  return undefined;
}
