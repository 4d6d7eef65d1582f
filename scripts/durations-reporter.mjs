// A `node --test` reporter that writes each test file's wall time, one JSON line per file:
// the runner reports a file as a test of its own, named by its path, when it ends. With it,
// how long the file's process went on after its last test ended (`lingerMs`: a timer or a
// handle left open keeps it alive, idle, holding one of the part's slots: redteam9a.test
// kept a 40 s timer of a race it had decided, 34 s a run, 2026-12-08).
// scripts/test.mjs prints each part's longest files and its lingering ones from these lines,
// so a CI log says where the suite's time went.
export default async function* durations(source) {
  const lastTestEnd = new Map(); // file -> when its last top-level test ended
  for await (const event of source) {
    if (event.type !== "test:complete" || event.data.nesting !== 0 || event.data.file === undefined) continue;
    if (event.data.name !== event.data.file) {
      lastTestEnd.set(event.data.file, Date.now());
      continue;
    }
    const last = lastTestEnd.get(event.data.file);
    lastTestEnd.delete(event.data.file);
    yield `${JSON.stringify({ file: event.data.file, ms: Math.round(event.data.details?.duration_ms ?? 0), lingerMs: last === undefined ? null : Date.now() - last })}\n`;
  }
}
