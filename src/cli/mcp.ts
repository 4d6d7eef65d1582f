// `sandlock mcp`: the MCP server, which lives in its own package (sandlock-mcp, built on the
// official MCP SDK) so the core keeps no runtime dependencies. Loaded only for this command.

import { createRequire } from "node:module";

/** The package's name, in a variable: the CLI bundle must not try to include it. */
const PACKAGE = "sandlock-mcp";

export async function mcpCommand(argv: readonly string[]): Promise<number> {
  // Through the package's CommonJS door (launch.cjs): the CLI bundle runs in a vm.Script,
  // where import() of an ES module is not available on Node 20.
  let main: (argv: readonly string[]) => Promise<number>;
  try {
    main = createRequire(import.meta.url)(`${PACKAGE}/launch`) as typeof main;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== "ERR_MODULE_NOT_FOUND" && code !== "MODULE_NOT_FOUND") throw e;
    process.stderr.write(`sandlock mcp: the MCP server is the separate package ${PACKAGE}, which is not installed here: npm install ${PACKAGE} (in a checkout of sandlock, npm install builds it)\n`);
    return 2;
  }
  return main(argv);
}
