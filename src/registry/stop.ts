// A graceful stop asked for by `sandlock kill`: the signal to every process of the
// sandbox, then, if any is left after the grace period, the launcher's SIGKILL of all.
// Done by the owner, which knows its sandbox, never by the client from a pid it was told.

import { closeSync } from "node:fs";
import { native } from "../confine/native.js";
import type { RunResult } from "../result.js";
import { descendsFrom } from "../supervise/kill.js";
import { sandboxProcesses, type ProcessOwner } from "./processes.js";
import type { Stopped } from "./protocol.js";

const SIGKILL = 9;

/** The part of a Sandbox a stop uses. */
export interface Stoppable extends ProcessOwner {
  readonly state: string;
  resume(): Promise<void>;
  kill(): Promise<void>;
  wait(): Promise<RunResult>;
}

/**
 * Sends `signal` to every process in `pids` that is one of the sandbox's; returns how many
 * got it. As for the supervisor's own kills (src/supervise/kill.ts): each pidfd is opened
 * first and membership checked after, so a pid reused since the /proc scan is never
 * signalled. All are pinned and checked before the first signal goes, so that one process
 * ending on it (and the launcher then killing the rest) does not race the checks.
 */
function signalMembers(pids: readonly number[], launcherPid: number, signal: number): number {
  const pinned: number[] = [];
  try {
    for (const pid of pids) {
      const fd = native().pidfdOpen(pid);
      if (fd < 0) continue; // gone
      if (descendsFrom(pid, launcherPid)) pinned.push(fd);
      else closeSync(fd);
    }
    return pinned.filter((fd) => native().pidfdSendSignal(fd, signal) === 0).length;
  } finally {
    for (const fd of pinned) closeSync(fd);
  }
}

/**
 * Every process gets the signal (as systemd's default stop of a service does), so a shell
 * waiting for a child runs its trap once the child ends, and a daemon that left the root's
 * process group is asked too. A paused sandbox is resumed after the signal, to handle it.
 */
export async function stopGracefully(sb: Stoppable, launcherPid: number, signal: number, killAfterMs: number): Promise<Stopped> {
  let signalled = 0;
  let forced = false;
  if (signal === SIGKILL || killAfterMs === 0) {
    forced = signal !== SIGKILL;
    await sb.kill();
  } else {
    signalled = signalMembers((await sandboxProcesses(launcherPid, sb)).map((p) => p.pid), launcherPid, signal);
    if (sb.state === "paused") await sb.resume().catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), killAfterMs);
    });
    const ended = await Promise.race([sb.wait().then(() => true), grace]);
    clearTimeout(timer);
    if (!ended) {
      forced = true;
      await sb.kill().catch(() => undefined); // it may have ended just now
    }
  }
  const r = await sb.wait();
  return { event: "stopped", forced, signalled, status: r.status, exitCode: r.exitCode, signal: r.signal };
}
