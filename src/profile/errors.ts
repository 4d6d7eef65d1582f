// A mistake in a profile: a PolicyError (you asked wrongly) that also names the file, the
// line and the [section] key, e.g. "profile dev.toml:7: [limits] cpu: 200 is outside 1..100".

import { PolicyError } from "../errors.js";

export class ProfileError extends PolicyError {
  readonly file: string;
  readonly line: number | undefined;
  /** "[limits] cpu", "extends", or undefined for the file as a whole. */
  readonly key: string | undefined;
  constructor(file: string, line: number | undefined, key: string | undefined, what: string, value?: unknown) {
    const where = line === undefined ? file : `${file}:${line}`;
    super(key ?? "profile", value, `profile ${where}: ${key === undefined ? "" : `${key}: `}${what}`);
    this.file = file;
    this.line = line;
    this.key = key;
  }
}
