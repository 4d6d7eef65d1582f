// Process facts the tests check from outside a sandbox.

import { readdirSync, readFileSync } from "node:fs";

/** True while pid exists and is neither a zombie nor dead. */
export function alive(pid: number): boolean {
  try {
    return !/\) [ZX] /.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

/** Live (non-zombie) processes descending from pid, found through /proc/<pid>/stat. */
export function descendants(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "latin1");
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (rest[0] === "Z" || rest[0] === "X") continue;
      parent.set(Number(name), Number(rest[1]));
    } catch {
      // exited while we looked
    }
  }
  const out: number[] = [];
  for (const p of parent.keys()) {
    for (let cur = parent.get(p), depth = 0; cur !== undefined && depth < 4096; cur = parent.get(cur), depth++) {
      if (cur === pid) {
        out.push(p);
        break;
      }
    }
  }
  return out;
}
