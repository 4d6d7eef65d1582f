// Landlock TCP port rules against real listeners the runner starts on loopback: connect
// and bind are denied without a rule, allowed on the ports a rule names.

import assert from "node:assert/strict";
import { answer, securityCase } from "../helpers/harness.js";

const probe = (...args: string[]): string[] => ["${PROBE}", ...args];
const base = { fsReadable: ["${PROBE}"] };

securityCase(
  "with no rule, TCP connect is denied",
  { fixtures: ["tcp"], policy: base, cmd: probe("connect-tcp", "127.0.0.1", "${TCP_OK}") },
  (o) => {
    assert.equal(answer(o), "EACCES");
    assert.equal(o.observed.TCP_OK_accepted, 0);
  },
);

securityCase(
  "connect to an allowed port works and exchanges data",
  { fixtures: ["tcp"], policy: { ...base, netAllow: ["tcp://:${TCP_OK}"] }, cmd: probe("connect-tcp", "127.0.0.1", "${TCP_OK}") },
  (o) => {
    assert.equal(o.result?.stdout, "ok ping\n");
    assert.equal(o.observed.TCP_OK_accepted, 1);
  },
);

securityCase(
  "connect to a port not allowed is EACCES, though a server listens there",
  { fixtures: ["tcp"], policy: { ...base, netAllow: ["tcp://:${TCP_OK}"] }, cmd: probe("connect-tcp", "127.0.0.1", "${TCP_DENIED}") },
  (o) => {
    assert.equal(answer(o), "EACCES");
    assert.equal(o.observed.TCP_DENIED_accepted, 0);
  },
);

securityCase(
  "a port list allows each of its ports",
  { fixtures: ["tcp"], policy: { ...base, netAllow: ["tcp://*:${TCP_DENIED},${TCP_OK}"] }, cmd: probe("connect-tcp", "127.0.0.1", "${TCP_DENIED}") },
  (o) => assert.equal(answer(o), "ok ping"),
);

securityCase(
  "tcp://* allows every port",
  { fixtures: ["tcp"], policy: { ...base, netAllow: ["tcp://*"] }, cmd: probe("connect-tcp", "127.0.0.1", "${TCP_DENIED}") },
  (o) => assert.equal(answer(o), "ok ping"),
);

securityCase("with no rule, bind is denied", { fixtures: ["ports"], policy: base, cmd: probe("bind-tcp", "${BIND_OK}") }, (o) =>
  assert.equal(answer(o), "EACCES"),
);

securityCase(
  "bind on an allowed port works",
  { fixtures: ["ports"], policy: { ...base, netAllowBind: ["${BIND_OK}"] }, cmd: probe("bind-tcp", "${BIND_OK}") },
  (o) => assert.equal(answer(o), "ok"),
);

securityCase(
  "bind on a port not allowed is EACCES",
  { fixtures: ["ports"], policy: { ...base, netAllowBind: ["${BIND_OK}"] }, cmd: probe("bind-tcp", "${BIND_DENIED}") },
  (o) => assert.equal(answer(o), "EACCES"),
);

securityCase(
  "a connect rule does not allow bind on the same port",
  { fixtures: ["ports"], policy: { ...base, netAllow: ["tcp://:${BIND_OK}"] }, cmd: probe("bind-tcp", "${BIND_OK}") },
  (o) => assert.equal(answer(o), "EACCES"),
);

securityCase(
  "a bind range allows the ports inside it",
  { fixtures: ["ports"], policy: { ...base, netAllowBind: ["${BIND_OK}-${BIND_OK}"] }, cmd: probe("bind-tcp", "${BIND_OK}") },
  (o) => assert.equal(answer(o), "ok"),
);
