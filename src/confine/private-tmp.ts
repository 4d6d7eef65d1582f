// The private temporary directory of one run (policy privateTmp): made before the launch,
// mode 0700, granted writable, TMPDIR and HOME pointed into it; removed once every
// process of the sandbox is gone.

import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface PrivateTmp {
  /** The directory granted writable (holds tmp/ and home/). */
  readonly dir: string;
  /** Variables the command gets: TMPDIR and HOME. */
  readonly env: Readonly<Record<string, string>>;
  remove(): void;
}

/**
 * Variables that would send a program back to the caller's own home, where it cannot
 * write: without them, programs use $HOME/.config, $HOME/.cache... inside the private HOME.
 */
export const HOME_VARIABLES = ["XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"];

/** Directories the sandbox made unwritable or unsearchable (chmod 0) would stop rm. */
function makeRemovable(dir: string): void {
  chmodSync(dir, 0o700);
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    // lstat: a symlink is never followed, so nothing outside the directory is touched.
    if (lstatSync(path).isDirectory()) makeRemovable(path);
  }
}

export function makePrivateTmp(): PrivateTmp {
  // mkdtemp creates the directory 0700 with a fresh random name: no other user can enter it
  // or have prepared it.
  const dir = mkdtempSync(join(tmpdir(), "sandlock-tmp-"));
  const tmp = join(dir, "tmp");
  const home = join(dir, "home");
  let removed = false;
  const remove = (): void => {
    if (removed) return;
    removed = true;
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      makeRemovable(dir);
      rmSync(dir, { recursive: true, force: true });
    }
  };
  try {
    mkdirSync(tmp, { mode: 0o700 });
    mkdirSync(home, { mode: 0o700 });
  } catch (e) {
    remove();
    throw e;
  }
  return { dir, env: { TMPDIR: tmp, HOME: home }, remove };
}
