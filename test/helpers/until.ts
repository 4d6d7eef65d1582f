// A bounded wait for a condition, for tests that would otherwise sleep a fixed time and hope:
// on a loaded machine a fixed time passes before what it waited for happened.

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Resolves once ok() holds, checked every 10 ms; throws naming `what` past limitMs. */
export async function until(what: string, ok: () => boolean, limitMs = 20_000): Promise<void> {
  for (const end = Date.now() + limitMs; !ok(); await sleep(10)) if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
}
