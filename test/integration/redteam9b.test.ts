// The ninth security review, part B (docs/security.md, "The ninth review, part B"): what a
// hostile command makes sandlock's own tools say and write: the profile `sandlock learn`
// proposes and writes, what the learning run leaves behind, the names that reach the
// user's terminal in sandlock's report lines, and what deterministicDirs keeps of them. As root and as the test user; each case has a
// control that shows a win would be seen.

import assert from "node:assert/strict";
import { scriptCase } from "../helpers/harness.js";

const SCRIPT = "dist/test/scripts/red9b-case.js";

/** A terminal would obey any of these: ESC, BEL, the C1 CSI, a bidi override. */
const RAW = /[\x1b\x07\u0080-\u009f\u202e]/;

// A link made in a -w directory (to a directory outside every writable path, and to /): a
// write through it was refused while learning, but learn proposed the link as a write grant.
// As root with -w in a directory only root can change (the planner follows links there),
// the next run's Landlock rule, opened where the link leads, let the profile write the other
// directory (and /); elsewhere the planner refused the link and the profile did not start.
// Writes are now judged where they really are, as reads were. Control: the next run writes
// the -w directory; and one named with DEL and U+202E is written as TOML escapes.
scriptCase("learn: a link in a -w directory does not make the profile grant writes where it leads", SCRIPT, ["${STAGE}", "learn-link-write"], (o) => {
  assert.equal(o.error, undefined, o.error);
  assert.equal(o.learned.code, 0, o.learned.stderr);
  assert.equal(o.victimWritten, false, "the learning run itself could not write through the link");
  assert.equal(o.replayedInVictim, false, `the next run could not write through the link: ${JSON.stringify(o.replay)}\n${o.profile}`);
  assert.equal(o.rootWritten, false);
  const grants = o.profile.slice(o.profile.indexOf("[filesystem]"));
  assert.ok(!grants.includes(`${o.out}/l"`) && !grants.includes(`${o.out}/r"`) && !grants.includes(o.victim), o.profile);
  assert.match(grants, new RegExp(`^write = \\["${o.out}"\\]$`, "m"), "the links were made in the -w directory: it is the grant");
  // Reported where the writes landed: beneath / (the victim's write is beneath it too).
  assert.ok(o.learned.stderr.includes("refused while learning, writes beneath: / (learn again with -w PATH"), o.learned.stderr);
  assert.match(o.replay.stderr, /cannot create .*\/l\/replayed/, `the next run starts; only its write through the link fails: ${JSON.stringify(o.replay)}`);
  assert.equal(o.againInSub, true, `control: the next run writes the -w directory: ${JSON.stringify(o.replay)}`);
  // DEL and U+202E in the names of a -w directory and of a directory in it: TOML escapes,
  // so the profile loads (raw, DEL made it invalid) and a reviewer sees the names as they are.
  assert.equal(o.oddLearned.code, 0, o.oddLearned.stderr);
  assert.ok(o.oddProfile.includes(`"${o.odd}/w\\u007f\\u202e/s\\u007f\\u202e"`), o.oddProfile);
  assert.doesNotMatch(o.oddProfile, /[\x7f\u202e]/);
  assert.equal(o.oddReplay.code, 0, o.oddReplay.stderr);
  assert.equal(o.oddAgain, true, "control: the next run writes there");
}, 240_000);

// The learning run had no protectedFiles: the command wrote .git/hooks/pre-commit and .envrc
// in the project, which the user's next `git commit` or `cd` ran outside any sandbox. Now
// it is on while learning (as in -p workspace), and the profile keeps it where it grants
// writes. Control: a plain file of the project is written.
scriptCase("learn: the learning run cannot plant a git hook or .envrc in the project, and the profile keeps that protection", SCRIPT, ["${STAGE}", "learn-protected"], (o) => {
  assert.equal(o.error, undefined, o.error);
  assert.equal(o.learned.code, 0, o.learned.stderr);
  assert.equal(o.hook, false, "no pre-commit hook left");
  assert.equal(o.envrc, false, "no .envrc left");
  assert.equal(o.plain, true, "control: the project's plain file is written");
  assert.match(o.profile, /^protected_files = true$/m);
}, 240_000);

// The profile on stdout with the command's own stdout: a command that printed TOML (its
// extends, then a [program.env] header that swallows learn's `extends` line) had its
// variable set in the next run. And a stdout that is a file the learning run may write: the
// command wrote it by name, padded, and learn's profile overwrote only its start. Now the
// command's stdout goes to stderr when the profile goes to stdout, and a stdout file beneath
// a writable path is refused with a message naming it. Control: a stdout file elsewhere
// receives a profile that runs the command.
scriptCase("learn: the command cannot put its own TOML in a profile written to stdout", SCRIPT, ["${STAGE}", "learn-stdout"], (o) => {
  assert.equal(o.error, undefined, o.error);
  assert.equal(o.mixed.code, 0, o.mixed.stderr);
  assert.doesNotMatch(o.mixed.stdout, /^\[program\.env\]|^INJECTED/m, o.mixed.stdout);
  assert.match(o.mixed.stdout, /^# Written by sandlock learn/, "stdout holds the profile alone");
  assert.ok(o.mixed.stderr.includes('INJECTED = "yes"'), "the command's output went to stderr");
  assert.equal(o.mixedReplay.stdout, "I=\n", JSON.stringify(o.mixedReplay));
  assert.equal(o.inFile.code, 125, JSON.stringify(o.inFile));
  assert.ok(o.inFile.stderr.includes(`sandlock learn: stdout is the file ${o.project}/tool.toml, beneath ${o.project}, which the command may write while learning`), o.inFile.stderr);
  assert.doesNotMatch(o.inFile.stderr, /^done$/m, "the command did not run");
  assert.doesNotMatch(o.fileReplay?.stdout ?? "", /I=yes/);
  assert.equal(o.clean.code, 0, o.clean.stderr);
  assert.match(o.clean.stderr, /^hello$/m);
  assert.match(o.cleanProfile, /^# Written by sandlock learn/);
  assert.equal(o.cleanReplay.code, 0, o.cleanReplay.stderr);
  assert.equal(o.cleanReplay.stdout, "hello\n", "control: the profile on a stdout file elsewhere runs the command");
}, 240_000);

// A profile file beneath a writable grant of its own policy (`sandlock learn -o tool.toml` in
// the project, then `sandlock run --profile-file tool.toml`, as docs/learn.md showed): the
// command appended TOML to it and the next run of the profile loaded it. The CLI now warns,
// naming the file and the grant, before each such run; the rewrite itself stays possible
// (security.md, "Known limits"). Control: the same profile outside the grants, no warning.
scriptCase("CLI: a profile file the sandbox can rewrite is named in a warning before the run", SCRIPT, ["${STAGE}", "profile-exposed"], (o) => {
  assert.equal(o.error, undefined, o.error);
  const warning = `sandlock: warning: the profile ${o.project}/tool.toml is writable inside the sandbox (beneath the writable grant ${o.project}): a program run there can rewrite what the next run of this profile allows`;
  assert.equal(o.rewrite.code, 0, o.rewrite.stderr);
  assert.ok(o.rewrite.stderr.includes(warning), o.rewrite.stderr);
  assert.ok(o.next.stderr.includes(warning), o.next.stderr);
  assert.equal(o.next.stdout, "I=yes\n", "the rewrite itself is not prevented (a known limit)");
  assert.equal(o.control.code, 0, o.control.stderr);
  assert.doesNotMatch(o.control.stderr, /warning: the profile/);
  assert.equal(o.control.stdout, "I=\n");
}, 240_000);

// A line break in the command's arguments (sh -c "$(cat build.sh)", a file of the project)
// ended the profile's comment line: the rest was TOML, here a [network] rule. Now the
// comment keeps the command on one line, escaped. Control: the arguments themselves are
// in [program] args as they were.
scriptCase("learn: a line break in the command's arguments stays inside the profile's comment", SCRIPT, ["${STAGE}", "learn-comment"], (o) => {
  assert.equal(o.error, undefined, o.error);
  assert.equal(o.learned.code, 0, o.learned.stderr);
  assert.doesNotMatch(o.profile, /^\[network\]/m, o.profile);
  assert.match(o.profile, /^# {3}sh -c 'exit 0\\u\{A\}\[network\]\\u\{A\}allow/m, o.profile);
  assert.equal(o.shown.code, 0, o.shown.stderr);
  assert.doesNotMatch(o.shown.stdout, /^\[network\]|^allow = /m, o.shown.stdout);
  assert.ok(o.shown.stdout.includes(JSON.stringify('exit 0\n[network]\nallow = ["tcp://*:1"]\n[program.env] #')), o.shown.stdout);
}, 240_000);

// Names the command chose reached the user's terminal raw in sandlock's own lines: learn's
// report (a program the command wrote and ran, a link it named to a secret), a refusal line
// (a /proc path it opened), the dry run's change list, the exec explanation (a #! line). Each
// carried OSC 0 (title), OSC 52 (clipboard), CSI, the C1 CSI, U+202E and a line break that
// started a line of sandlock's. Now each is printable: \u{XXXX}, so the name stays readable.
scriptCase("CLI: names the command chose reach the terminal escaped, in learn's report, refusals, the dry run and exec explanations", SCRIPT, ["${STAGE}", "terminal"], (o) => {
  assert.equal(o.error, undefined, o.error);
  const escaped = "\\u{1B}]0;PWNED\\u{7}\\u{1B}]52;c;SGVsbG8=\\u{7}\\u{1B}[2J\\u{9B}31m\\u{202E}gnp.exe";
  const learned = o.learned;
  assert.equal(learned.code, 0, learned.stderr);
  assert.doesNotMatch(learned.stderr, RAW, JSON.stringify(learned.stderr));
  assert.doesNotMatch(learned.stderr, /^sandlock learn: forged/m);
  assert.ok(learned.stderr.includes(`x${escaped}\\u{A}sandlock learn: forged line`), learned.stderr);
  assert.match(learned.stderr, /not in the profile, secrets: \S*\/sx\\u\{1B\}/, "the secret's link is named, escaped");

  const refused = o.refused;
  assert.equal(refused.code, 3, refused.stderr);
  assert.ok(refused.stderr.includes(`sandlock: refused: open /proc/1/x${escaped}\\u{A}sandlock learn: forged line: EACCES`), refused.stderr);
  assert.doesNotMatch(refused.stderr, RAW);

  // Held: --json keeps the name whole, in valid JSON.
  assert.equal(o.jsonTarget, `/proc/1/${o.hostile}`);

  const dry = o.dry;
  assert.equal(dry.code, 0, dry.stderr);
  assert.ok(dry.stderr.includes(`/x${escaped}\\u{A}sandlock learn: forged line\n`) && /^ {2}A \//m.test(dry.stderr), dry.stderr);
  assert.doesNotMatch(dry.stderr, RAW);

  const interpreter = o.interpreter;
  assert.equal(interpreter.code, 127, interpreter.stderr);
  assert.match(interpreter.stderr, /its interpreter \(#! line\) \/nonexistent\/x\\u\{1B\}\]0;PWNED/);
  assert.doesNotMatch(interpreter.stderr, RAW);
}, 240_000);

// A flood of DNS questions (3,000 names of the command's choice): learn's report printed
// every name on one line, and the host looked every one up again after the run, all at once,
// each a getaddrinfo that cannot be cancelled (with a slow resolver the CLI stayed alive
// after its report until the last answered). Now the report names 20 and counts the rest,
// and at most 4 lookups run at a time, none started after the 3 s deadline (unit test "the
// names a run looked up are looked up again at most 4 at a time"). Control: the names were
// recorded (the count is there).
scriptCase("learn: a flood of DNS questions neither floods the report nor the host's resolver", SCRIPT, ["${STAGE}", "learn-names"], (o) => {
  assert.equal(o.error, undefined, o.error);
  assert.equal(o.learned.code, 0, o.learned.stderr);
  const line = o.learned.stderr.split("\n").find((l: string) => l.startsWith("  names looked up: ")) ?? "";
  assert.match(line, /, and 2980 more$/, line.slice(0, 400));
  assert.ok(line.length < 1000, `one short line: ${line.length} characters`);
}, 240_000);

// deterministicDirs: the supervisor reads and sorts a directory listed from its start, and
// kept the sorted listing of each of the last 64 directories for the rest of the run,
// whatever their size: the names are the sandbox's (hard links cost no inode). 12
// directories of 40,000 links with 200-byte names, listed once, kept about 140 MiB in the
// supervising process; 64 such, about 750 MiB per sandbox. Now the kept listings hold at
// most 32 MiB in all (counted as name bytes plus 64 an entry; past it the oldest are
// dropped, and a later batch of theirs reads the directory again), and a directory is read
// in linear time (concat copied all entries so far for every 64 KiB batch). The test lists
// 7 such directories (about 82 MiB kept before the bound: over the 64 MiB it allows, at
// half the 12's time in CI). Control: the listing finished (the sandbox wrote its flag).
scriptCase("deterministicDirs: what the supervisor keeps of the sandbox's listings is bounded", SCRIPT, ["${STAGE}", "dirs-memory"], (o) => {
  assert.equal(o.error, undefined, o.error);
  assert.equal(o.listed, true, "control: the sandbox listed every directory");
  assert.ok(o.heldMiB < 64, `the supervising process holds ${o.heldMiB} MiB of listings`);
}, 300_000);

// -o DIR/FILE with DIR beneath the project: the command made DIR a link to a directory of its
// choice (or swapped the directory for one), and learn, which made DIR only after the run,
// wrote the profile where the link led (O_EXCL guards the file's own name, not the
// directories above it). Now the directory is made before the run and must lead to the same
// place after it, else nothing is written and the message names both. Control: an -o the
// command leaves alone is written.
scriptCase("learn: the command cannot redirect -o DIR/FILE by making DIR a link", SCRIPT, ["${STAGE}", "learn-output-link"], (o) => {
  assert.equal(o.error, undefined, o.error);
  assert.equal(o.landed, false, "nothing written where the link leads");
  assert.equal(o.swapped.code, 125, JSON.stringify(o.swapped));
  assert.ok(o.swapped.stderr.includes(`sandlock learn: --output: the directory of out/tool.toml leads to ${o.elsewhere} now, not to ${o.project}/out as before the run`), o.swapped.stderr);
  assert.equal(o.control.code, 0, o.control.stderr);
  assert.equal(o.written, true, "control: the profile is written");
}, 240_000);
