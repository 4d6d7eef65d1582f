// Asks one registry entry directly (bypassing the CLI's directory lookup), for the tests
// that reach another user's entry: prints the client's Outcome as JSON.
// Usage: registry-ask.js PATH OP

import { ask } from "../../src/registry/client.js";

const [path, op] = process.argv.slice(2) as [string, "info" | "inspect" | "stop"];
process.stdout.write(`${JSON.stringify(await ask(path, op, op === "stop" ? { signal: 9, killAfterMs: 0 } : {}))}\n`);
