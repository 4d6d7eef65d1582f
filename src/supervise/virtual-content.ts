// What the virtual files of a sandbox contain: the hostname, /proc/cpuinfo trimmed to
// numCpus processors, and the CPU lists of /sys/devices/system/cpu. Pure text functions.

/** A hostname file: the name and a newline. */
export function hostnameText(name: string): string {
  return `${name}\n`;
}

/** A kernel CPU list for CPUs 0..n-1 ("0", "0-3"). */
export function cpuListText(n: number): string {
  return n === 1 ? "0\n" : `0-${n - 1}\n`;
}

/**
 * The first n processor blocks of /proc/cpuinfo. "siblings" and "cpu cores" say how many
 * logical CPUs and cores a package has: capped at n so tools that multiply them out
 * (lscpu) agree with the processor count.
 */
export function trimCpuinfo(text: string, n: number): string {
  const blocks = text.split(/\n\n+/).filter((b) => b.trim() !== "");
  return blocks
    .slice(0, n)
    .map((b) => b.replace(/^(siblings|cpu cores)(\s*:\s*)(\d+)$/gm, (_, k: string, sep: string, v: string) => `${k}${sep}${Math.min(Number(v), n)}`))
    .map((b) => `${b}\n\n`)
    .join("");
}
