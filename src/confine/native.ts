// Loads the Node-API addon and locates the launcher executable, both built by node-gyp
// into build/Release at npm install.

import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { join } from "node:path";

export interface NativeAddon {
  spawnLauncher(path: string, fds: readonly number[]): [pid: number, pidfd: number];
  pipe(): [read: number, write: number];
  memfd(data: Buffer): number;
  waitPidfd(pidfd: number): [code: number, signal: number] | null;
  landlockAbi(): number;
  isatty(fd: number): boolean;
  pollFd(fd: number, cb: (status: number, events: number) => void): object;
  /** Seccomp user notification and process access: each returns >= 0 or -errno. */
  notifRecv(listener: number, out: Buffer): number;
  notifSend(listener: number, id: Buffer, val: number, error: number, flags: number): number;
  notifIdValid(listener: number, id: Buffer): number;
  notifAddfd(listener: number, id: Buffer, srcfd: number, newfd: number, flags: number, newfdFlags: number): number;
  notifSetSyncWakeup(listener: number): number;
  readMemory(pid: number, address: number, out: Buffer): number;
  writeMemory(pid: number, address: number, data: Buffer): number;
  pollNow(fd: number): number;
  pidfdOpen(pid: number): number;
  pidfdGetfd(pidfd: number, targetfd: number): number;
  pidfdSendSignal(pidfd: number, signal: number): number;
  pollClose(handle: object): void;
}

/** The package root: dist/src/confine -> ../../.. */
const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const RELEASE = join(ROOT, "build", "Release");

let addon: NativeAddon | undefined;

export function native(): NativeAddon {
  if (addon === undefined) {
    const file = join(RELEASE, "sandlock_native.node");
    if (!existsSync(file)) {
      throw new Error(`sandlock: native addon missing at ${file}; run "npm install" (it builds the C part with node-gyp)`);
    }
    addon = createRequire(import.meta.url)(file) as NativeAddon;
  }
  return addon;
}

export function launcherPath(): string {
  return join(RELEASE, "sandlock-launcher");
}
