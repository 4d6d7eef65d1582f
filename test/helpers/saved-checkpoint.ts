// Editing a checkpoint saved by cp.save, as a crafted or tampered one would be: its
// checkpoint.json rewritten and manifest.json's size and SHA-256 for it put in step, so that
// Checkpoint.load accepts the files (the seal then no longer verifies).

import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** Applies edit to the parsed checkpoint.json of the saved checkpoint in dir. */
export function editSavedCheckpoint(dir: string, edit: (meta: Record<string, any>) => void): void {
  const meta = JSON.parse(readFileSync(join(dir, "checkpoint.json"), "utf8")) as Record<string, any>;
  edit(meta);
  const data = Buffer.from(JSON.stringify(meta));
  writeFileSync(join(dir, "checkpoint.json"), data);
  const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as { files: { name: string }[] };
  for (const f of manifest.files) if (f.name === "checkpoint.json") Object.assign(f, { bytes: data.length, sha256: createHash("sha256").update(data).digest("hex") });
  writeFileSync(join(dir, "manifest.json"), JSON.stringify(manifest));
}
