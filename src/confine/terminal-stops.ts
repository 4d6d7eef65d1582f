// A process of ours that shares its terminal with a sandbox (the CLI's run and learn)
// must not be stopped by it. The command may make a process group of its own the
// terminal's foreground group and set TOSTOP, ordinary job control; the next write of ours
// to the terminal (a warning, a report) then stopped the whole process with SIGTTOU under
// a job-control shell, its supervision and timers with it, until the user typed fg. With
// SIGTTOU ignored the kernel lets the write through. The launcher is spawned with every
// signal at its default, so the command starts with SIGTTOU as usual.

import { native } from "./native.js";

/** Ignores SIGTTOU for the rest of this process when one of fds 0-2 is a terminal. */
export function ignoreTerminalStops(): void {
  const n = native();
  if (n.isatty(0) || n.isatty(1) || n.isatty(2)) n.ignoreSigttou();
}
