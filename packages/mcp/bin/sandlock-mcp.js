#!/usr/bin/env node
// sandlock-mcp: the MCP server on stdio (also reached as `sandlock mcp`).
import { main } from "../dist/main.js";

process.exitCode = await main(process.argv.slice(2));
