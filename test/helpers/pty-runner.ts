// A Python program that makes a pseudo-terminal, runs `argv[1:]` on it as its controlling
// terminal (a session of its own, fds 0-2 the terminal, as a login shell's child has), copies
// what it prints and, once it has exited, runs an epilogue that looks at the terminal the
// way the user's shell would afterwards: it still holds the terminal (`s`, the same open
// file description the command had as stdin) and has the output read (`out`, bytes).
// The command's own output is printed first, on one line; the epilogue prints after it.

const PRELUDE = `import os, sys, fcntl, termios, struct, select, errno
m, s = os.openpty()
pid = os.fork()
if pid == 0:
    os.setsid()
    fcntl.ioctl(s, termios.TIOCSCTTY, 0)
    for fd in (0, 1, 2): os.dup2(s, fd)
    os.close(m); os.close(s)
    os.execv(sys.argv[1], sys.argv[1:])
out = b""
# This process keeps the slave open, so the master never reads EOF: the loop ends once the
# child has exited and nothing more is readable.
gone = False
while True:
    r, _, _ = select.select([m], [], [], 0.05)
    if r:
        try: d = os.read(m, 4096)
        except OSError: break
        if not d: break
        out += d
        continue
    if gone: break
    gone = os.waitpid(pid, os.WNOHANG)[0] == pid
if not gone: os.waitpid(pid, 0)
print(out.decode(errors="replace").replace("\\r", "").strip().replace("\\n", " | "))
`;

/** The program's text: the prelude above, then `epilogue` (Python, at the top level). */
export function ptyRunner(epilogue: string): string {
  return `${PRELUDE}${epilogue.endsWith("\n") ? epilogue : `${epilogue}\n`}`;
}
