// Whether this process's `sandlock run` has started a sandbox. bin/sandlock.cjs writes the
// V8 code cache only then: a cache is accepted by every later run and not written again, so
// it must hold what a run compiles. One written by `sandlock run --help`, or by a run whose
// command could not be started, held less than half of that (263 against 608 KB here) and
// cost every later run about 5 ms of compiling what was missing.

let started = false;

/** Called once the sandbox's command has started (run-exec.ts). */
export function markSandboxStarted(): void {
  started = true;
}

/** Whether a sandbox was started: what the bin asks before it writes the code cache. */
export function sandboxStarted(): boolean {
  return started;
}
