// Paths tests share: the package root, the CLI entry, and the read-only system trees a
// sandboxed program needs to start (its binary, the dynamic loader, libc).

import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";

/** The package root (dist/test/helpers -> ../../..). */
export const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
export const CLI = join(ROOT, "bin", "sandlock.cjs");

/** System trees to grant read access to so ordinary programs (sh, cat, node) run. */
export const SYSTEM_RO: readonly string[] = ["/usr", "/lib", "/lib64", "/bin", "/etc"].filter((p) => existsSync(p));
