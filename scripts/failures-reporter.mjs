// A `node --test` reporter that writes a line per failed test (todo ones left out): its
// file, its name and the start of its error. scripts/test.mjs runs it beside the TAP
// output and prints those lines again at the very end of `npm test`, where a log cut to its
// last lines (CI's) still shows what failed.
export default async function* failures(source) {
  for await (const event of source) {
    if (event.type !== "test:fail" || event.data.todo !== undefined || event.data.skip !== undefined) continue;
    const { file, name, details } = event.data;
    const error = details?.error;
    const cause = error?.cause instanceof Error ? error.cause : error;
    const message = String(cause?.message ?? error?.message ?? "").split("\n").filter((l) => l.trim() !== "").slice(0, 4).join(" | ");
    yield `${JSON.stringify({ file: file ?? "", name, message: message.slice(0, 400) })}\n`;
  }
}
