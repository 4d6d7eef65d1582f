// Presets resolved against a fake host: only what exists is granted, secrets never are
// (even through a link in /etc), workspace refuses / and the home directory, and
// composition adds lists and overrides scalars.

import assert from "node:assert/strict";
import { test } from "node:test";
import { Policy } from "../../src/policy/policy.js";
import { composeInputs } from "../../src/policy/compose.js";
import { PRESET_NAMES, SECRET_PATHS, WEB_RULES, presetCovering, presetInput, type PresetHost } from "../../src/policy/presets.js";

/** A host with these paths (links: path -> target). */
function host(paths: readonly string[], links: Record<string, string> = {}): PresetHost {
  const real = (p: string): string | undefined => {
    if (Object.hasOwn(links, p)) return real(links[p]!);
    return paths.includes(p) ? p : undefined;
  };
  return {
    exists: (p) => real(p) !== undefined,
    realpath: real,
    isSymlink: (p) => Object.hasOwn(links, p),
    list: (d) => paths.filter((p) => p.startsWith(`${d}/`) && !p.slice(d.length + 1).includes("/")).map((p) => p.slice(d.length + 1)),
  };
}

const HOST = host(
  ["/usr", "/usr/lib", "/usr/bin", "/opt", "/etc/passwd", "/etc/shadow", "/etc/ssh", "/etc/ld.so.cache", "/etc/python3.11",
    "/etc/ssl/certs", "/etc/ssl/private", "/etc/gitconfig", "/run/resolve/resolv.conf", "/dev/null", "/dev/tty", "/dev/urandom", "/proc",
    "/proc/1/mounts", "/work/p", "/root"],
  { "/lib": "/usr/lib", "/bin": "/usr/bin", "/etc/resolv.conf": "/run/resolve/resolv.conf", "/etc/mtab": "/proc/1/mounts", "/etc/npmrc": "/etc/shadow" },
);

test("minimal: the loader's directories and configuration, nothing else", () => {
  assert.deepEqual(presetInput("minimal", { cwd: "/work/p", host: HOST }), { fsReadable: ["/usr/lib", "/etc/ld.so.cache"] });
});

test("system: what exists, by real path, outermost only; links followed except into /proc; no secret", () => {
  const p = presetInput("system", { cwd: "/work/p", host: HOST });
  assert.deepEqual(p.fsReadable, ["/usr", "/opt", "/etc/ld.so.cache", "/etc/passwd", "/run/resolve/resolv.conf", "/etc/ssl/certs", "/etc/gitconfig", "/etc/python3.11", "/dev/urandom", "/proc"]);
  assert.deepEqual(p.fsWritable, ["/dev/null", "/dev/tty"]);
  const all = [...p.fsReadable!, ...p.fsWritable!];
  for (const s of SECRET_PATHS) assert.ok(!all.some((g) => g === s || g.startsWith(`${s}/`)), `${s} granted`);
  assert.ok(!all.includes("/etc/shadow"), "a link in /etc to /etc/shadow (npmrc here) is left out");
});

test("workspace: system, the working directory writable, privateTmp; / and the home directory refused", () => {
  const p = presetInput("workspace", { cwd: "/work/p", home: "/root", host: HOST });
  assert.deepEqual(p.fsWritable, ["/dev/null", "/dev/tty", "/work/p"]);
  assert.equal(p.privateTmp, true);
  assert.equal(p.netAllow, undefined, "no network");
  assert.throws(() => presetInput("workspace", { cwd: "/", host: HOST }), {
    field: "cwd", message: `preset "workspace": the working directory "/" would make the whole filesystem writable; run it from a project directory (or set cwd)`,
  });
  assert.throws(() => presetInput("workspace", { cwd: "/root", home: "/root", host: HOST }), /would make every user's files writable/);
  assert.throws(() => presetInput("workspace", { cwd: "/etc/ssh", host: HOST }), /would make secrets of the system writable/);
});

test("the hint's preset: the smallest that grants the file, none for a file no preset grants", () => {
  assert.equal(presetCovering("/usr/lib/ld-linux-x86-64.so.2", HOST), "minimal");
  assert.equal(presetCovering("/usr/bin/ls", HOST), "system", "minimal has the loader, not /usr/bin");
  assert.equal(presetCovering("/opt/tool/bin/tool", HOST), "system");
  assert.equal(presetCovering("/work/p/run.sh", HOST), undefined);
  assert.equal(presetCovering("/etc/shadow", HOST), undefined, "a secret");
  assert.equal(presetCovering("/usrx/bin/ls", HOST), undefined, "a prefix of a name is not a directory");
});

test("network variants add web and DNS rules", () => {
  assert.deepEqual(presetInput("system-net", { cwd: "/work/p", host: HOST }).netAllow, WEB_RULES);
  assert.deepEqual(presetInput("workspace-net", { cwd: "/work/p", host: HOST }).netAllow, WEB_RULES);
});

test("an unknown preset names the presets and the closest one", () => {
  assert.throws(() => presetInput("worksapce", { cwd: "/" }), {
    field: "preset", message: `preset: "worksapce" is not a preset (presets: ${PRESET_NAMES.join(", ")}) (did you mean "workspace"?)`,
  });
});

test("compose: lists add (without repeats), maps merge by key, scalars override", () => {
  const c = composeInputs(
    { fsReadable: ["/usr"], env: { A: "1", B: "2" }, maxProcesses: 8, protection: { disable: ["scopes"] } },
    { fsReadable: ["/usr", "/opt"], env: { B: "3" }, maxProcesses: 4, protection: { disable: ["ioctl-dev"] }, gpuDevices: "all" },
  );
  assert.deepEqual(c, { fsReadable: ["/usr", "/opt"], env: { A: "1", B: "3" }, maxProcesses: 4, protection: { disable: ["scopes", "ioctl-dev"] }, gpuDevices: "all" });
});

test("Policy.preset: overrides compose on top; the result is an ordinary validated policy", () => {
  const p = Policy.preset("system", { fsWritable: ["/tmp"], maxProcesses: 10, cleanEnv: true });
  assert.ok(p.fsReadable.includes("/proc"));
  assert.ok(p.fsWritable.includes("/dev/null") && p.fsWritable.includes("/tmp"));
  assert.equal(p.maxProcesses, 10);
  assert.equal(p.cleanEnv, true);
  const w = Policy.preset("workspace", { cwd: "/tmp" });
  assert.ok(w.fsWritable.includes("/tmp"));
  assert.equal(w.privateTmp, true);
  assert.deepEqual(Policy.fromJSON(JSON.stringify(w)).toJSON(), w.toJSON(), "round trip through JSON");
  assert.throws(() => Policy.preset("system", { maxCpu: 500 }), { field: "maxCpu" });
});

test("without a supervisor the presets leave /proc out (only the supervisor's view may show it)", () => {
  for (const name of ["system", "workspace", "system-net", "workspace-net"]) {
    const p = presetInput(name, { cwd: "/work/p", home: "/root", host: HOST, unsupervised: true });
    assert.ok(!p.fsReadable!.includes("/proc"), `${name} without /proc`);
    assert.ok(presetInput(name, { cwd: "/work/p", home: "/root", host: HOST }).fsReadable!.includes("/proc"), `${name} has /proc with one`);
  }
  const policy = Policy.preset("system", { supervisor: false });
  assert.equal(policy.supervisor, false);
  assert.ok(!policy.fsReadable.includes("/proc"));
});
