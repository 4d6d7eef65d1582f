// Line-by-line async iteration of a command's output stream (Sandbox.lines()): UTF-8
// decoded across chunk boundaries, "\n" (and a "\r" before it) removed.

import { StringDecoder } from "node:string_decoder";
import type { Readable } from "node:stream";

/**
 * The lines of `stream` as it is read; the last one is yielded even without a final
 * "\n". Reading pulls from the stream, so a consumer that stops pulling stops the reads.
 */
export async function* readLines(stream: Readable): AsyncIterableIterator<string> {
  const decoder = new StringDecoder("utf8");
  let pending = "";
  for await (const chunk of stream) {
    pending += typeof chunk === "string" ? chunk : decoder.write(chunk as Buffer);
    const lines = pending.split("\n");
    pending = lines.pop()!;
    for (const line of lines) yield line.endsWith("\r") ? line.slice(0, -1) : line;
  }
  pending += decoder.end();
  if (pending !== "") yield pending.endsWith("\r") ? pending.slice(0, -1) : pending;
}
