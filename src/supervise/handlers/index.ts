// The handler registry: which concern's handlers a sandbox gets, from its supervision
// features. Each concern lives in its own module.

import type { Supervision } from "../../plan/features.js";
import type { HandlerTable, SupervisorContext } from "../handler.js";
import { metaHandlers } from "./fs-meta.js";
import { memoryGuard } from "./memory.js";
import { socketBufferHandlers } from "./socket-buffers.js";
import { processHandlers } from "./processes.js";
import { reachHandlers } from "./reach.js";
import { signalHandlers } from "./signals.js";
import { threadHandlers } from "./threads.js";
import { netHandlers } from "./net.js";
import { viewHandlers } from "./view.js";
import { learnHandlers } from "./learn.js";
import { clockHandlers } from "./clock.js";
import { nameHandlers } from "./names.js";
import { epollHandlers, refuseEpollRight } from "./epoll.js";
import { sysvHandlers } from "./sysv.js";
import { pipeHandlers } from "./pipes.js";
import type { Observed } from "../../learn/observed.js";

/** `learned`: where a learning run's recorder notes what it sees (with s.learn). */
export function handlerTables(s: Supervision, ctx: SupervisorContext, learned?: Observed): HandlerTable[] {
  // First in every chain: a call aimed at another process is refused before any other
  // concern answers it (sched_getaffinity is also the view's).
  // The signal handlers answer only what the filter routes (kernels without the scope).
  const tables: HandlerTable[] = [reachHandlers(ctx, s.affinity), signalHandlers(ctx)];
  // Next, the recorder of a learning run: it notes and passes every call on.
  if (s.learn === true && learned !== undefined) tables.push(learnHandlers(learned, ctx));
  if (s.maxProcesses !== undefined) tables.push(processHandlers(s.maxProcesses, ctx));
  if (s.epoll !== undefined) tables.push(epollHandlers(s.epoll, ctx));
  // Before the names' (a FIFO's mknod is counted, then made by them where they make it).
  const pipes = s.pipes === undefined ? undefined : pipeHandlers(s.pipes, ctx, s.names !== undefined);
  if (pipes !== undefined) tables.push(pipes.handlers);
  // Before the network's: it answers every other ioctl the filter routes.
  if (s.meta !== undefined) tables.push(metaHandlers(s.meta, ctx));
  const guard = s.maxMemory === undefined ? undefined : memoryGuard(s.maxMemory, ctx, s.memoryWritable, s.sysvShm === true);
  // No epoll file may wait in a socket's queue, out of the epoll budget's count and the
  // memory cap's (handlers/epoll.ts); a pipe counts against the pipe budget (handlers/pipes.ts).
  const epollRight = refuseEpollRight(ctx);
  const memoryRight = guard?.refuseRight;
  const refuseRight = (dup: number): boolean => epollRight(dup) || memoryRight?.(dup) === true || pipes?.refuseRight(dup) === true;
  if (s.net !== undefined) tables.push(netHandlers(s.net, ctx, refuseRight, guard?.passed));
  if (guard !== undefined) {
    ctx.onClose(guard.close);
    tables.push(guard.handlers, socketBufferHandlers(ctx));
  }
  // After the memory cap's, which notes who makes a segment.
  if (s.sysv !== undefined) tables.push(sysvHandlers(ctx));
  // After the memory cap, which may refuse a thread it cannot charge: only a thread both
  // allow is counted.
  if (s.maxThreads !== undefined) tables.push(threadHandlers(s.maxThreads, ctx));
  if (s.view !== undefined) tables.push(...viewHandlers(s.view, ctx));
  if (s.clock === true) tables.push(clockHandlers(ctx));
  // Last: the view and /etc/hosts answer the opens of their own files first.
  if (s.names !== undefined) tables.push(nameHandlers(s.names, ctx));
  return tables;
}
