// A pid a sandboxed command printed, as the test names it: the same under the supervised
// view; under the kernel view (a pid namespace of its own) the descendant of `ancestor`
// whose NSpid ends with it. Undefined while no such process exists.

import { readdirSync, readFileSync } from "node:fs";

export function pidOutside(ancestor: number, inner: number): number | undefined {
  for (const name of readdirSync("/proc")) {
    if (!/^[0-9]+$/.test(name)) continue;
    try {
      const status = readFileSync(`/proc/${name}/status`, "latin1");
      const ns = /^NSpid:.*?([0-9]+)\s*$/m.exec(status);
      if (ns === null || Number(ns[1]) !== inner) continue;
      // Descends from ancestor?
      for (let p = Number(name), depth = 0; p > 1 && depth < 64; depth++) {
        if (p === ancestor) return Number(name);
        p = Number(/^PPid:\s*([0-9]+)$/m.exec(readFileSync(`/proc/${p}/status`, "latin1"))?.[1] ?? 0);
      }
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}
