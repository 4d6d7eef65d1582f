// While a sandbox runs, SIGINT, SIGTERM and SIGHUP sent to sandlock stop the sandbox
// gracefully instead of killing sandlock and orphaning it: the signal is forwarded to
// every process of the sandbox, whatever is left after --kill-after is SIGKILLed, and a
// second signal kills at once. Before the command has started, a signal kills outright.
// No AbortSignal: the run's start-up would pay for loading AbortController and arming an
// event listener (about 1.5 ms); a signal during the start is acted on once it returns.

import { constants } from "node:os";

const HANDLED = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
type Handled = (typeof HANDLED)[number];

/** What the guard asks of the running sandbox: forward `signal`, or kill now (`force`). */
export type Stopper = (signal: Handled, force: boolean) => void;

export class SignalGuard {
  private receivedNumber: number | undefined;
  private receivedName: Handled | undefined;
  private count = 0;
  private stopper: Stopper | undefined;
  private beforeStart = false;
  private readonly handlers = new Map<Handled, () => void>();

  /**
   * `foregroundTty`: the command shares the terminal's foreground process group, so a
   * Ctrl-C reaches it directly and it decides (a shell or a REPL survives it); sandlock
   * then ignores SIGINT rather than stopping what the user is typing into.
   */
  constructor(foregroundTty: boolean) {
    for (const name of HANDLED) {
      const handler = name === "SIGINT" && foregroundTty ? (): void => undefined : (): void => this.onSignal(name);
      this.handlers.set(name, handler);
      process.on(name, handler);
    }
  }

  private onSignal(name: Handled): void {
    this.count++;
    this.receivedNumber ??= constants.signals[name];
    this.receivedName ??= name;
    this.stopper?.(name, this.count > 1); // before attach(): attach() acts on it
  }

  /** From now on a signal stops the sandbox through `stop`. One that arrived while the
   * command was being started kills it now: it had nothing to stop gracefully yet. */
  attach(stop: Stopper): void {
    this.stopper = stop;
    if (this.receivedName === undefined) return;
    this.beforeStart = true;
    stop(this.receivedName, true);
  }

  /** Whether a signal arrived before attach() and the command was killed on start. */
  get killedOnStart(): boolean {
    return this.beforeStart;
  }

  /** The number of the first signal that arrived, if any. */
  get received(): number | undefined {
    return this.receivedNumber;
  }

  get receivedSignal(): Handled | undefined {
    return this.receivedName;
  }

  /** Whether a second signal, or one before the start, asked for the kill at once. */
  get forced(): boolean {
    return this.count > 1 || this.beforeStart;
  }

  dispose(): void {
    for (const [name, handler] of this.handlers) process.off(name, handler);
    this.handlers.clear();
  }
}
