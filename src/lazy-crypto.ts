// node:crypto, loaded by its first user (a seeded sandbox's first draw, policyFn's first
// exec digest): imported at the top of a module it loaded at every CLI start, used or not
// (6.5 to 10 ms and some 330 page faults here; test/integration/cli-cache.test.ts checks
// that a plain run loads none of Node's modules beyond vm, os and string_decoder).

import { createRequire } from "node:module";

const load = createRequire(import.meta.url);
let cryptoModule: typeof import("node:crypto") | undefined;

export const crypto = (): typeof import("node:crypto") => (cryptoModule ??= load("node:crypto") as typeof import("node:crypto"));
