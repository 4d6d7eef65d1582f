// The host facts a plan rests on (real paths, stats, directory listings), noted while it is
// computed, so that a cached plan (plan/cache.ts) is reused only when every one of them
// still reads the same: a swapped symlink or a removed grant means planning afresh.

/** One read of the host and what it gave (a value as JSON, or an error's code). */
export interface HostRead {
  readonly read: () => unknown;
  readonly result: string;
}

let recording: { reads: HostRead[]; seen: Set<string> } | undefined;

function outcome(read: () => unknown): string {
  try {
    return `ok:${JSON.stringify(read()) ?? "undefined"}`;
  } catch (e) {
    return `error:${(e as NodeJS.ErrnoException).code ?? String(e)}`;
  }
}

/**
 * read(), noted with its outcome while a plan is recorded. `key` names reads that always
 * give the same answer for the same argument (a realpath), so each is noted once; without
 * one (a listing filtered by a predicate) every call is noted.
 */
export function observe<T>(key: string | undefined, read: () => T): T {
  const r = recording;
  if (r === undefined || (key !== undefined && r.seen.has(key))) return read();
  if (key !== undefined) r.seen.add(key);
  let value: T;
  try {
    value = read();
  } catch (e) {
    r.reads.push({ read, result: `error:${(e as NodeJS.ErrnoException).code ?? String(e)}` });
    throw e;
  }
  r.reads.push({ read, result: `ok:${JSON.stringify(value) ?? "undefined"}` });
  return value;
}

/** fn() with every host read it made through observe(). */
export function recordReads<T>(fn: () => T): { value: T; reads: HostRead[] } {
  const outer = recording;
  const mine = { reads: [] as HostRead[], seen: new Set<string>() };
  recording = mine;
  try {
    return { value: fn(), reads: mine.reads };
  } finally {
    recording = outer;
  }
}

/** Whether every read gives what it gave when it was noted (each is made again). */
export function unchanged(reads: readonly HostRead[]): boolean {
  for (const r of reads) if (outcome(r.read) !== r.result) return false;
  return true;
}
