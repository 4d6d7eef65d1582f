// A `node --test` reporter that writes a line per failed test (todo ones left out): its
// file, its name and the start of its error (of an assertion's diff, the differing lines).
// scripts/test.mjs runs it beside the TAP output and prints those lines again at the very
// end of `npm test`, where a log cut to its last lines (CI's) still shows what failed.
export default async function* failures(source) {
  for await (const event of source) {
    if (event.type !== "test:fail" || event.data.todo !== undefined || event.data.skip !== undefined) continue;
    const { file, name, details } = event.data;
    const error = details?.error;
    const cause = error?.cause instanceof Error ? error.cause : error;
    const lines = String(cause?.message ?? error?.message ?? "").split("\n").filter((l) => l.trim() !== "");
    // An assertion's diff: its first line and the lines that differ (+ actual, - expected),
    // not the object's opening lines, which a cut at four lines kept instead of the values.
    const differing = lines.slice(1).filter((l) => /^[+-] /.test(l) && !l.startsWith("+ actual - expected"));
    const message = (differing.length > 0 ? [lines[0], ...differing] : lines.slice(0, 4)).join(" | ");
    yield `${JSON.stringify({ file: testFile(file ?? "", cause?.stack), name, message: message.slice(0, 1000) })}\n`;
  }
}

/** The file to name for a failure: where test() was called, unless that is a helper (a
 * scriptCase or securityCase registers its tests in test/helpers/harness.js, which every
 * such failure named): then the first test file in the error's stack, with its line (the
 * case's check, written in its own test file), when there is one. */
function testFile(file, stack) {
  if (file.endsWith(".test.js")) return file;
  const m = /(?:file:\/\/)?(\/[^\s():]+\.test\.js):(\d+)/.exec(String(stack ?? ""));
  return m === null ? file : `${m[1]}:${m[2]}`;
}
