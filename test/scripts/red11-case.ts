// The eleventh review's cases that need more than one sandbox or a standby launcher
// (test/integration/redteam11.test.ts), run as root or as the test user. Prints one JSON line.
// Usage: red11-case.js RT11 handoff|standby-reach|standby-mounts

import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { Sandbox } from "../../src/index.js";
import { handoffReceiver, scriptMain } from "../helpers/script-main.js";
import { childrenOf } from "../helpers/proc.js";

const [rt11, mode] = process.argv.slice(2) as [string, string];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const SYS = ["/bin", "/usr", "/lib", "/lib64", "/etc"];

/** This process's children named `comm` (all of them without one). */
const children = (pid: number, comm?: string): number[] => childrenOf(pid).filter((c) => comm === undefined || c.comm === comm).map((c) => c.pid);

function state(pid: number): string {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, "latin1");
    return s.slice(s.lastIndexOf(")") + 2).split(" ")[0]!;
  } catch {
    return "gone";
  }
}

async function run(base: string): Promise<Record<string, unknown>> {
  switch (mode) {
    case "handoff": {
      // Sandbox A hands its stdout pipe's write end (SCM_RIGHTS, over a named socket in a
      // directory both may write) to sandbox B of the same process, and exits at once. B
      // writes into it for 4 s. A's run() should settle when A has ended; past A's
      // maxBuffer the supervisor should not read B's writes without bound.
      const out: Record<string, unknown> = {};
      for (const target of ["kernel", "supervised", "writable"] as const) {
        // "writable": A's stdout is a stream of the caller's (forwarded, not kept).
        const view = target === "writable" ? "kernel" : target;
        const { socket, policy: pol, b } = await handoffReceiver(base, target, view, rt11, ["4"]);
        const t0 = Date.now();
        const cpu0 = process.cpuUsage();
        let aMs = -1;
        let aError = "";
        let aStatus = "";
        const sink = new PassThrough();
        sink.resume();
        const a = Sandbox.run(pol, [rt11, "give", socket], target === "writable" ? { stdout: sink } : { maxBuffer: 1000 }).then(
          (r) => {
            aMs = Date.now() - t0;
            aStatus = r.status;
          },
          (e: Error) => {
            aMs = Date.now() - t0;
            aError = e.message;
          },
        );
        const rb = await b.wait();
        const bMs = Date.now() - t0;
        await a;
        const cpu = process.cpuUsage(cpu0);
        out[target] = { aMs, aStatus, aError: aError.slice(0, 160), bMs, b: rb.stdoutText, supervisorCpuMs: Math.round((cpu.user + cpu.system) / 1000) };
      }
      return out;
    }
    case "standby-reach": {
      // A standby waits (made when a kernel-view sandbox ended); a supervised-view sandbox
      // of the same process and user, with /proc granted, aims signals, /proc files and
      // pidfd_open at the standby launcher and its child.
      Sandbox.setStandby(true);
      await Sandbox.run({ fsReadable: [rt11, ...SYS], procView: "kernel" }, ["/bin/true"]);
      let launcher: number | undefined;
      let child: number | undefined;
      for (let i = 0; i < 300 && child === undefined; i++) {
        launcher = children(process.pid, "sandlock-launch")[0];
        if (launcher !== undefined) child = children(launcher)[0];
        if (child === undefined) await sleep(10);
      }
      if (launcher === undefined || child === undefined) return { error: "no standby" };
      const r = await Sandbox.run({ fsReadable: [rt11, ...SYS, "/proc"], procView: "supervised" }, [rt11, "reach", String(launcher), String(child)]);
      const control = await Sandbox.run({ fsReadable: [rt11, ...SYS, "/proc"], procView: "supervised" }, ["/bin/sh", "-c", `"$0" reach nostop $$; true`, rt11]);
      return { out: r.stdoutText + r.stderrText, control: control.stdoutText, after: [state(launcher), state(child)] };
    }
    case "standby-mounts": {
      // Root: after the standby was made, a writable grant is made read-only with
      // mount_setattr and a directory hidden with open_tree + move_mount (the new mount
      // API, not mount(2)): the next start must see both.
      const w = join(base, "w");
      const share = join(base, "share");
      const empty = join(base, "empty");
      for (const d of [w, join(share, "private"), empty]) mkdirSync(d, { recursive: true, mode: 0o755 });
      writeFileSync(join(share, "private", "secret"), "HIDDEN\n");
      const sh = (file: string, args: string[]): string => execFileSync(file, args, { encoding: "utf8" });
      const grants = { fsReadable: [rt11, ...SYS, share], fsWritable: [w], procView: "kernel" as const };
      sh("mount", ["--bind", w, w]);
      try {
        Sandbox.setStandby(true);
        await Sandbox.run(grants, ["/bin/true"]);
        let waiting: number | undefined;
        for (let i = 0; i < 300 && waiting === undefined; i++) {
          waiting = children(process.pid, "sandlock-launch")[0];
          if (waiting === undefined) await sleep(10);
        }
        const host = sh(rt11, ["host-ro", w]) + sh(rt11, ["host-hide", empty, join(share, "private")]);
        const r = await Sandbox.run(grants, ["/bin/sh", "-c", `echo x > ${w}/x 2>&1 && echo wrote; cat ${share}/private/secret 2>&1; true`]);
        return { waiting, host, out: r.stdoutText + r.stderrText };
      } finally {
        for (const m of [join(share, "private"), w]) {
          try {
            execFileSync("umount", [m]);
          } catch {
            // not mounted
          }
        }
      }
    }
    default:
      throw new Error(`unknown mode ${mode}`);
  }
}

scriptMain("/tmp/sandlock-red11-", run);
