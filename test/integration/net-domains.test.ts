// Domain rules through the filtering proxy (issue 13), as root and as the test user: one
// sandbox runs every client check against local HTTPS/HTTP servers (test/scripts/
// proxy-case.ts); the unsandboxed runs of the refused requests are the positive controls.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { test } from "node:test";
import { scriptCase } from "../helpers/harness.js";

function has(cmd: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

interface Out {
  error?: string;
  P: number;
  H: number;
  status: string;
  lines: Record<string, string>;
  network: { proxy: string; refused: { destination: string; name: string | null; reason: string; count: number }[] } | null;
  refused: { syscall: string; errno: string; target: string; why: string }[];
  controls: Record<string, string>;
}

const missing = ["openssl", "curl", "getent"].filter((c) => !has(c));
if (missing.length > 0) {
  test("domain rules through the filtering proxy", { skip: `needs ${missing.join(", ")}` }, () => undefined);
} else {
  scriptCase("domain rules: allowed names pass the proxy; no SNI, ECH, other names, fronting and other Hosts are refused and reported", "dist/test/scripts/proxy-case.js", ["${PROBE}"], (out: Out) => {
    assert.equal(out.error, undefined, out.error);
    const { P, H, lines: l } = out;
    assert.equal(out.status, "exited");
    // Allowed: a client ignoring the proxy variables (steered), one using them, node.
    assert.equal(l.allowed, `rc=0 hello api.example.test:${P}`);
    assert.equal(l.allowedExplicit, `rc=0 hello api.example.test:${P}`);
    assert.equal(l.allowedNode, `rc=0 hello api.example.test:${P}`);
    assert.match(l.dnsAllowed!, /^rc=0 127\.0\.0\.1\s+api\.example\.test$/);
    assert.equal(l.httpAllowed, `rc=0 hello www.example.test:${H}`);
    assert.equal(l.httpExplicit, `rc=0 hello www.example.test:${H}`);
    // The probe's own ClientHello passes with an allowed SNI: the refusals below are the
    // proxy's reading of the same bytes.
    assert.equal(l.helloControl, "rc=0 server-hello");
    // Refused. A name outside the rules does not resolve (getent: 2, "not found").
    assert.equal(l.dnsOutside, "rc=2 ");
    assert.match(l.sniOutside!, /^rc=35 .*reset/);
    assert.match(l.explicitOutside!, /^rc=56 .*403/);
    assert.equal(l.noSni, "rc=0 ECONNRESET");
    assert.equal(l.ech, "rc=0 ECONNRESET");
    assert.match(l.fronting!, /^rc=35 .*reset/);
    assert.match(l.httpHostOutside!, /^rc=56 .*reset/);
    // Positive controls: unsandboxed, the same requests are answered.
    assert.equal(out.controls.fronting, `hello api.example.test:${P}`);
    assert.equal(out.controls.noSni, "server-hello");
    assert.equal(out.controls.ech, "server-hello");
    // The report: one entry per refusal, with its reason.
    const reasons = (out.network?.refused ?? []).map((r) => `${r.destination} ${r.name} ${r.reason}`);
    assert.deepEqual(reasons.sort(), [
      `127.0.0.1:${H} evil.example.org Host not allowed by netAllow on port ${H}`,
      `127.0.0.1:${P} api.example.test Encrypted Client Hello offered (the real name is hidden)`,
      `127.0.0.1:${P} evil.example.org SNI not allowed by netAllow on port ${P}`,
      `127.0.0.1:${P} null no SNI in the ClientHello`,
      `127.0.0.2:${P} api.example.test 127.0.0.2 is not an address of api.example.test (domain fronting or DNS rebinding)`,
      `CONNECT evil.example.org:${P} evil.example.org not allowed by netAllow on port ${P}`,
      `dns evil.example.org name not covered by netAllow`,
    ].sort());
    assert.match(out.network!.proxy, /^127\.0\.0\.1:\d+$/);
    // Also in RunResult.refused, as connections reset.
    assert.ok(out.refused.some((r) => r.errno === "ECONNRESET" && r.target === `127.0.0.1:${P} over tcp` && r.why === "no SNI in the ClientHello"));
  }, 120_000);
}
