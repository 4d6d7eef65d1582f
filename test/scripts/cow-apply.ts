// Applies one copy-on-write branch (the crash case kills this process at random points).
// Usage: cow-apply.js ID FS_STORAGE

import { applyWorkdirBranch } from "../../src/index.js";

const [id, fsStorage] = process.argv.slice(2) as [string, string];
applyWorkdirBranch(id, { fsStorage });
