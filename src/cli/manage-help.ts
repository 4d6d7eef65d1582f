// Help of `sandlock ps`, `inspect`, `kill` and `checkpoint`, generated from their flag tables.

import { formatFlags, type FlagSpec } from "./args.js";
import { CHECKPOINT_FLAGS, INSPECT_FLAGS, KILL_FLAGS, PS_FLAGS } from "./manage.js";

const TEXT: Readonly<Record<string, { usage: string; about: string; flags: readonly FlagSpec[] }>> = {
  ps: {
    usage: "sandlock ps [--json]",
    about:
      "Lists this user's running named sandboxes (started with --name, or by the library with a\n" +
      "policy name): NAME, PID (the command's), AGE, STATE and a POLICY summary. Unnamed\n" +
      "sandboxes are not listed. Entries left by a process that died are removed on the way.\n" +
      "Exit 0; 1 when a registry directory had to be ignored (the reason is on stderr).\n",
    flags: PS_FLAGS,
  },
  inspect: {
    usage: "sandlock inspect [--json] NAME",
    about:
      "Shows one running sandbox: its policy, what is enforced, its processes, and its usage\n" +
      "against the limits (processes, anonymous memory, CPU). Exit 0; 1 when no running\n" +
      "sandbox has that name or it did not answer.\n",
    flags: INSPECT_FLAGS,
  },
  kill: {
    usage: "sandlock kill [-s SIG] [--kill-after SECS] NAME",
    about:
      "Stops a running sandbox: SIG (default TERM) to every process in it, then SIGKILL to\n" +
      "whatever is left after SECS (default 5). The process that started the sandbox does it\n" +
      "and answers once every process is gone; the line printed says how it ended. Exit 0;\n" +
      "1 when no running sandbox has that name or it did not answer.\n",
    flags: KILL_FLAGS,
  },
  checkpoint: {
    usage: "sandlock checkpoint NAME DIR",
    about:
      "Captures every process of a running named sandbox (memory, registers, descriptors;\n" +
      "docs/checkpoint.md) and saves it to DIR, which must not exist yet. The process that\n" +
      "started the sandbox does it; the sandbox runs on afterwards. Load it in a program with\n" +
      "Checkpoint.load(DIR). Exit 0; 1 when no running sandbox has that name, it did not\n" +
      "answer, or the capture or the save failed (the reason is on stderr).\n",
    flags: CHECKPOINT_FLAGS,
  },
};

export function manageHelp(command: string): string {
  const t = TEXT[command]!;
  return `sandlock ${command}\n\nUsage:\n  ${t.usage}\n\n${t.about}\n${formatFlags(t.flags)}\n` +
    `The registry is $XDG_RUNTIME_DIR/sandlock, else /tmp/sandlock-<uid>: a directory of this user,\n` +
    `mode 0700; only this user's sandboxes are seen and reached (see docs/running.md).\n`;
}
