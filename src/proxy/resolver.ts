// How the filtering proxy and the sandbox's DNS resolve names: the host's resolver
// (getaddrinfo, every address of both families), or, for tests only, a fixed table.

import { promises as dns } from "node:dns";
import { validName } from "./rules.js";

/**
 * TEST ONLY: a JSON object `{"name": ["127.0.0.1", ...]}` in this variable of the
 * supervising process replaces the host's resolver for the proxy and the sandbox's DNS;
 * names outside it do not resolve. It lets tests give local servers real-looking names
 * without root (no /etc/hosts edit). Not a policy field, never read inside the sandbox.
 */
export const TEST_HOSTS_ENV = "SANDLOCK_TEST_PROXY_HOSTS";

export type Resolve = (name: string) => Promise<readonly string[]>;

/** What the host's resolver is asked with (dns.promises.lookup's shape). */
export type Lookup = (name: string, options: { all: true; verbatim: true }) => Promise<readonly { address: string }[]>;

/**
 * Host lookups all proxies of this process run at once. Each getaddrinfo holds a thread of
 * libuv's pool (4 by default, shared with the host application's file system, zlib and
 * crypto calls) for as long as the upstream resolver takes, and the names under a wildcard
 * are the sandboxes' choice: without a bound, a sandbox asking for slow names could take
 * the whole pool (network.md, "Blocking calls", kept connects off it for the same reason).
 * The others wait their turn here, holding nothing.
 */
export const LOOKUPS_MAX = 2;

/** A semaphore of LOOKUPS_MAX slots; a released slot passes straight to the next waiter. */
function lookupSlots(): <T>(f: () => Promise<T>) => Promise<T> {
  let running = 0;
  const waiting: (() => void)[] = [];
  const release = (): void => {
    const next = waiting.shift();
    if (next !== undefined) next();
    else running--;
  };
  return async <T>(f: () => Promise<T>): Promise<T> => {
    if (running < LOOKUPS_MAX) running++;
    else await new Promise<void>((go) => waiting.push(go));
    try {
      return await f();
    } finally {
      release();
    }
  };
}

/** One bound for the whole process (every proxy's resolver shares it). */
const processSlots = lookupSlots();
/** A fresh bound (tests). */
export const newLookupSlots = lookupSlots;

export function proxyResolver(env: NodeJS.ProcessEnv = process.env, lookup: Lookup = dns.lookup, slots: <T>(f: () => Promise<T>) => Promise<T> = processSlots): Resolve {
  const text = env[TEST_HOSTS_ENV];
  if (text === undefined || text === "") {
    return async (name) => {
      // getaddrinfo reads up to a NUL, and takes some strings as numbers: only a host name
      // as the rules can name one is asked (callers check it too).
      if (!validName(name)) throw Object.assign(new Error(`${JSON.stringify(name)}: not a host name`), { code: "ENOTFOUND" });
      return (await slots(() => lookup(name, { all: true, verbatim: true }))).map((a) => a.address);
    };
  }
  let table: unknown;
  try {
    table = JSON.parse(text);
  } catch {
    throw new Error(`${TEST_HOSTS_ENV}: ${JSON.stringify(text)} is not JSON (a test-only table {"name": ["address"]})`);
  }
  if (typeof table !== "object" || table === null || Array.isArray(table) || !Object.values(table).every((v) => Array.isArray(v) && v.every((a) => typeof a === "string"))) {
    throw new Error(`${TEST_HOSTS_ENV}: ${JSON.stringify(text)} is not a table {"name": ["address", ...]}`);
  }
  const map = new Map(Object.entries(table as Record<string, string[]>).map(([k, v]) => [k.toLowerCase(), v]));
  return async (name) => {
    const found = map.get(name);
    if (found === undefined) throw Object.assign(new Error(`${name}: not in ${TEST_HOSTS_ENV}`), { code: "ENOTFOUND" });
    return found;
  };
}
