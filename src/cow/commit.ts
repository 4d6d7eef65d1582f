// Commit of a branch into the real workdir: conflicts checked first, then a journal of
// idempotent operations written durably, then applied in order. A crash at any point
// leaves the branch listed; applying it again replays the journal (docs/cow.md).

import { closeSync, constants as C, fstatSync, linkSync, lstatSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, symlinkSync, unlinkSync, writeSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { basename, dirname, join } from "node:path";
import { native } from "../confine/native.js";
import { BranchError } from "../errors.js";
import { printableList } from "../printable.js";
import { AT_FDCWD, O, RESOLVE } from "../supervise/paths.js";
import { chmodDirBeneath, openBeneath, openDirNoFollow, removeBeneath, writeFileBeneath } from "./beneath.js";
import { readChanges, type Change, type Op } from "./changes.js";
import { dropBranch, saveMeta, waitPast, writeDurable, type Branch } from "./stage.js";
import { holdsProtected, isProtected, redirectsGit } from "../policy/protected.js";

interface Journal {
  readonly version: 1;
  readonly workdir: string;
  readonly ops: readonly Op[];
  /** Changes were held back (protectedFiles): the branch stays once the ops are applied. */
  readonly keep?: true;
}

const BENEATH = RESOLVE.BENEATH | RESOLVE.NO_SYMLINKS | RESOLVE.NO_MAGICLINKS;

/**
 * The changed paths whose real file changed since the run started: a ctime after the
 * branch's start (the same coarse filesystem clock stamped both; createBranch waits for
 * that clock to move past the stamp before the run starts, so a change made after the
 * start can never carry the stamp's own value). A real file removed
 * meanwhile that the run modified is not seen (it shows as added): docs/cow.md.
 */
export function conflicts(branch: Branch, changes: readonly Change[]): string[] {
  const start = BigInt(branch.meta.startNs);
  const out: string[] = [];
  for (const c of changes) {
    const st = lstatSync(c.path, { bigint: true, throwIfNoEntry: false });
    if (st !== undefined && st.ctimeNs > start) out.push(c.path);
  }
  return out;
}

/** One commit per workdir at a time: a lock file beside the branches, freed when its
 * process is gone. */
function lock(root: string, workdir: string): () => void {
  const path = join(root, `.lock-${createHash("sha256").update(workdir).digest("hex").slice(0, 16)}`);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(path, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const pid = Number(readFileSync(path, "utf8"));
      let alive = false;
      try {
        process.kill(pid, 0);
        alive = pid !== process.pid;
      } catch (k) {
        alive = (k as NodeJS.ErrnoException).code === "EPERM";
      }
      if (alive) throw new BranchError(`commit: another commit into ${workdir} is running (pid ${pid}); try again when it ends`);
      rmSync(path, { force: true });
    }
  }
  throw new BranchError(`commit: could not take the lock of ${workdir}`);
}

/**
 * protectedFiles: the operations a commit holds back, by their path relative to the
 * workdir: a protected name or anything beneath one, and the removal of a directory that
 * holds one (".git": its hooks and config would go with it), and a ".git" made a file or
 * a link (it would send git to a config and hooks of the sandbox's).
 */
function heldBack(op: Op): boolean {
  return isProtected(op.p) || (op.t === "rm" && holdsProtected(op.p)) || ((op.t === "file" || op.t === "link") && redirectsGit(op.p, false));
}

/** The changes (absolute paths beneath workdir) that held-back operations stand for. */
function heldChange(workdir: string, c: Change): boolean {
  const rel = c.path.slice(workdir.length + 1);
  return isProtected(rel) || (c.kind === "deleted" ? holdsProtected(rel) : redirectsGit(rel, c.type === "dir"));
}

/** After a commit that held changes back: the branch stays, with a start stamped now, so
 * the paths this commit wrote are no conflict when it is applied later. */
function keepHeld(branch: Branch): void {
  branch.meta.state = "kept";
  saveMeta(branch);
  const metaPath = join(branch.dir, "meta.json");
  const stamp = lstatSync(metaPath, { bigint: true }).mtimeNs;
  (branch.meta as { startNs: string }).startNs = stamp.toString();
  saveMeta(branch);
  waitPast(join(branch.dir, "tick"), stamp);
}

/** What commitBranch did: the changes written, and those held back (protectedFiles). */
export interface CommitOutcome {
  readonly changes: Change[];
  readonly held: Change[];
}

/**
 * Commits a branch: the change set, conflicts (refused with BranchError naming every path,
 * the branch kept), the journal, the operations, a syncfs of the workdir, then the branch
 * is dropped. A branch whose journal exists was being committed when its process died:
 * the conflicts were checked then, and the journal is replayed as it is.
 */
export function commitBranch(root: string, branch: Branch, protect = false): CommitOutcome {
  const release = lock(root, branch.meta.workdir);
  try {
    const journalPath = join(branch.dir, "journal.json");
    let journal: Journal;
    let changes: Change[] = [];
    let held: Change[] = [];
    const existing = lstatSync(journalPath, { throwIfNoEntry: false });
    if (existing !== undefined) {
      journal = JSON.parse(readFileSync(journalPath, "utf8")) as Journal;
    } else {
      const set = readChanges(branch.upper, branch.meta.workdir);
      changes = set.changes;
      // protectedFiles: those changes stay in the branch (kept, listed), the rest commits.
      if (protect) {
        held = changes.filter((c) => heldChange(branch.meta.workdir, c));
        changes = changes.filter((c) => !heldChange(branch.meta.workdir, c));
      }
      const ops = protect ? set.ops.filter((op) => !heldBack(op)) : set.ops;
      const clash = conflicts(branch, changes);
      if (clash.length > 0) {
        branch.meta.state = "kept";
        saveMeta(branch);
        // The paths are names the sandbox made: printable, as the message reaches a terminal.
        const shown = printableList(clash, 20);
        throw Object.assign(new BranchError(`commit refused: ${clash.length} path(s) changed in ${branch.meta.workdir} since the run started: ${shown}; the branch ${branch.meta.id} is kept (sandlock branch show|apply|drop ${branch.meta.id})`), { branch: branch.meta.id, paths: clash });
      }
      journal = { version: 1, workdir: branch.meta.workdir, ops, ...(held.length > 0 ? { keep: true as const } : {}) };
      writeDurable(journalPath, JSON.stringify(journal));
    }
    branch.meta.state = "committing";
    saveMeta(branch);
    applyOps(branch, journal);
    // Durable before the branch (the only other copy) goes: syncfs of the workdir's filesystem.
    try {
      execFileSync("sync", ["-f", branch.meta.workdir], { stdio: "ignore" });
    } catch {
      // no sync(1): the page cache still holds every write; only a power loss could lose it
    }
    if (held.length > 0 || journal.keep === true) {
      rmSync(journalPath, { force: true });
      keepHeld(branch);
    } else {
      dropBranch(branch, true);
    }
    return { changes, held };
  } finally {
    release();
  }
}

/** For a branch file with more than one name: the name committed first (relative to the
 * workdir), or undefined when `rel` is the first (then recorded) or the only one. */
function secondName(upperFd: number, rel: string, linked: Map<string, string>): string | undefined {
  const fd = openBeneath(upperFd, rel, O.PATH);
  try {
    const st = fstatSync(fd);
    if (st.nlink < 2) return undefined;
    const key = `${st.dev}:${st.ino}`;
    const first = linked.get(key);
    if (first === undefined) linked.set(key, rel);
    return first;
  } finally {
    closeSync(fd);
  }
}

/** The parent of p (relative to the workdir) pinned without following any link, or -errno. */
function pinParent(workdirFd: number, p: string): number {
  const parent = dirname(p);
  if (parent === ".") return native().openat2(workdirFd, ".", O.PATH | O.DIRECTORY | O.CLOEXEC, 0, BENEATH);
  return native().openat2(workdirFd, parent, O.PATH | O.DIRECTORY | O.CLOEXEC, 0, BENEATH);
}

function ignoreCode(code: string, fn: () => void): void {
  try {
    fn();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== code) throw e;
  }
}

/**
 * Applies the journal's operations in order. Every path is reached through its parent
 * directory pinned beneath the workdir without following a symbolic link (a link in the
 * real tree never redirects a write outside it); the last component is handled by calls
 * that do not follow it either (rename, mkdir, rm, a temporary name created exclusively).
 * Each file is written under a temporary name beside its target and renamed over it.
 */
export function applyOps(branch: Branch, journal: Journal): void {
  const wfd = native().openat2(AT_FDCWD, journal.workdir, O.PATH | O.DIRECTORY | O.CLOEXEC, 0, RESOLVE.NO_SYMLINKS);
  if (wfd < 0) throw new BranchError(`commit: cannot open the workdir ${journal.workdir} (errno ${-wfd})`);
  const tag = branch.meta.id.slice(-8);
  let ufd: number;
  try {
    ufd = openDirNoFollow(branch.upper);
  } catch (e) {
    closeSync(wfd);
    throw new BranchError(`commit: cannot open the branch's upper ${branch.upper} (${(e as NodeJS.ErrnoException).code})`);
  }
  /** The first name committed of each branch file with more than one name (by inode). */
  const linked = new Map<string, string>();
  try {
    journal.ops.forEach((op, i) => {
      const pfd = pinParent(wfd, op.p);
      if (pfd < 0) {
        if (op.t === "rm" && pfd === -2) return; // its parent is gone already
        throw new BranchError(`commit: cannot reach the parent of ${join(journal.workdir, op.p)} (errno ${-pfd}): a symbolic link or a missing directory in the real tree`);
      }
      try {
        const at = (name: string): string => `/proc/self/fd/${pfd}/${name}`;
        const name = basename(op.p);
        const tmpName = `.sandlock-${tag}-${i}.tmp`;
        const target = at(name);
        const tmp = at(tmpName);
        // Modes, times and removals go through descriptors (cow/beneath.ts): another
        // sandbox with the real directory granted may swap any name here for a link while
        // the commit runs, and a chmod, utimes or rm -r by path would follow it.
        switch (op.t) {
          case "rm":
            removeBeneath(pfd, name);
            return;
          case "dir":
            ignoreCode("EEXIST", () => mkdirSync(target, { mode: op.mode }));
            try {
              chmodDirBeneath(pfd, name, op.mode);
            } catch (e) {
              throw new BranchError(`commit: ${join(journal.workdir, op.p)} is not a directory (${(e as Error).message})`);
            }
            return;
          case "file": {
            ignoreCode("ENOENT", () => unlinkSync(tmp));
            // A second name of a branch file becomes a hard link to the first name this
            // commit wrote (fifth review): written as a file of its own, every name took the
            // disk the file's size again, far past maxDisk (1,000 names in a 1 MB stage).
            // The first name is reached through its parent pinned as any path here; link(2)
            // never follows it, so a link swapped in for it only lands in the workdir.
            const first = secondName(ufd, op.p, linked);
            if (first !== undefined) {
              const fpfd = pinParent(wfd, first);
              if (fpfd < 0) throw new BranchError(`commit: cannot reach the parent of ${join(journal.workdir, first)} (errno ${-fpfd})`);
              try {
                linkSync(`/proc/self/fd/${fpfd}/${basename(first)}`, tmp);
              } finally {
                closeSync(fpfd);
              }
              renameSync(tmp, target);
              return;
            }
            const mtime = Number(BigInt(op.mtimeNs) / 1000n) / 1e6;
            writeFileBeneath(ufd, op.p, pfd, tmpName, op.mode, mtime);
            // A name swapped in for the temporary since it was written is what is renamed:
            // a link then lands in the workdir (which that process can write anyway).
            renameSync(tmp, target);
            return;
          }
          case "link":
            ignoreCode("ENOENT", () => unlinkSync(tmp));
            symlinkSync(op.target, tmp);
            renameSync(tmp, target);
            return;
        }
      } finally {
        closeSync(pfd);
      }
    });
  } finally {
    closeSync(ufd);
    closeSync(wfd);
  }
}
