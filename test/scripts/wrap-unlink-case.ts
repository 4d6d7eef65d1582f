// The wrap's socket directory (under the temporary directory) against a sandbox granted the
// temporary directory: once wrap() listens, the sandbox moves the directory aside and puts a
// link to a directory of the user's, which holds a file named "s", in its place; then the
// caller closes the wrap. libuv unlinks a unix socket's path when its server closes: by the
// path the wrap bound, that removed the user's "s". Control: a server bound by path in a
// directory swapped the same way. Prints one JSON line. Usage: wrap-unlink-case.js
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { Sandbox, wrap } from "../../src/index.js";

const SYSTEM = ["/usr", "/lib", "/lib64", "/bin"].filter((p) => existsSync(p));
const base = mkdtempSync("/tmp/sandlock-wunlink-");
const tmp = join(base, "tmp"), victim = join(base, "victim");
mkdirSync(tmp);
mkdirSync(victim);
writeFileSync(join(victim, "s"), "the user's file");
process.env.TMPDIR = tmp; // where wrap() makes its directory (os.tmpdir())

/** The sandbox granted `tmp` moves `dir` aside and links `victim` in its place. */
async function swap(dir: string): Promise<string> {
  const r = await Sandbox.run({ fsReadable: SYSTEM, fsWritable: [tmp] }, ["/bin/sh", "-c", `mv "${dir}" "${dir}.aside" && ln -s "${victim}" "${dir}" && echo swapped`]);
  return r.stdoutText.trim() || r.stderrText.trim();
}

let out: object;
try {
  // Control: a server bound by path, closed after the swap.
  const cdir = join(tmp, "control");
  mkdirSync(cdir);
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(join(cdir, "s"), resolve));
  const controlSwap = await swap(cdir);
  await new Promise((resolve) => server.close(resolve));
  const controlKept = existsSync(join(victim, "s"));
  writeFileSync(join(victim, "s"), "the user's file");

  const w = await wrap({ fsReadable: SYSTEM }, ["/bin/true"]);
  const dirs = readdirSync(tmp).filter((n) => n.startsWith("sandlock-wrap-"));
  const dir = join(tmp, dirs[0]!);
  const socketBefore = existsSync(join(dir, "s"));
  const swapped = await swap(dir);
  w.close();
  await w.result.catch(() => undefined);
  await new Promise((resolve) => setTimeout(resolve, 200));
  out = { controlSwap, controlKept, dirs: dirs.length, socketBefore, swapped, kept: existsSync(join(victim, "s")), asideSocket: existsSync(join(`${dir}.aside`, "s")) };
} catch (e) {
  out = { error: String((e as Error).stack ?? e) };
}
rmSync(base, { recursive: true, force: true });
console.log(JSON.stringify(out));
