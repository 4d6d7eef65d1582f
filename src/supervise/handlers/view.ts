// The view concern's handler tables (SPEC 4.4): identity and CPU count always, the /proc
// process view when the grants reach a procfs mount, the sandbox's own pseudo-terminals
// when they reach a devpts mount.

import type { ViewSpec } from "../../plan/view.js";
import type { HandlerTable, SupervisorContext } from "../handler.js";
import { Members } from "../members.js";
import { devPtsHandler } from "./dev-pts.js";
import { identityHandlers } from "./identity.js";
import { procfsListHandler } from "./procfs-list.js";
import { procfsOpenHandler } from "./procfs-open.js";

export function viewHandlers(view: ViewSpec, ctx: SupervisorContext): HandlerTable[] {
  const tables = [identityHandlers(view, ctx)];
  if (view.pts !== undefined) {
    const pts = devPtsHandler(view.pts, ctx);
    tables.push({ open: pts, openat: pts, openat2: pts, creat: pts });
  }
  const procfs = view.procfs;
  if (procfs !== undefined) {
    const members = new Members(ctx.launcherPid);
    const open = procfsOpenHandler({ ...procfs, interfaces: view.interfaces, launcherPid: ctx.launcherPid }, ctx, members);
    // Before identity's table: a process file is never a virtual one, and the hidden
    // files are refused whatever else would answer.
    tables.unshift({
      open, openat: open, openat2: open, creat: open,
      getdents64: procfsListHandler(procfs.mounts, view.interfaces, ctx, members, false),
      getdents: procfsListHandler(procfs.mounts, view.interfaces, ctx, members, true),
    });
  }
  return tables;
}
