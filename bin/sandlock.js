#!/usr/bin/env node
// Entry point of the sandlock command; everything lives in dist/src/cli.
import { main } from "../dist/src/cli/main.js";

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`sandlock: internal error: ${err && err.stack ? err.stack : String(err)}\n`);
    process.exitCode = 125;
  },
);
