// portRemap once the sandbox's server is gone (root and the test user): the host port it
// was given is free again, and a host process takes it; the sandbox's connect to the port
// it asked for must not be carried there (its policy allowed the port it named). The
// control is the same connect while its own server listens: it reaches that server.

import assert from "node:assert/strict";
import { scriptCase } from "../helpers/harness.js";

scriptCase("portRemap: a host port the sandbox was given and gave up is never where its later connects go", "dist/test/scripts/stale-remap-case.js", [], (o) => {
  assert.equal(o.mapping.length, 1, JSON.stringify(o));
  assert.notEqual(o.mapping[0].hostPort, o.port);
  assert.equal(o.takerError, "", "the host process took the port the sandbox had");
  const lines = o.out.split("\n");
  assert.equal(lines[0], "own OWN", `control: the mapping carries a connect to the sandbox's own server (${o.err})`);
  assert.equal(lines[1], "closed");
  assert.match(lines[2] ?? "", /^after /, o.err);
  assert.notEqual(lines[2], "after HOST-OTHER", "the connect reached the host process on the port the sandbox had been given");
  assert.equal(lines[2], "after HOST-ASKED", "it reaches what the port it named is on the host");
});
