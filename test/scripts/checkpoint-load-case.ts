// Loads checkpoint directories whose files were replaced by what an attacker could leave
// there (issue 9): a FIFO, symlinks to /dev/zero, to a secret and to a good copy, a
// directory, a longer file. Prints one JSON line: per case the CheckpointError's code,
// path and message, "loaded", or "hung" when the load did not settle within the bound.
// Usage: checkpoint-load-case.js

import { execFileSync } from "node:child_process";
import { appendFileSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Checkpoint } from "../../src/checkpoint/checkpoint.js";
import { encodeCheckpoint } from "../../src/checkpoint/format.js";
import type { CheckpointData } from "../../src/checkpoint/image.js";
import { saveFiles } from "../../src/checkpoint/store.js";

/** Long enough for a load of a few pages on a loaded machine; a hang never ends. */
const BOUND_MS = 20_000;
const PAGES = "pages-100.bin";

function sample(): CheckpointData {
  return {
    createdAt: "2025-01-02T03:04:05.000Z",
    arch: "x64",
    kernel: "6.18.0",
    policy: { fsReadable: ["/usr"] },
    appState: Buffer.from("state"),
    processes: [
      {
        pid: 100, ppid: 99, pgid: 100, sid: 100, comm: "prog", cmdline: ["prog"], exe: "/usr/bin/prog", cwd: "/", root: "/", umask: 0o22, pageSize: 4096,
        auxv: Buffer.alloc(16), sigSharedPending: "0", sigIgnored: "0", sigCaught: "0",
        threads: [{ tid: 100, regsets: [{ note: 1, name: "prstatus", data: Buffer.alloc(216, 1) }], stop: "interrupt", pendingSignal: 0, sigBlocked: "0", sigPending: "0" }],
        maps: [],
        memory: [{ start: 0x5555_0000_0000n, data: Buffer.alloc(3 * 4096, 7) }],
        fds: [],
      },
    ],
  };
}

async function attempt(dir: string): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<string>((res) => (timer = setTimeout(() => res("hung"), BOUND_MS)));
  const load = Checkpoint.load(dir).then(
    (cp) => (cp.processes[0]?.memory[0]?.data.length === 3 * 4096 ? "loaded" : "loaded wrong"),
    (e: { name: string; code?: string; path?: string; message: string }) => ({ name: e.name, code: e.code, path: e.path, message: e.message }),
  );
  try {
    return await Promise.race([load, bound]);
  } finally {
    clearTimeout(timer);
  }
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), "sl-cp-load-"));
  try {
    const original = join(work, "original");
    await saveFiles(original, encodeCheckpoint(sample()));
    const secret = join(work, "secret");
    writeFileSync(secret, "a secret the loader must never read\n");
    const goodPages = join(work, "good-pages");
    copyFileSync(join(original, PAGES), goodPages);
    const copy = (name: string, damage: (dir: string) => void): string => {
      const dir = join(work, name);
      execFileSync("cp", ["-a", original, dir]);
      damage(dir);
      return dir;
    };
    const replace = (dir: string, file: string, by: (path: string) => void): void => {
      rmSync(join(dir, file));
      by(join(dir, file));
    };
    const cases: Record<string, string> = {
      intact: copy("intact", () => undefined),
      fifo: copy("fifo", (d) => replace(d, PAGES, (p) => execFileSync("mkfifo", [p]))),
      devZero: copy("dev-zero", (d) => replace(d, PAGES, (p) => symlinkSync("/dev/zero", p))),
      secret: copy("secret-link", (d) => replace(d, "checkpoint.json", (p) => symlinkSync(secret, p))),
      goodLink: copy("good-link", (d) => replace(d, PAGES, (p) => symlinkSync(goodPages, p))),
      directory: copy("directory", (d) => replace(d, PAGES, (p) => mkdirSync(p))),
      longer: copy("longer", (d) => appendFileSync(join(d, PAGES), Buffer.alloc(4096))),
    };
    // The directory itself through a symlink is the caller's own choice of path: it loads.
    const dirLink = join(work, "dir-link");
    symlinkSync(cases.intact!, dirLink);
    const out: Record<string, unknown> = {};
    for (const [name, dir] of Object.entries(cases)) out[name] = await attempt(dir);
    out.dirLink = await attempt(dirLink);
    process.stdout.write(JSON.stringify(out) + "\n");
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

void main();
