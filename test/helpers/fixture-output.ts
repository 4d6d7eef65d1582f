// What the red-team fixtures print, read back, and the host's side of their network cases.

import { existsSync, readFileSync } from "node:fs";
import { connect } from "node:net";

/** "NAME RESULT" lines (the fixtures' output) as a record: NAME -> RESULT. */
export function lines(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of text.trim().split("\n")) {
    const i = l.indexOf(" ");
    if (i > 0) out[l.slice(0, i)] = l.slice(i + 1);
  }
  return out;
}

/** Connects to 127.0.0.1:port from the host and returns what the peer sent before closing
 * (or "error CODE"), giving up after timeoutMs of silence. */
export function pull(port: number, timeoutMs: number): Promise<string> {
  return new Promise((resolve) => {
    let got = "";
    const s = connect({ host: "127.0.0.1", port });
    s.setTimeout(timeoutMs, () => s.destroy());
    s.on("data", (d) => (got += d.toString()));
    s.on("error", (e: NodeJS.ErrnoException) => resolve(`error ${e.code}`));
    s.on("close", () => resolve(got));
  });
}

/** Awaits `run` (a sandboxed program that writes the port it listens on, then a newline, to
 * portFile) and, once the port is written while it runs, pulls from it as above: what the
 * peer sent, or null when the run ended without writing one (its listen refused). */
export async function pullWhileRunning<T>(run: Promise<T>, portFile: string, timeoutMs: number): Promise<{ result: T; pulled: string | null }> {
  let ended = false;
  const settled = run.finally(() => (ended = true));
  let pulled: string | null = null;
  while (!ended) {
    await new Promise((wake) => setTimeout(wake, 10));
    const text = existsSync(portFile) ? readFileSync(portFile, "utf8") : "";
    if (text.endsWith("\n")) {
      pulled = await pull(Number(text), timeoutMs);
      break;
    }
  }
  return { result: await settled, pulled };
}
