// Docs that run: every fenced block of README.md and docs/*.md is run as written (sh and
// console blocks through /bin/sh, ts/js through Node against this package, toml profiles
// through `sandlock profile show`), as root and as the test user, unless marked
// `<!-- not run: REASON -->`. TypeScript blocks are also type-checked against the package.

import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, chmodSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { consoleSteps, docBlocks, RUNNABLE, type DocBlock } from "../helpers/doc-blocks.js";
import { runScript, type Who } from "../helpers/harness.js";
import { isRoot } from "../helpers/stage.js";
import type { BlockResult, RunDoc } from "../scripts/docs-run-case.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const DOCS = ["README.md", ...readdirSync(join(ROOT, "docs")).filter((f) => f.endsWith(".md")).sort().map((f) => `docs/${f}`)];
const blocks: DocBlock[] = DOCS.flatMap((doc) => docBlocks(doc, readFileSync(join(ROOT, doc), "utf8")));
const runnable = (b: DocBlock): boolean => b.file !== undefined || (RUNNABLE as readonly string[]).includes(b.lang);
// Unmarked blocks of no runnable language fail the first test instead.
const toRun = blocks.filter((b) => b.notRun === undefined && runnable(b));
const isTs = (b: DocBlock): boolean => b.lang === "ts" && b.file === undefined;

test("every block of the docs runs, or is marked not run with a reason", (t) => {
  const bad: string[] = [];
  for (const b of blocks) {
    if (b.notRun !== undefined) {
      if (b.notRun.length < 10) bad.push(`${b.id}: "not run" needs a reason (got "${b.notRun}")`);
      t.diagnostic(`not run: ${b.id} (${b.lang || "no language"}): ${b.notRun}`);
    } else if (!runnable(b)) {
      bad.push(`${b.id}: a \`\`\`${b.lang} block cannot be run: mark it <!-- not run: REASON --> or <!-- file: NAME -->`);
    }
    if (b.lang === "console") consoleSteps(b.body); // throws on output before the first command
  }
  assert.deepEqual(bad, []);
  // Honest and few: commands that are not run are the exception (output samples aside).
  const commandsNotRun = blocks.filter((x) => x.notRun !== undefined && runnable(x));
  assert.ok(commandsNotRun.length <= 3, `${commandsNotRun.length} command blocks are not run: ${commandsNotRun.map((x) => x.id).join(", ")}`);
});

test("the TypeScript blocks type-check against the package's types", () => {
  const dir = mkdtempSync("/tmp/sandlock-docs-tsc-");
  try {
    const files = toRun.filter(isTs).map((b) => {
      const f = join(dir, `${b.id.replace(/[^A-Za-z0-9]/g, "_")}.mts`);
      writeFileSync(f, b.body);
      return { f, b };
    });
    const program = ts.createProgram(files.map((x) => x.f), {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      lib: ["lib.es2023.d.ts", "lib.esnext.disposable.d.ts"],
      types: ["node"],
      typeRoots: [join(ROOT, "node_modules", "@types")],
      paths: { sandlock: [join(ROOT, "dist", "src", "index.d.ts")] },
      strict: true,
      noEmit: true,
      skipLibCheck: true,
    });
    const errors = ts.getPreEmitDiagnostics(program).map((d) => {
      const at = d.file ? files.find((x) => x.f === d.file!.fileName) : undefined;
      const line = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line : 0;
      // The line of the error in the markdown: the block's body starts one line after its fence.
      const where = at ? `${at.b.doc}:${at.b.line + 1 + line}` : (d.file?.fileName ?? "");
      return `${where}: ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`;
    });
    assert.deepEqual(errors, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** What the runner needs: blocks by document, TypeScript transpiled to JavaScript. */
function spec(): RunDoc[] {
  return DOCS.map((doc) => ({
    doc,
    blocks: toRun
      .filter((b) => b.doc === doc)
      .map((b) => ({
        id: b.id,
        lang: b.lang,
        body: b.body,
        ...(b.file !== undefined ? { file: b.file } : {}),
        ...(b.setup !== undefined ? { setup: b.setup } : {}),
        ...(isTs(b)
          ? { js: ts.transpileModule(b.body, { compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext } }).outputText }
          : b.lang === "js" || b.lang === "mjs"
            ? { js: b.body }
            : {}),
      })),
  })).filter((d) => d.blocks.length > 0);
}

let specFile: string | undefined;
function specPath(): string {
  if (specFile) return specFile;
  const dir = mkdtempSync("/tmp/sandlock-docs-spec-");
  chmodSync(dir, 0o755);
  specFile = join(dir, "spec.json");
  writeFileSync(specFile, JSON.stringify(spec()), { mode: 0o644 });
  process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  return specFile;
}

const runs = new Map<Who, Promise<BlockResult[]>>();
function results(who: Who): Promise<BlockResult[]> {
  let r = runs.get(who);
  if (!r) {
    r = runScript("dist/test/scripts/docs-run-case.js", [specPath()], who, 400_000) as Promise<BlockResult[]>;
    runs.set(who, r);
  }
  return r;
}

/** Lines with trailing blanks removed and without trailing empty lines. */
const norm = (s: string): string => s.split("\n").map((l) => l.trimEnd()).join("\n").replace(/\n+$/, "");

for (const who of ["root", "user"] as const) {
  for (const b of toRun) {
    const skip = who === "root" && !isRoot ? "tests are not running as root" : false;
    test(`${b.id} (${b.file !== undefined ? `file ${b.file}` : b.lang}) runs as written [${who}]`, { skip }, async (t) => {
      const r = (await results(who)).find((x) => x.id === b.id);
      assert.ok(r, `no result for ${b.id}`);
      if (r.ms !== undefined) t.diagnostic(`${r.ms} ms`);
      if (r.interruptedFork !== undefined) t.diagnostic(`a fork was interrupted (docs/supervision.md), the block ran again; the first run's output: ${r.interruptedFork}`);
      const what = `${b.id} [${who}]:\n${b.body}\n--- output:\n${r.output}`;
      assert.equal(r.signal, null, what);
      assert.equal(r.exitCode, 0, what);
      // A `console.log(...); // VALUE` line of a ts/js block shows what it prints.
      const shown = [...b.body.matchAll(/^\s*console\.log\(.*\);\s*\/\/\s*(.+?)\s*$/gm)].map((m) => m[1]!);
      const printed = r.output.split("\n").map((l) => l.trim());
      for (const v of shown) assert.ok(printed.includes(v), `${what}\n--- expected a line: ${v}`);
      for (const s of r.steps ?? []) {
        assert.equal(norm(s.output), norm(s.expected), `${b.id} [${who}]: $ ${s.command} (exit ${s.exitCode})`);
      }
    });
  }
}
