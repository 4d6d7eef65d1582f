// Named unix sockets reach only what lies beneath a writable grant, against host echo
// servers the runner starts (one under the writable directory, one under a read-only
// grant, one outside every grant): by path, relative path, symlink, and a symlink swapped
// while connecting. Descriptor passing works, credential passing and abstract names not.

import assert from "node:assert/strict";
import { answer, securityCase, byView } from "../helpers/harness.js";

const probe = (...args: string[]): string[] => ["${PROBE}", ...args];
const grants = { fsReadable: ["${PROBE}", "${UNIX_RO}"], fsWritable: ["${UNIX_WRITE}"] };

securityCase(
  "a unix listener under the writable grant is reached (stream connect, echo)",
  { fixtures: ["unix"], policy: grants, cmd: probe("unix-connect", "${UNIX_WRITE}/in.sock") },
  (o) => {
    assert.equal(answer(o), "ok ping");
    assert.equal(o.observed.unixIn_accepted, 1);
  },
);

securityCase(
  "a relative path from the working directory is resolved like the kernel would, and allowed beneath the grant",
  { fixtures: ["unix"], policy: { ...grants, cwd: "${UNIX_WRITE}" }, cmd: probe("unix-connect", "in.sock") },
  (o) => {
    assert.equal(answer(o), "ok ping");
    assert.equal(o.observed.unixIn_accepted, 1);
  },
);

securityCase(
  "a host unix listener outside every grant is refused (EACCES)",
  { fixtures: ["unix"], policy: grants, cmd: probe("unix-connect", "${UNIX_OUT}/out.sock") },
  (o) => {
    // Outside the grants: Landlock's EACCES, or ENOENT under the kernel view (absent from its root).
    assert.equal(answer(o), byView(o, "EACCES", "ENOENT"));
    assert.equal(o.observed.unixOut_accepted, 0);
  },
);

securityCase(
  "a unix listener under a read-only grant is refused (EACCES)",
  { fixtures: ["unix"], policy: grants, cmd: probe("unix-connect", "${UNIX_RO}/ro.sock") },
  (o) => {
    assert.equal(answer(o), "EACCES");
    assert.equal(o.observed.unixRo_accepted, 0);
  },
);

securityCase(
  "a symlink inside the writable grant pointing outside is refused, and so is ../ from the grant",
  {
    fixtures: ["unix"],
    policy: { ...grants, fsReadable: [...grants.fsReadable, "/bin", "/usr", "/lib", "/lib64"], cwd: "${UNIX_WRITE}" },
    cmd: ["/bin/sh", "-c", '"$0" unix-connect "$1/link"; "$0" unix-connect ../out/out.sock; "$0" unix-connect "$1/../out/out.sock"', "${PROBE}", "${UNIX_WRITE}"],
  },
  (o) => {
    assert.equal(o.result?.stdout, byView(o, "EACCES\nEACCES\nEACCES\n", "ENOENT\nENOENT\nENOENT\n"));
    assert.equal(o.observed.unixOut_accepted, 0);
  },
);

securityCase(
  "datagrams to a named socket outside the grants are refused by sendto and sendmsg",
  {
    fixtures: ["unix"],
    policy: { ...grants, fsReadable: [...grants.fsReadable, "/bin", "/usr", "/lib", "/lib64"] },
    // A stream listener: reached, a datagram would get EPROTOTYPE from the kernel.
    cmd: ["/bin/sh", "-c", '"$0" unix-dgram "$1/out.sock"; "$0" unix-dgram-msg "$1/out.sock"; "$0" unix-dgram "$2/in.sock"', "${PROBE}", "${UNIX_OUT}", "${UNIX_WRITE}"],
  },
  (o) => assert.equal(o.result?.stdout, byView(o, "EACCES\nEACCES\nEPROTOTYPE\n", "ENOENT\nENOENT\nEPROTOTYPE\n")),
);

securityCase(
  "a symlink swapped between a socket inside and one outside while connecting never reaches outside",
  {
    fixtures: ["unix"],
    policy: grants,
    cmd: probe("unix-swap", "1000", "${UNIX_WRITE}/race", "${UNIX_WRITE}/in.sock", "${UNIX_OUT}/out.sock"),
    timeout: 20_000,
  },
  (o) => {
    const m = /^connects (\d+) ok (\d+)$/.exec(answer(o));
    assert.ok(m, answer(o));
    assert.equal(o.observed.unixOut_accepted, 0);
    // Control in the same run: the swaps that pointed inside did connect.
    assert.ok(Number(m[2]) > 0, answer(o));
    assert.equal(o.observed.unixIn_accepted, Number(m[2]));
  },
);

securityCase(
  "inside one sandbox: stream connect, SCM_RIGHTS passing and datagrams by relative name under the writable grant",
  { fixtures: ["unix"], policy: grants, cmd: probe("unix-self", "${UNIX_WRITE}") },
  (o) => assert.equal(answer(o), "stream ok rights ok dgram ok"),
);

securityCase(
  "SCM_CREDENTIALS is refused (EPERM): a send the supervisor performs could claim any identity",
  { policy: { fsReadable: ["${PROBE}"] }, cmd: probe("unix-creds") },
  (o) => assert.equal(answer(o), "plain ok creds EPERM"),
);

securityCase(
  "abstract unix sockets are refused (EPERM), even the sandbox's own: a listener on an abstract name would serve the host's clients (the twentieth review)",
  { policy: { fsReadable: ["${PROBE}"] }, cmd: probe("unix-abstract-self", "sandlock-test-${RUNNER_PID}") },
  (o) => assert.equal(answer(o), "listen EPERM"),
);

securityCase(
  "control: with the abstract-socket scope disabled, the sandbox's own abstract socket is reached",
  { policy: { fsReadable: ["${PROBE}"], protection: { disable: ["scopes"] } }, cmd: probe("unix-abstract-self", "sandlock-test-${RUNNER_PID}") },
  (o) => assert.equal(answer(o), "ok"),
);

securityCase(
  "control: with the filesystem protection disabled, named sockets anywhere are reached",
  { fixtures: ["unix"], policy: { fsReadable: ["${PROBE}"], protection: { disable: ["fs"] } }, cmd: probe("unix-connect", "${UNIX_OUT}/out.sock") },
  (o) => {
    assert.equal(answer(o), "ok ping");
    assert.equal(o.observed.unixOut_accepted, 1);
  },
);

securityCase(
  "a send the supervisor performs on a broken stream raises SIGPIPE as the kernel would (not with MSG_NOSIGNAL)",
  { policy: { fsReadable: ["${PROBE}"] }, cmd: probe("unix-epipe") },
  (o) => {
    assert.equal(o.result?.stdout, "nosignal EPIPE\n");
    assert.equal(o.result?.status, "signaled");
    assert.equal(o.result?.signal, "SIGPIPE");
  },
);
