// Abstract unix names where the sandbox shares the host's network namespace (the supervised
// view, the scope protection in force; handlers/net.ts unixBind), as root and as the test
// user. A datagram socket bound to an abstract name of the sandbox's choosing received what
// the host's processes sent to that name (the twentieth review; the control shows it
// without a sandbox): such a bind is now EPERM, a stream socket's too (a name bound is also
// kept from a host service), while an autobind and a bind to a path under a writable grant
// work. The kernel view has a network namespace of its own: binds there are its own, and
// the host's datagram does not reach them. The race of a thread that turns the path of a
// bind into an abstract name after the supervisor's look is open (the bind of a path
// continues, and the kernel reads the address again): its case is a todo with what it won.

import assert from "node:assert/strict";
import { scriptCase } from "../helpers/harness.js";
import { buildStaged } from "../helpers/stage.js";

buildStaged("abstract-names.c", "sl-abstract-names");
const SCRIPT = "dist/test/scripts/abstract-names-case.js";
const FIXTURE = "${STAGE}/sl-abstract-names";

type View = {
  dgram: { procView: string; exitCode: number; got: Record<string, string>; refused: { errno: string; target: string; why: string }[]; host: Record<string, string> | null };
  stream: { got: Record<string, string> };
  autobind: { got: Record<string, string> };
  path: { got: Record<string, string> };
  race: { tries: number; path: number; abstract: number; refused: number };
};
type Out = { supervised: View; kernel: View; bare: { got: Record<string, string>; host: Record<string, string> | null } };

scriptCase(
  "abstract unix names: a sandbox sharing the host's network namespace cannot bind one (EPERM, datagram and stream), so the host's datagram to it reaches nothing; an autobind and a path bind work; the kernel view's are its own",
  SCRIPT,
  [FIXTURE, "300"],
  (out: Out) => {
    const msg = JSON.stringify(out);
    // The control: without a sandbox the bind works and the host's datagram arrives.
    assert.deepEqual([out.bare.got.dgram_bind, out.bare.host?.sent, out.bare.got.received], ["ok", "ok", "1"], `control: ${msg}`);
    const s = out.supervised;
    assert.equal(s.dgram.procView, "supervised", msg);
    assert.equal(s.dgram.got.dgram_bind, "EPERM", msg);
    assert.equal(s.dgram.host?.sent, "ECONNREFUSED", `the host's datagram reaches no socket: ${msg}`);
    assert.deepEqual(s.dgram.refused.map((r) => [r.errno, r.target]), [["EPERM", "abstract unix name"]], msg);
    assert.match(s.dgram.refused[0]!.why, /^an abstract name is shared with the host: a socket bound there would receive what the host's processes send to that name/, msg);
    assert.equal(s.stream.got.stream_bind, "EPERM", msg);
    // The kernel view: its own network namespace.
    const k = out.kernel;
    assert.equal(k.dgram.procView, "kernel", msg);
    assert.equal(k.dgram.got.dgram_bind, "ok", msg);
    assert.equal(k.dgram.host?.sent, "ECONNREFUSED", `the host's datagram does not reach the kernel view's name: ${msg}`);
    assert.equal(k.dgram.got.received, "0", msg);
    assert.equal(k.stream.got.stream_bind, "ok", msg);
    for (const [view, v] of [["supervised", s], ["kernel", k]] as const) {
      assert.equal(v.autobind.got.autobind, "ok", `${view}: ${msg}`);
      assert.match(v.autobind.got.autobind_name ?? "", /^@[0-9a-f]{5}$/, `${view}: ${msg}`);
      assert.equal(v.path.got.path_bind, "ok", `${view}: ${msg}`);
      assert.ok(v.race.tries > 1000 && v.race.path > 0, `${view}: the race ran, and binds of the path went through: ${msg}`);
    }
    // Control for the race below: in the kernel view the flipped address binds the abstract
    // name (its own), so the race case would see a win.
    assert.ok(k.race.abstract > 0, `kernel view: ${msg}`);
  },
  120_000,
);

scriptCase(
  "open: a thread that turns a bind's path into an abstract name after the supervisor's look binds it in the supervised view (the path's bind continues; the kernel reads the address again): 0 expected",
  SCRIPT,
  [FIXTURE, "1500"],
  (out: Out) => {
    const r = out.supervised.race;
    assert.ok(r.tries > 1000 && r.refused > 0, `the race ran and the supervisor refused some binds: ${JSON.stringify(r)}`);
    assert.equal(r.abstract, 0, `binds that got the abstract name: ${JSON.stringify(r)}`);
  },
  120_000,
  "the bind of a path continues, and the kernel reads the address again: a racing thread still binds an abstract name (1,750 of 40,088 binds in 1.5 s here); making path binds without a continue is next (security.md, Known limits)",
);
