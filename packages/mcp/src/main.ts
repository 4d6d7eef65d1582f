// `sandlock mcp` / `sandlock-mcp`: the server on stdio until the client goes away.

import { readFileSync } from "node:fs";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { Sandbox } from "sandlock";
import { parseOptions, USAGE, UsageError } from "./options.js";
import { createServer } from "./server.js";

function version(): string {
  return (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version;
}

/** Serves until stdin closes; returns the exit code (2 for a bad command line). */
export async function main(argv: readonly string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(USAGE);
    return 0;
  }
  let opts;
  try {
    opts = parseOptions(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`${e.message}\n${USAGE}`);
    return 2;
  }
  // A sandbox per tool call, one after another: the next kernel-view start finds its
  // launcher waiting in its namespaces (sandlock's docs/kernel-view.md, "Standby launcher").
  Sandbox.setStandby(true);
  const server = createServer(opts, version());
  const transport = new StdioServerTransport();
  const closed = new Promise<void>((resolve) => {
    transport.onclose = () => resolve();
  });
  await server.connect(transport);
  process.stdin.once("end", () => void server.close());
  await closed;
  return 0;
}
