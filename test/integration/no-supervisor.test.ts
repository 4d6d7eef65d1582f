// supervisor: false (--no-supervisor), for a sandbox inside a sandbox: every escape the
// supervisor closes is tried without it and refused by the filter or Landlock, with the
// supervised run and the unsandboxed run of the same attempt as controls; the nested CLI
// run works with the flag and, without it, fails saying to use it.

import assert from "node:assert/strict";
import { scriptCase } from "../helpers/harness.js";

interface Modes {
  root: boolean;
  self: number;
  unsupervised: Record<string, string>;
  supervised: Record<string, string>;
  bare: Record<string, string>;
}

const lines = (text: string): Record<string, string> =>
  Object.fromEntries(text.split("\n").map((l) => l.split(" ") as [string, string]));

scriptCase(
  "without a supervisor: unix sockets (named, in or out of the grants, datagram pairs) are refused, stream pairs work; netlink and interface queries refused; TCP ports by Landlock; host signals refused",
  "dist/test/scripts/unsupervised-case.js",
  ["${PROBE}"],
  (out: Modes) => {
    const { unsupervised: u, supervised: s, bare: b } = out;
    // Named sockets: the filter refuses unix sockets outright (it cannot see the path).
    assert.equal(u["unix-out"], "EPERM");
    assert.equal(u["unix-in"], "EPERM");
    assert.equal(s["unix-out"], "EACCES", "control: the supervisor refuses the outside one");
    assert.equal(s["unix-in"], "ok ping", "control: and reaches the one in the writable grant");
    assert.equal(b["unix-out"], "ok ping", "control: unsandboxed, the outside socket answers");
    // A datagram pair sends to any named socket with sendto's address.
    assert.equal(u["dgram-out"], "EPERM");
    assert.equal(b["dgram-out"], "EPROTOTYPE", "control: unsandboxed the kernel reached the socket (a stream one)");
    assert.equal(u["pair-stream"], "ok", "stream pairs stay usable");
    // Host interfaces.
    assert.equal(u.netlink, "EAFNOSUPPORT");
    assert.match(b.netlink!, /^port pid .* links \d+ \d+ addrs \d+ routes \d+/, "control: a real netlink socket answers");
    assert.equal(u.ifconf, "EOPNOTSUPP");
    assert.match(b.ifconf!, /^need \d+ lo/, "control: SIOCGIFCONF lists the host's interfaces");
    // TCP: Landlock's port rules alone.
    assert.equal(u["tcp-ok"], "ok ping");
    assert.equal(u["tcp-denied"], "EACCES");
    assert.equal(b["tcp-denied"], "ok ping", "control: the denied port answers unsandboxed");
    // Signals to a process outside: Landlock's signal scope.
    assert.equal(u["kill-host"], "EPERM");
    assert.equal(b["kill-host"], "ok");
  },
);

scriptCase(
  "without a supervisor /proc is left out of a grant of / (not listable, no process seen) and / itself cannot be listed; with one only the sandbox's pids are listed",
  "dist/test/scripts/unsupervised-case.js",
  ["${PROBE}"],
  (out: Modes) => {
    const [, listed] = out.unsupervised.pids!.split("\n");
    assert.equal(listed, "listed EACCES");
    const sup = out.supervised.pids!.split("\n");
    const m = /^self (\d+) child (\d+)$/.exec(sup[0]!);
    assert.ok(m, sup[0]);
    assert.equal(sup[1], `listed ${m[1]} ${m[2]}`, "control: the supervisor's view");
    assert.ok(out.bare.pids!.split("\n")[1]!.split(" ").includes(String(out.self)), "control: unsandboxed, this script's pid is listed");
  },
);

scriptCase(
  "without a supervisor every file metadata change is refused (EPERM), beneath a read-only and a writable grant alike, except setting times to now; controls: the supervisor allows them in the writable grant, unsandboxed all succeed",
  "dist/test/scripts/unsupervised-case.js",
  ["${PROBE}"],
  (out: Modes) => {
    for (const where of ["meta-ro", "meta-write"]) {
      const u = lines(out.unsupervised[where]!);
      assert.ok(Object.keys(u).length >= 30, `${where}: every call ran`);
      for (const [call, answer] of Object.entries(u)) {
        assert.equal(answer, call === "utime-now" ? "ok" : "EPERM", `${where}: ${call}`);
      }
    }
    const b = lines(out.bare["meta-ro"]!);
    for (const call of ["chmod", "fd-fchmod", "opath-fchmodat2", "chown", "setxattr", "utime", "fd-futimens"]) {
      assert.equal(b[call], "ok", `control, unsandboxed: ${call}`);
    }
    assert.equal(lines(out.supervised["meta-write"]!).chmod, "ok", "control: the supervisor allows chmod in the writable grant");
    assert.equal(lines(out.supervised["meta-ro"]!).chmod, "EACCES", "control: and refuses it under a read-only one");
  },
);

scriptCase(
  "sandlock inside sandlock: the inner run works with --no-supervisor (and keeps its own grants), also from -p workspace and a profile that turns the supervisor off; without it, it fails before running and says to use --no-supervisor",
  "dist/test/scripts/nested-case.js",
  [],
  (out) => {
    assert.equal(out.withFlag.code, 0, out.withFlag.stderr);
    assert.equal(out.withFlag.stdout, "nested\netc-refused\n", "the inner grants hold: /etc is the outer's, not the inner's");
    assert.equal(out.withoutFlag.code, 126);
    assert.equal(out.withoutFlag.stdout, "", "nothing ran");
    assert.match(out.withoutFlag.stderr, /^sandlock: seccomp\(SET_MODE_FILTER, NEW_LISTENER\): EBUSY \(this process already runs under a seccomp supervisor.*--no-supervisor \(library: supervisor: false\)\)\n$/);
    assert.equal(out.alone.code, 0, "control: the same inner command, not nested, runs with its supervisor");
    // Presets leave /proc out without a supervisor, so -p workspace works nested.
    for (const how of ["preset", "profile"]) {
      assert.equal(out[how].code, 0, `${how}: ${out[how].stderr}`);
      assert.equal(out[how].stdout, "preset\nproc-refused\n", `${how}: the project is writable, /proc is not there`);
    }
    assert.equal(out.made, "preset\n");
    assert.equal(out.alone.stdout, "nested\netc-refused\n");
  },
);
