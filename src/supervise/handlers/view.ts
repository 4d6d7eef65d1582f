// The view concern's handler tables (SPEC 4.4): identity and CPU count always, the /proc
// process view when the grants reach a procfs mount, the sandbox's own pseudo-terminals
// when they reach a devpts mount, and new ones when they reach a multiplexer.

import type { ViewSpec } from "../../plan/view.js";
import type { HandlerTable, SupervisorContext } from "../handler.js";
import { Members } from "../members.js";
import { devPtsHandler } from "./dev-pts.js";
import { devPtmxHandler } from "./dev-ptmx.js";
import { identityHandlers } from "./identity.js";
import { listingHandler } from "./procfs-list.js";
import { SortedPositions } from "../sorted-dirents.js";
import { procfsOpenHandler } from "./procfs-open.js";

export function viewHandlers(view: ViewSpec, ctx: SupervisorContext): HandlerTable[] {
  const tables = [identityHandlers(view, ctx)];
  if (view.pts !== undefined) {
    const pts = devPtsHandler(view.pts, ctx);
    tables.push({ open: pts, openat: pts, openat2: pts, creat: pts });
  }
  if (view.ptmx !== undefined) {
    const ptmx = devPtmxHandler(view.ptmx, view.traced === true, ctx);
    tables.push({ open: ptmx, openat: ptmx, openat2: ptmx, creat: ptmx });
  }
  const procfs = view.procfs;
  const members = new Members(ctx.launcherPid);
  // Listings: filtered under the /proc view, sorted under deterministicDirs.
  if (procfs !== undefined || view.sortedDirs === true) {
    const spec = { mounts: procfs?.mounts ?? [], interfaces: view.interfaces, ...(view.sortedDirs === true ? { sorted: new SortedPositions() } : {}) };
    tables.unshift({ getdents64: listingHandler(spec, ctx, members, false), getdents: listingHandler(spec, ctx, members, true) });
  }
  if (procfs !== undefined) {
    const open = procfsOpenHandler({ ...procfs, interfaces: view.interfaces, launcherPid: ctx.launcherPid }, ctx, members);
    // Before identity's table: a process file is never a virtual one, and the hidden
    // files are refused whatever else would answer.
    tables.unshift({
      open, openat: open, openat2: open, creat: open,
    });
  }
  return tables;
}
