// Saving and loading checkpoint directories. Save is atomic: every file goes into a
// temporary sibling directory, is fsynced, and the directory is renamed into place, so
// a reader sees either no checkpoint or a complete one. Files are private (0600): they
// hold the sandboxed processes' memory.

import { constants } from "node:fs";
import { mkdtemp, open, readFile, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { CheckpointError } from "../errors.js";
import { errnoCode } from "./errno.js";
import { MANIFEST, readManifest } from "./format.js";

async function fsyncPath(path: string): Promise<void> {
  const h = await open(path, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

async function writeDurably(path: string, data: Buffer): Promise<void> {
  const h = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  try {
    await h.writeFile(data);
    await h.sync();
  } finally {
    await h.close();
  }
}

/** Writes files (manifest.json last) as the new directory dir, atomically. */
export async function saveFiles(dir: string, files: ReadonlyMap<string, Buffer>): Promise<void> {
  const target = resolve(dir);
  const parent = dirname(target);
  const failed = (message: string, cause?: unknown): CheckpointError =>
    new CheckpointError("CHECKPOINT_FAILED", `checkpoint save ${target}: ${message}`, { cause, errno: errnoCode(cause) });
  try {
    if (!(await stat(parent)).isDirectory()) throw failed(`${parent} is not a directory`);
  } catch (e) {
    if (e instanceof CheckpointError) throw e;
    throw failed(`cannot use the parent directory ${parent} (${errnoCode(e) ?? (e as Error).message})`, e);
  }
  if (await stat(target).then(() => true, () => false)) {
    throw failed("already exists; a checkpoint is never overwritten, choose a new directory");
  }
  let tmp: string;
  try {
    tmp = await mkdtemp(join(parent, `.${basename(target)}.tmp-`));
  } catch (e) {
    throw failed(`cannot create a temporary directory in ${parent} (${errnoCode(e) ?? (e as Error).message})`, e);
  }
  try {
    for (const [name, data] of files) if (name !== MANIFEST) await writeDurably(join(tmp, name), data);
    const manifest = files.get(MANIFEST);
    if (manifest === undefined) throw new Error("encoder produced no manifest");
    await writeDurably(join(tmp, MANIFEST), manifest);
    await fsyncPath(tmp);
    await rename(tmp, target);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw failed(`writing failed (${errnoCode(e) ?? (e as Error).message})`, e);
  }
  await fsyncPath(parent);
}

/** Reads manifest.json and every file it lists (a missing one is left out for the decoder to name). */
export async function loadFiles(dir: string): Promise<{ where: string; files: Map<string, Buffer> }> {
  const where = resolve(dir);
  const invalid = (message: string, cause?: unknown): CheckpointError =>
    new CheckpointError("CHECKPOINT_INVALID", `checkpoint ${where}: ${message}`, { cause, errno: errnoCode(cause) });
  let st;
  try {
    st = await stat(where);
  } catch (e) {
    if (errnoCode(e) === "ENOENT") throw invalid("the directory does not exist", e);
    throw invalid(`cannot read the directory (${errnoCode(e) ?? (e as Error).message})`, e);
  }
  if (!st.isDirectory()) throw invalid("is not a directory");
  const read = async (name: string): Promise<Buffer | undefined> => {
    try {
      return await readFile(join(where, name));
    } catch (e) {
      if (errnoCode(e) === "ENOENT") return undefined;
      throw invalid(`cannot read ${name} (${errnoCode(e) ?? (e as Error).message})`, e);
    }
  };
  const files = new Map<string, Buffer>();
  const manifest = await read(MANIFEST);
  if (manifest !== undefined) {
    files.set(MANIFEST, manifest);
    for (const e of readManifest(where, () => manifest)) {
      const data = await read(e.name);
      if (data !== undefined) files.set(e.name, data);
    }
  }
  return { where, files };
}
