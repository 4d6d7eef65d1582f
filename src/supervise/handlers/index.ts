// The handler registry: which concern's handlers a sandbox gets, from its supervision
// features. Each concern lives in its own module.

import type { Supervision } from "../../plan/features.js";
import type { HandlerTable, SupervisorContext } from "../handler.js";
import { memoryGuard } from "./memory.js";
import { processHandlers } from "./processes.js";
import { netHandlers } from "./net.js";
import { viewHandlers } from "./view.js";

export function handlerTables(s: Supervision, ctx: SupervisorContext): HandlerTable[] {
  const tables: HandlerTable[] = [];
  if (s.maxProcesses !== undefined) tables.push(processHandlers(s.maxProcesses, ctx));
  if (s.net !== undefined) tables.push(netHandlers(s.net, ctx, s.maxMemory !== undefined));
  if (s.maxMemory !== undefined) {
    const guard = memoryGuard(s.maxMemory, ctx, s.memoryWritable);
    ctx.onClose(guard.close);
    tables.push(guard.handlers);
  }
  if (s.view !== undefined) tables.push(...viewHandlers(s.view, ctx));
  return tables;
}
