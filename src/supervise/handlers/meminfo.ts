// The /proc/meminfo a sandbox with maxMemory sees: the host's file with MemTotal set to
// the cap and the free figures to what is left of it, so programs that size caches or
// heaps from MemTotal (the JVM, Node's heap limit, databases) size them for the sandbox.

/** Rewrites the host's meminfo text for a cap of `cap` bytes of which `used` are charged. */
export function virtualMeminfo(host: string, cap: bigint, used: bigint): string {
  const kb = (b: bigint): bigint => b / 1024n;
  const free = used >= cap ? 0n : cap - used;
  const set: Record<string, bigint> = {
    MemTotal: kb(cap),
    MemFree: kb(free),
    MemAvailable: kb(free),
  };
  return host
    .split("\n")
    .map((line) => {
      const m = /^(\w+):(\s+)(\d+) kB$/.exec(line);
      if (!m || !(m[1]! in set)) return line;
      // Keep the column: the value is right-aligned after the colon.
      const value = String(set[m[1]!]);
      const width = m[2]!.length + m[3]!.length;
      return `${m[1]}:${value.padStart(width)} kB`;
    })
    .join("\n");
}
