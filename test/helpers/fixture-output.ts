// What the red-team fixtures print, read back, and the host's side of their network cases.

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
