// A `node --test` reporter that writes each test file's wall time, one JSON line per file:
// the runner reports a file as a test of its own, named by its path, when it ends.
// scripts/test.mjs prints each part's longest files from these lines, so a CI log says where
// the suite's time went.
export default async function* durations(source) {
  for await (const event of source) {
    if (event.type !== "test:complete" || event.data.nesting !== 0 || event.data.name !== event.data.file) continue;
    yield `${JSON.stringify({ file: event.data.file, ms: Math.round(event.data.details?.duration_ms ?? 0) })}\n`;
  }
}
