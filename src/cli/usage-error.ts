// A mistake in how sandlock was invoked (bad flag, bad value, missing command): always
// exit 125, message on stderr, optionally followed by a pointer to the help text.

export const EXIT_USAGE = 125;

export class UsageError extends Error {
  /** Shown after the message, e.g. `see "sandlock run --help"`. */
  readonly hint: string | undefined;
  constructor(message: string, hint?: string) {
    super(message);
    this.name = "UsageError";
    this.hint = hint;
  }
}

/** `sandlock: --flag: <quoted value> why`: the shape of every value error. */
export function badValue(flag: string, value: string, why: string): UsageError {
  return new UsageError(`sandlock: ${flag}: ${JSON.stringify(value)} ${why}`);
}
