// The ninth review, part B: what a hostile command makes sandlock's own tools say and write.
// Runs `sandlock learn` and `sandlock run` through the CLI, as whoever runs this, on
// commands that choose hostile names, links and output, and prints one JSON line of what
// came out. Usage: red9b-case.js STAGE CASE

import { execFile } from "node:child_process";
import { chmodSync, existsSync, linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { Sandbox } from "../../src/index.js";

const [stage, which] = process.argv.slice(2) as [string, string];
const cli = join(stage, "bin", "sandlock.cjs");
const ENV = { PATH: "/usr/local/bin:/usr/bin:/bin", LANG: "C.UTF-8", ...(process.env.SANDLOCK_KERNEL_VIEW !== undefined ? { SANDLOCK_KERNEL_VIEW: process.env.SANDLOCK_KERNEL_VIEW } : {}) };

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(file: string, args: readonly string[], cwd: string): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd, env: ENV, timeout: 120_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === "number" ? err.code : null, stdout, stderr });
    });
  });
}

const sandlock = (cwd: string, args: readonly string[]): Promise<Ran> => run(process.execPath, [cli, ...args], cwd);
const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
const read = (p: string): string => (existsSync(p) ? readFileSync(p, "utf8") : "");

/** A directory the runner owns, that others may enter (the sandbox runs as the same user). */
function dir(prefix: string): string {
  const d = mkdtempSync(`/tmp/sandlock-red9b-${prefix}-`);
  chmodSync(d, 0o755);
  return d;
}

// Names with what a terminal obeys: OSC 0 (the window title), OSC 52 (the clipboard), CSI (a
// colour, clear screen), a C1 CSI (U+009B), a bidi override, and a line break that would
// start a line of sandlock's own.
const HOSTILE = "x\x1b]0;PWNED\x07\x1b]52;c;SGVsbG8=\x07\x1b[2J\u009b31m\u202egnp.exe\nsandlock learn: forged line";

const cases: Record<string, () => Promise<unknown>> = {
  // A link made in a -w directory, leading to a directory outside every writable path (and
  // to /): a write through it was refused while learning, but the proposed grant named the
  // link, which the next run's Landlock rule opens where it leads. Control: a real
  // subdirectory, named with DEL and a bidi override, is proposed, escaped in the TOML.
  "learn-link-write": async () => {
    const project = dir("project");
    // The planner follows a link only in directories no one but root can change (security.md,
    // "Grants and symbolic links"): as root, -w in such a directory (/var/lib here) is where a
    // link the sandbox makes is followed by the next run's rule. In /tmp it is refused, so
    // the user's replay fails to start instead.
    const out = process.getuid?.() === 0 ? mkdtempSync("/var/lib/sandlock-red9b-out-") : dir("out");
    chmodSync(out, 0o755);
    const victim = dir("victim");
    const job = [
      `ln -s ${q(victim)} ${q(`${out}/l`)}`, `ln -s / ${q(`${out}/r`)}`,
      `echo x > ${q(`${out}/l/pwn`)}`, `echo x > ${q(`${out}/r/red9b-pwn`)}`,
      `mkdir ${q(`${out}/d`)}`, `echo y > ${q(`${out}/d/ok`)}`, "true",
    ].join(" 2>/dev/null; ");
    const learned = await sandlock(project, ["learn", "-w", out, "-o", "learned.toml", "--", "sh", "-c", job]);
    const profile = read(join(project, "learned.toml"));
    // The next run of the profile writes through the link.
    const replay = await sandlock(project, ["run", "--profile-file", "learned.toml", "--", "sh", "-c", `echo pwned > ${q(`${out}/l/replayed`)}; echo ok > ${q(`${out}/d/again`)}`]);
    // Names with DEL (which TOML forbids raw) and U+202E, made by a script (so the command
    // line in the profile's comment holds neither): a -w directory and a directory in it.
    const odd = dir("odd");
    const named = join(odd, "w\x7f\u202e");
    mkdirSync(named);
    writeFileSync(join(project, "job.sh"), `mkdir ${q(`${named}/s\x7f\u202e`)}; echo y > ${q(`${named}/s\x7f\u202e/ok`)}\n`);
    const oddLearned = await sandlock(project, ["learn", "-w", named, "-o", "odd.toml", "--", "sh", "job.sh"]);
    const oddProfile = read(join(project, "odd.toml"));
    const oddReplay = await sandlock(project, ["run", "--profile-file", "odd.toml", "--", "sh", "-c", `echo ok > ${q(`${named}/s\x7f\u202e/again`)}`]);
    const o = {
      out, victim, learned, profile, replay, odd, oddLearned, oddProfile, oddReplay,
      victimWritten: existsSync(join(victim, "pwn")), replayedInVictim: existsSync(join(victim, "replayed")),
      rootWritten: existsSync("/red9b-pwn"), againInSub: existsSync(join(out, "d", "again")),
      oddAgain: existsSync(join(named, "s\x7f\u202e", "again")),
    };
    for (const d of [project, out, victim, odd]) rmSync(d, { recursive: true, force: true });
    return o;
  },

  // A learning run wrote the project's git hook and .envrc: code the user's next `git
  // commit` or `cd` runs outside any sandbox. Control: a plain file is written.
  "learn-protected": async () => {
    const project = dir("project");
    mkdirSync(join(project, ".git", "hooks"), { recursive: true });
    writeFileSync(join(project, ".git", "config"), "[core]\n\trepositoryformatversion = 0\n");
    const job = `printf '#!/bin/sh\\necho HOOK\\n' > .git/hooks/pre-commit; echo 'echo ENVRC' > .envrc; echo ok > plain.txt; true`;
    const learned = await sandlock(project, ["learn", "-o", "learned.toml", "--", "sh", "-c", job]);
    const o = {
      learned, profile: read(join(project, "learned.toml")),
      hook: existsSync(join(project, ".git", "hooks", "pre-commit")), envrc: existsSync(join(project, ".envrc")), plain: existsSync(join(project, "plain.txt")),
    };
    rmSync(project, { recursive: true, force: true });
    return o;
  },

  // The profile on stdout: the command's own stdout went there too, so a command that
  // printed TOML (its own extends, then a [program.env] header that swallows learn's
  // `extends` line) had it loaded by the next run. Then a stdout that is a file in the
  // project: the command writes it by name, padded past the profile learn writes over its
  // start. Control: the learned command itself runs from the clean profile.
  "learn-stdout": async () => {
    const project = dir("project");
    const toml = 'extends = "system"\n[program.env]\nINJECTED = "yes"\n';
    const mixed = await sandlock(project, ["learn", "--", "sh", "-c", `printf %s ${q(toml)}`]);
    const mixedFile = `${project}-mixed.toml`;
    writeFileSync(mixedFile, mixed.stdout);
    const mixedReplay = await sandlock(project, ["run", "--profile-file", mixedFile, "--", "sh", "-c", 'echo "I=$INJECTED"']);
    // Stdout a file of the project, which the learning run may write.
    const padded = `{ printf '%8000s\\n' ''; printf %s ${q(toml.replace('extends = "system"\n', ""))}; } > tool.toml; echo done >&2`;
    const inFile = await run("/bin/sh", ["-c", `${q(process.execPath)} ${q(cli)} learn -- sh -c ${q(padded)} > tool.toml`], project);
    const fileReplay = existsSync(join(project, "tool.toml"))
      ? await sandlock(project, ["run", "--profile-file", "tool.toml", "--", "sh", "-c", 'echo "I=$INJECTED"'])
      : undefined;
    // Control: a stdout file outside the learning run's writable paths is used as before.
    const outside = dir("outside");
    const clean = await run("/bin/sh", ["-c", `${q(process.execPath)} ${q(cli)} learn -- sh -c 'echo hello' > ${q(`${outside}/clean.toml`)}`], project);
    const cleanProfile = read(join(outside, "clean.toml"));
    const cleanReplay = await sandlock(project, ["run", "--profile-file", join(outside, "clean.toml")]);
    const o = { project, mixed, mixedReplay, inFile, fileText: read(join(project, "tool.toml")).slice(0, 600), fileReplay, clean, cleanProfile, cleanReplay };
    for (const d of [project, outside, mixedFile]) rmSync(d, { recursive: true, force: true });
    return o;
  },

  // A profile file beneath a writable grant of the policy it makes: the command rewrites
  // it, and the next run of the profile allows what it wrote (here a variable; `write =
  // ["/"]` as well). Warned, not prevented. Control: the same profile elsewhere, no warning.
  "profile-exposed": async () => {
    const project = dir("project");
    const outside = dir("outside");
    const text = `extends = "system"\n\n[filesystem]\nwrite = [${JSON.stringify(project)}]\n`;
    writeFileSync(join(project, "tool.toml"), text);
    writeFileSync(join(outside, "tool.toml"), text);
    const rewrite = await sandlock(project, ["run", "--profile-file", "tool.toml", "--", "sh", "-c", `printf '[program.env]\nINJECTED = "yes"\n' >> tool.toml`]);
    const next = await sandlock(project, ["run", "--profile-file", "tool.toml", "--", "sh", "-c", 'echo "I=$INJECTED"']);
    const control = await sandlock(project, ["run", "--profile-file", join(outside, "tool.toml"), "--", "sh", "-c", 'echo "I=$INJECTED"']);
    const o = { project, rewrite, next, control };
    for (const d of [project, outside]) rmSync(d, { recursive: true, force: true });
    return o;
  },

  // A flood of DNS questions: each name is recorded, printed in the report, and looked up
  // again by the host after the run. 3,000 names to a UDP port nobody reads.
  "learn-names": async () => {
    const project = dir("project");
    const py = [
      "import socket, struct",
      "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)",
      "for i in range(3000):",
      "    q = struct.pack('>HHHHHH', i, 0x0100, 1, 0, 0, 0) + b''.join(bytes([len(l)]) + l for l in [b'r%d' % i, b'red9b', b'invalid']) + b'\\0' + struct.pack('>HH', 1, 1)",
      "    s.sendto(q, ('127.0.0.1', 9))",
    ].join("\n");
    writeFileSync(join(project, "q.py"), py);
    const t0 = Date.now();
    const learned = await sandlock(project, ["learn", "-o", "learned.toml", "--", "/usr/bin/python3", "q.py"]);
    const o = { learned, ms: Date.now() - t0 };
    rmSync(project, { recursive: true, force: true });
    return o;
  },

  // deterministicDirs: the supervisor reads and sorts every directory listed from its start
  // and kept each sorted listing (64 directories) for the rest of the run, whatever its size.
  // 12 directories of 40,000 hard links with 200-byte names, listed once each: what the
  // supervising process (this one) still holds while the sandbox sleeps.
  "dirs-memory": async () => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const base = dir("dirs");
    const flag = dir("flag");
    const dirs: string[] = [];
    try {
      for (let d = 0; d < 7; d++) {
        // One file a directory: ext4 allows 65,000 links to a file.
        const file = join(base, `f${d}`);
        writeFileSync(file, "");
        const sub = join(base, `d${d}`);
        mkdirSync(sub);
        for (let i = 0; i < 40_000; i++) linkSync(file, join(sub, `${"x".repeat(200)}${i}`));
        dirs.push(sub);
      }
    } catch (e) {
      for (const d of [base, flag]) rmSync(d, { recursive: true, force: true });
      throw e;
    }
    const py = `import os, time\nfor d in ${JSON.stringify(dirs)}: os.listdir(d)\nopen(${JSON.stringify(join(flag, "listed"))}, "w").close()\ntime.sleep(30)\n`;
    gc();
    const before = process.memoryUsage().heapUsed;
    const sb = new Sandbox({ fsReadable: ["/usr", "/lib", "/lib64", "/etc", base], fsWritable: [flag], deterministicDirs: true });
    await sb.spawn(["/usr/bin/python3", "-c", py], { stdout: "ignore", stderr: "ignore" });
    const t0 = Date.now();
    while (!existsSync(join(flag, "listed")) && Date.now() - t0 < 120_000) await new Promise((r) => setTimeout(r, 100));
    const listed = existsSync(join(flag, "listed"));
    gc();
    const held = process.memoryUsage().heapUsed - before;
    await sb.kill();
    await sb.wait().catch(() => undefined);
    for (const d of [base, flag]) rmSync(d, { recursive: true, force: true });
    return { listed, heldMiB: Math.round(held / 1048576), ms: Date.now() - t0 };
  },

  // -o DIR/FILE with DIR in the project: the command made DIR a link (or swapped it for
  // one), and learn wrote the profile where the link led. Control: another -o DIR/FILE,
  // left alone, is written.
  "learn-output-link": async () => {
    const project = dir("project");
    const elsewhere = dir("elsewhere");
    const swapped = await sandlock(project, ["learn", "-o", "out/tool.toml", "--", "sh", "-c", `rmdir out 2>/dev/null; ln -s ${q(elsewhere)} out`]);
    const control = await sandlock(project, ["learn", "-o", "out2/tool.toml", "--", "true"]);
    const o = { project, elsewhere, swapped, control, landed: existsSync(join(elsewhere, "tool.toml")), written: existsSync(join(project, "out2", "tool.toml")) };
    for (const d of [project, elsewhere]) rmSync(d, { recursive: true, force: true });
    return o;
  },

  // A multi-line argument (sh -c "$(cat build.sh)") ended the profile's comment line, and
  // the rest of it was read as TOML: here a [network] rule and a [program.env] header that
  // swallows learn's own lines.
  "learn-comment": async () => {
    const project = dir("project");
    const script = 'exit 0\n[network]\nallow = ["tcp://*:1"]\n[program.env] #';
    const learned = await sandlock(project, ["learn", "-o", "learned.toml", "--", "sh", "-c", script]);
    const shown = await sandlock(project, ["profile", "show", "--profile-file", "learned.toml"]);
    const o = { learned, profile: read(join(project, "learned.toml")), shown };
    rmSync(project, { recursive: true, force: true });
    return o;
  },

  // Names the command chose, in sandlock's own report lines: a program it wrote and ran, a
  // link it named to a secret (learn's report); a /proc path it opened (a refusal line); a
  // file it made in a --workdir (the dry run's list); a #! interpreter it named (the exec
  // explanation).
  "terminal": async () => {
    const project = dir("project");
    const prog = join(project, HOSTILE);
    const job = `printf '#!/bin/sh\\ntrue\\n' > ${q(prog)}; chmod +x ${q(prog)}; ${q(prog)}; ln -s /etc/shadow ${q(`${project}/s${HOSTILE}`)}; cat ${q(`${project}/s${HOSTILE}`)} >/dev/null 2>&1; true`;
    const learned = await sandlock(project, ["learn", "-o", "learned.toml", "--", "sh", "-c", job]);
    const refused = await sandlock(project, ["run", "-p", "system", "--proc-view", "supervised", "--", "sh", "-c", `cat ${q(`/proc/1/${HOSTILE}`)} 2>/dev/null; exit 3`]);
    // Held: --json keeps the name whole and stays valid JSON.
    const json = await sandlock(project, ["run", "--json", "-p", "system", "--proc-view", "supervised", "--", "sh", "-c", `cat ${q(`/proc/1/${HOSTILE}`)} 2>/dev/null; exit 3`]);
    let jsonTarget: unknown;
    try {
      jsonTarget = (JSON.parse(json.stdout) as { refused: { target: string }[] }).refused[0]?.target;
    } catch (e) {
      jsonTarget = `not JSON: ${(e as Error).message}`;
    }
    const work = dir("work");
    const dry = await sandlock(project, ["run", "-p", "system", "--workdir", work, "--dry-run", "--", "sh", "-c", `echo > ${q(`${work}/${HOSTILE}`)}`]);
    writeFileSync(join(project, "s.sh"), `#!/nonexistent/${HOSTILE.replace("\n", "")}\ntrue\n`);
    chmodSync(join(project, "s.sh"), 0o755);
    const interpreter = await sandlock(project, ["run", "-p", "system", "-r", project, "--", join(project, "s.sh")]);
    const o = { learned, refused, jsonTarget, hostile: HOSTILE, dry, interpreter };
    for (const d of [project, work]) rmSync(d, { recursive: true, force: true });
    return o;
  },
};

async function main(): Promise<void> {
  const c = cases[which];
  if (c === undefined) throw new Error(`unknown case ${which}`);
  let out: unknown;
  try {
    out = await c();
  } catch (e) {
    out = { error: (e as Error).stack ?? String(e) };
  }
  console.log(JSON.stringify(out));
}

void main();
