// policyFn and a program run by its descriptor (`/proc/self/fd/7`): the supervisor looked
// the path up in its own /proc/self, so the callback's `denied` described another file and
// the exec stop killed the program for not being the approved one. Prints one JSON line:
// what ran, and the exec events' [path, denied]. Usage: proc-self-exec-case.js
import { Sandbox, type PolicyEvent } from "../../src/index.js";

const seen: [string | undefined, boolean | undefined][] = [];
const fn = (e: PolicyEvent) => {
  if (e.syscall === "execve" || e.syscall === "execveat") seen.push([e.path, e.denied]);
  return "allow" as const;
};
const SYSTEM = ["/usr", "/lib", "/lib64", "/bin"];
const byFd = await Sandbox.run({ fsReadable: SYSTEM, policyFn: fn }, ["/bin/sh", "-c", "exec 7</bin/echo; /proc/self/fd/7 hi-from-fd; echo rc=$?"]);
const events = seen.splice(0);
// Control: the same program by its path.
const byPath = await Sandbox.run({ fsReadable: SYSTEM, policyFn: fn }, ["/bin/sh", "-c", "/bin/echo hi-from-path; echo rc=$?"]);
console.log(JSON.stringify({ byFd: byFd.stdoutText, events, byPath: byPath.stdoutText, pathEvents: seen }));
