// What the /proc files that list host processes show a sandbox (second review of issue 9):
// /proc/locks and /proc/sysvipc/* keep only the lines of the sandbox's own processes.
// Pure text functions.

function lines(text: string): string[] {
  const all = text.split("\n");
  if (all[all.length - 1] === "") all.pop();
  return all;
}

function join(out: readonly string[]): string {
  return out.length === 0 ? "" : out.join("\n") + "\n";
}

/**
 * /proc/locks: "N: TYPE MODE ACCESS PID MAJ:MIN:INODE START END", and "N: -> ..." for a
 * request blocked by lock N. Only the locks of `own` processes are kept (OFD locks, pid -1,
 * belong to no process and are dropped), renumbered in order so the host's count and
 * order do not show; a blocked request is kept when its own pid is the sandbox's (the
 * lock blocking it may then be the host's: only its number, renumbered, is shown).
 */
export function filterLocks(text: string, own: ReadonlySet<number>): string {
  const out: string[] = [];
  const renumber = new Map<string, number>();
  for (const line of lines(text)) {
    const m = /^(\d+):(\s+)(->\s+)?(\S+\s+\S+\s+\S+\s+)(-?\d+)(\s.*)?$/.exec(line);
    if (m === null || !own.has(Number(m[5]))) continue;
    let n = renumber.get(m[1]!);
    if (n === undefined) renumber.set(m[1]!, (n = renumber.size + 1));
    out.push(`${n}:${m[2]}${m[3] ?? ""}${m[4]}${m[5]}${m[6] ?? ""}`);
  }
  return join(out);
}

/** Columns of /proc/sysvipc/{shm,msg} that name a process: creator and last operation. */
const PID_COLUMNS = new Set(["cpid", "lpid", "lspid", "lrpid"]);

/**
 * /proc/sysvipc/{shm,msg,sem}: the header, and the objects whose creator or last user is
 * one of `own`, or whose id is one of `ownIds` (the objects the supervisor made for the
 * sandbox: handlers/sysv.ts). A semaphore set names no process: only its id shows it.
 */
export function filterSysvipc(text: string, own: ReadonlySet<number>, ownIds: ReadonlySet<number> = new Set()): string {
  const all = lines(text);
  if (all.length === 0) return "";
  const header = all[0]!.trim().split(/\s+/);
  const cols = header.flatMap((name, i) => (PID_COLUMNS.has(name) ? [i] : []));
  const out = [all[0]!];
  for (const line of all.slice(1)) {
    const f = line.trim().split(/\s+/);
    if (ownIds.has(Number(f[1])) || cols.some((i) => own.has(Number(f[i])))) out.push(line);
  }
  return join(out);
}
