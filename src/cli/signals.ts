// While a sandbox runs, SIGINT, SIGTERM and SIGHUP sent to sandlock kill the sandbox
// (through an AbortSignal) and sandlock then exits 128+N, instead of dying and orphaning it.

import { constants } from "node:os";

const HANDLED = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
type Handled = (typeof HANDLED)[number];

export class SignalGuard {
  private readonly controller = new AbortController();
  private receivedNumber: number | undefined;
  private readonly handlers = new Map<Handled, () => void>();

  /**
   * `foregroundTty`: the command shares the terminal's foreground process group, so a
   * Ctrl-C reaches it directly and it decides (a shell or a REPL survives it); sandlock
   * then ignores SIGINT rather than killing what the user is typing into.
   */
  constructor(foregroundTty: boolean) {
    for (const name of HANDLED) {
      const handler =
        name === "SIGINT" && foregroundTty
          ? (): void => undefined
          : (): void => {
              this.receivedNumber ??= constants.signals[name];
              this.controller.abort();
            };
      this.handlers.set(name, handler);
      process.on(name, handler);
    }
  }

  /** Aborted once one of the signals arrived. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** The number of the first signal that arrived, if any. */
  get received(): number | undefined {
    return this.receivedNumber;
  }

  dispose(): void {
    for (const [name, handler] of this.handlers) process.off(name, handler);
    this.handlers.clear();
  }
}
