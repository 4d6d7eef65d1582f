// npm's prepare step in this repository: TypeScript, then the CLI bundle. `npx sandlock` in
// the checkout runs prepare on every call (npm exec links the project in): once dist/ is
// built that run does nothing, so it neither takes a minute nor rewrites dist/ under a
// sandlock that is running (`npm run build` rebuilds).
import { execFileSync } from "node:child_process";
import { existsSync, rmSync } from "node:fs";

if (process.env.npm_command === "exec" && existsSync("dist/src/cli/sandlock.bundle.cjs")) process.exit(0);
// From an empty dist/: a module whose source was removed would otherwise stay in dist/ and
// ship in the package (npm pack takes the whole directory).
rmSync("dist", { recursive: true, force: true });
execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "."], { stdio: "inherit" });
execFileSync(process.execPath, ["scripts/bundle-cli.mjs"], { stdio: "inherit" });
// The MCP server's package (packages/mcp, an npm workspace), built against the dist/ above.
if (existsSync("packages/mcp/tsconfig.json")) execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "packages/mcp"], { stdio: "inherit" });
