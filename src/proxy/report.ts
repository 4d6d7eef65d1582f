// The `network` section of a RunResult: what the filtering proxy and the sandbox's DNS
// refused, one entry per kind with a count.

/** One kind of connection or name the filtering proxy refused, and how many times. */
export interface ProxyRefusal {
  /** Where the program tried to go: "93.184.216.34:443", "CONNECT evil.com:443", "dns". */
  readonly destination: string;
  /** The name it gave (SNI, Host, CONNECT or DNS question), or null when it gave none. */
  readonly name: string | null;
  /** Why: "no SNI", "Encrypted Client Hello", "not allowed by netAllow"... */
  readonly reason: string;
  /** How many times the sandbox tried. */
  readonly count: number;
}

/** RunResult.network: the filtering proxy of the domain rules, and what it refused. */
export interface NetworkReport {
  /** The proxy's address (HTTP_PROXY and friends point at it). */
  readonly proxy: string;
  /** Refused connections and names (the first 50 kinds). */
  readonly refused: readonly ProxyRefusal[];
}

const MAX_KINDS = 50;

export class RefusalLog {
  private readonly list: { -readonly [K in keyof ProxyRefusal]: ProxyRefusal[K] }[] = [];

  note(destination: string, name: string | null, reason: string): void {
    const same = this.list.find((r) => r.destination === destination && r.name === name && r.reason === reason);
    if (same !== undefined) same.count++;
    else if (this.list.length < MAX_KINDS) this.list.push({ destination, name, reason, count: 1 });
  }

  snapshot(): readonly ProxyRefusal[] {
    return this.list.map((r) => Object.freeze({ ...r }));
  }
}
