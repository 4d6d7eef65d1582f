// What a CLI run leaves changed in the terminal it shares with the user's shell. A helper
// makes a pseudo-terminal and runs the command on it as its controlling terminal; the
// command (Python) prints a marker, turns echo and canonical input off, sets O_NONBLOCK on
// the terminal's open file description and tries to suspend its output (tcflow TCOOFF,
// its answer written to a file); afterwards the helper, which holds the terminal as the
// shell does, reads the settings and flags back and whether output still flows.
// Usage: terminal-case.js STAGE; prints one JSON line.

import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ptyRunner } from "../helpers/pty-runner.js";
import { SYSTEM_RO } from "../helpers/system.js";

const [stage] = process.argv.slice(2) as [string];
const PY = "/usr/bin/python3";

const RUNNER = ptyRunner(`fl = fcntl.fcntl(s, fcntl.F_GETFL)
a = termios.tcgetattr(s)
# Whether output flows: a write with O_NONBLOCK gets EAGAIN on a terminal whose output is
# suspended (without it, the write would wait for ever, as the user's shell would).
fcntl.fcntl(s, fcntl.F_SETFL, fl | os.O_NONBLOCK)
try:
    os.write(s, b"."); flowing = 1
except BlockingIOError:
    flowing = 0
print("ran %d echo %d icanon %d nonblock %d flowing %d" % (b"marker" in out, a[3] & termios.ECHO != 0, a[3] & termios.ICANON != 0, fl & os.O_NONBLOCK != 0, flowing))`);

/** The command: ANSWER-FILE [SECONDS]. Each change, tcflow's answer written to the file,
 * then (with SECONDS) a sleep the run's --timeout ends. SIGTTOU is ignored so that a
 * command in a background group can change the terminal too (as any background job can
 * that ignores it). */
const CHANGE = `import os, sys, fcntl, termios, signal, time, errno
signal.signal(signal.SIGTTOU, signal.SIG_IGN)
os.write(1, b"marker\\\\n")
a = termios.tcgetattr(0)
a[3] &= ~(termios.ECHO | termios.ICANON)
termios.tcsetattr(0, termios.TCSANOW, a)
fcntl.fcntl(0, fcntl.F_SETFL, fcntl.fcntl(0, fcntl.F_GETFL) | os.O_NONBLOCK)
try:
    termios.tcflow(1, termios.TCOOFF); r = "ok"
except termios.error as e:
    r = errno.errorcode[e.args[0]]
open(sys.argv[1], "w").write(r)
if len(sys.argv) > 2: time.sleep(float(sys.argv[2]))
`;

/** Starts argv in a process group of its own, not the terminal's foreground group (a
 * shell's "cmd &"), and waits for it. */
const BACKGROUND = `import os, sys
pid = os.fork()
if pid == 0:
    os.setpgid(0, 0)
    os.execv(sys.argv[1], sys.argv[1:])
os.waitpid(pid, 0)
`;

/** A job-control shell: runs argv as a job in a process group of its own, in the
 * terminal's foreground, and says on stderr whether it ended or was stopped (killing it
 * then, as a user would have to). */
const SHELL = `import os, sys, signal, time
signal.signal(signal.SIGTTOU, signal.SIG_IGN)
pid = os.fork()
if pid == 0:
    os.setpgid(0, 0)
    os.tcsetpgrp(0, os.getpgrp())
    signal.signal(signal.SIGTTOU, signal.SIG_DFL)
    os.execv(sys.argv[1], sys.argv[1:])
try:
    os.setpgid(pid, pid)
except PermissionError:
    pass  # EACCES: the child has exec'd already, having made its group itself (as shells do)
t0 = time.time()
while True:
    p, st = os.waitpid(pid, os.WUNTRACED | os.WNOHANG)
    if p == pid:
        if os.WIFSTOPPED(st):
            print("job stopped by signal %d" % os.WSTOPSIG(st), file=sys.stderr)
            os.kill(pid, signal.SIGKILL); os.waitpid(pid, 0)
        else:
            print("job ended", file=sys.stderr)
        break
    if time.time() - t0 > 30:
        print("job still running after 30 s", file=sys.stderr); os.kill(pid, signal.SIGKILL); os.waitpid(pid, 0); break
    time.sleep(0.05)
os.tcsetpgrp(0, os.getpgrp())
`;

/** [SECONDS]: takes the terminal's foreground for a process group of its own, sets TOSTOP
 * (background writers are stopped), then sleeps. */
const STEAL = `import os, sys, termios, signal, time
signal.signal(signal.SIGTTOU, signal.SIG_IGN)
os.setpgid(0, 0)
os.tcsetpgrp(0, os.getpgrp())
a = termios.tcgetattr(0)
a[3] |= termios.TOSTOP
termios.tcsetattr(0, termios.TCSANOW, a)
time.sleep(float(sys.argv[1]) if len(sys.argv) > 1 else 0)
`;

/** The control: a program in the CLI's place, whose child steals the foreground and
 * ends; the program then writes its report to the terminal. */
const WRITER = `import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
os.waitpid(pid, 0)
os.write(2, b"report\\n")
`;

const dir = mkdtempSync("/tmp/sandlock-terminal-");
chmodSync(dir, 0o755);
const file = (name: string, text: string): string => {
  writeFileSync(join(dir, name), text, { mode: 0o644 });
  return join(dir, name);
};
try {
  const runner = file("pty.py", RUNNER);
  const change = file("change.py", CHANGE);
  const background = file("background.py", BACKGROUND);
  const shell = file("shell.py", SHELL);
  const steal = file("steal.py", STEAL);
  const writer = file("writer.py", WRITER);
  /** The runner's line of what the terminal showed (the line before its epilogue's). */
  const lastLine = (text: string): string => {
    const lines = text.trim().split("\n");
    return lines[lines.length - 2] ?? "";
  };
  const onPty = (name: string, argv: string[], ...args: string[]): object => {
    const answer = join(dir, `tcflow-${name}`);
    const lines = execFileSync(PY, [runner, ...argv, PY, change, answer, ...args], { encoding: "utf8", timeout: 60_000 }).trim().split("\n");
    return { terminal: lines[lines.length - 1], tcflow: existsSync(answer) ? readFileSync(answer, "latin1") : "no answer" };
  };
  const cli = (...flags: string[]): string[] => [process.execPath, join(stage, "bin", "sandlock.cjs"), "run", ...flags, ...SYSTEM_RO.flatMap((p) => ["-r", p]), "-r", dir, "-w", dir, "--"];
  const out = {
    supervised: onPty("supervised", cli("--proc-view", "supervised")),
    kernel: onPty("kernel", cli("--proc-view", "kernel")),
    // Ended by --timeout while the command still runs: the CLI prints its report to the
    // terminal the command changed.
    timeout: onPty("timeout", cli("--timeout", "1"), "30"),
    background: onPty("background", [PY, background, ...cli()]),
    bare: onPty("bare", []),
    // The command takes the terminal's foreground with TOSTOP set, and --timeout ends it:
    // the CLI's report must not stop the CLI. Control: a program in its place is stopped.
    stolen: lastLine(execFileSync(PY, [runner, PY, shell, ...cli("--timeout", "1"), PY, steal, "30"], { encoding: "utf8", timeout: 90_000 })),
    stolenLearn: lastLine(execFileSync(PY, [runner, PY, shell, process.execPath, join(stage, "bin", "sandlock.cjs"), "learn", "--cwd", dir, "--", PY, steal], { encoding: "utf8", timeout: 90_000 })),
    stolenControl: lastLine(execFileSync(PY, [runner, PY, shell, PY, writer, PY, steal], { encoding: "utf8", timeout: 90_000 })),
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
