// Resolves the host names of the network rules once, when a sandbox starts, with the
// host's own resolver (getaddrinfo: /etc/hosts, then DNS), both address families.

import { createRequire } from "node:module";
import { ConfinementError } from "../errors.js";
import type { ResolvedHosts } from "../plan/net-rules.js";

// node:dns loads only for policies that name hosts (a require, not import(): the CLI runs
// as a cached CommonJS bundle, where a dynamic import of a builtin is not available).
const load = createRequire(import.meta.url);

/**
 * Every name must give at least one address. A name that does not resolve fails the spawn
 * with a ConfinementError (step "getaddrinfo(NAME)", errno the resolver's code such as
 * ENOTFOUND or EAI_AGAIN): the policy is well-formed, it is this host that cannot give it
 * a meaning now, and a rule silently reduced to nothing would hide a typo or an outage.
 * Names resolve concurrently.
 */
export async function resolveHosts(hosts: readonly string[]): Promise<ResolvedHosts> {
  const out = new Map<string, readonly string[]>();
  if (hosts.length === 0) return out;
  const { lookup } = load("node:dns/promises") as typeof import("node:dns/promises");
  await Promise.all(
    hosts.map(async (host) => {
      let addresses: string[];
      try {
        addresses = (await lookup(host, { all: true, family: 0 })).map((a) => a.address);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code ?? "EAI_FAIL";
        throw new ConfinementError(
          `netAllow: host ${JSON.stringify(host)} does not resolve (getaddrinfo: ${code}); names in network rules are resolved once, when the sandbox starts`,
          { step: `getaddrinfo(${host})`, errno: code },
        );
      }
      if (addresses.length === 0) {
        throw new ConfinementError(`netAllow: host ${JSON.stringify(host)} resolves to no address`, { step: `getaddrinfo(${host})`, errno: "EAI_NODATA" });
      }
      out.set(host, [...new Set(addresses)]);
    }),
  );
  return out;
}
