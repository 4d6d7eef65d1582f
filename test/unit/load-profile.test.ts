// loadProfile, the library's -p: presets resolved for a directory, files, composition in
// order, and the errors of bad names and files.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { loadProfile, PolicyError } from "../../src/index.js";

test("loadProfile: a preset resolved for cwd, a profile file extending it, composed in order", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sandlock-load-"));
  try {
    const ws = await loadProfile("workspace", { cwd: dir });
    assert.ok(ws.input.fsWritable?.includes(dir), "workspace writes its cwd");
    assert.deepEqual(ws.layers, ["preset workspace"]);
    const file = join(dir, "p.toml");
    writeFileSync(file, 'extends = "system"\n[filesystem]\nwrite = ["/tmp"]\n');
    const both = await loadProfile([{ file }, "workspace-net"], { cwd: dir, env: { HOME: "/nonexistent-home" } });
    assert.deepEqual(both.layers, ["preset system", file, "preset workspace-net"]);
    assert.ok(both.input.fsWritable?.includes("/tmp"));
    assert.ok((both.input.netAllow ?? []).length > 0, "workspace-net adds its rules");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("loadProfile: an unknown name, a bad name and a missing file are PolicyErrors naming them", async () => {
  const env = { HOME: "/nonexistent" };
  await assert.rejects(loadProfile("worksapce", { env }), (e: unknown) => e instanceof PolicyError && /"worksapce" is neither a preset .* did you mean "workspace"\?/.test((e as Error).message));
  await assert.rejects(loadProfile("../x", { env }), (e: unknown) => e instanceof PolicyError && /"\.\.\/x" is not a profile name/.test((e as Error).message));
  await assert.rejects(loadProfile({ file: "/nonexistent/p.toml" }, { env }), (e: unknown) => e instanceof PolicyError && /\/nonexistent\/p\.toml/.test((e as Error).message));
});
