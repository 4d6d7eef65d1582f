// The host facts an emulated netlink socket answers from (link and address dumps, the
// interface view), shared by every sandbox of this process for FRESH_MS: a sandbox asking
// a thousand times a second costs the host one dump per kind and period, not a thousand.

import { monotonicMs } from "../../kernel/clock.js";
import { native } from "../../confine/native.js";
import type { InterfaceScope } from "../../plan/interface-view.js";
import { visibleInterfaces, type InterfaceView } from "../interface-view.js";

/** How long a dump or a view is reused. Interfaces and addresses change rarely; a change
 * shows within this time, as it would to a program that dumped just before it. */
export const FRESH_MS = 100;
/** Distinct dumps kept (type, family, extension mask): the mask is the sandbox's choice,
 * so the cache must not grow with it. */
const MAX_DUMPS = 16;

const dumps = new Map<string, { at: number; dump: Buffer }>();
const views = new Map<InterfaceScope, { at: number; view: InterfaceView }>();

/** A RTM_GETLINK or RTM_GETADDR dump of the host (see native netlinkDump), at most
 * FRESH_MS old, or -errno (failures are not kept). */
export function hostDump(type: number, family: number, extMask: number, now = monotonicMs()): Buffer | number {
  const key = `${type}/${family}/${extMask}`;
  const hit = dumps.get(key);
  if (hit !== undefined && now - hit.at < FRESH_MS) return hit.dump;
  const got = native().netlinkDump(type, family, extMask);
  if (typeof got === "number") return got;
  if (dumps.size >= MAX_DUMPS) {
    for (const [k, v] of dumps) if (now - v.at >= FRESH_MS) dumps.delete(k);
  }
  if (dumps.size < MAX_DUMPS) dumps.set(key, { at: now, dump: got });
  return got;
}

/** The interface view of `scope`, at most FRESH_MS old. */
export function recentView(scope: InterfaceScope, now = monotonicMs()): InterfaceView {
  const hit = views.get(scope);
  if (hit !== undefined && now - hit.at < FRESH_MS) return hit.view;
  const view = visibleInterfaces(scope);
  views.set(scope, { at: now, view });
  return view;
}
