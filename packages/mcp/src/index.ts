// sandlock-mcp as a library: the server, to be connected to any MCP transport.
export { createServer, directoryInRoot, printable, ToolInputError } from "./server.js";
export { parseOptions, USAGE, UsageError, type ServerOptions } from "./options.js";
export { main } from "./main.js";
