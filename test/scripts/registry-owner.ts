// A library program that runs one named sandbox, for the registry tests: prints
// {"ready":pid} once it runs, then the RunResult as JSON when it has ended.
// Usage: registry-owner.js NAME CMD [ARG...]

import { existsSync } from "node:fs";
import { Sandbox } from "../../src/index.js";

const [name, ...cmd] = process.argv.slice(2) as [string, ...string[]];
const sb = new Sandbox({ name, fsReadable: ["/usr", "/lib", "/lib64", "/bin"].filter((p) => existsSync(p)), maxMemory: "256M" });
await sb.spawn(cmd, { stdout: "ignore", stderr: "ignore" });
process.stdout.write(`${JSON.stringify({ ready: sb.pid })}\n`);
const r = await sb.wait();
process.stdout.write(`${JSON.stringify({ status: r.status, exitCode: r.exitCode, signal: r.signal })}\n`);
