// Domain rules end to end (issue 13): local HTTPS and HTTP servers with names given by the
// proxy's test-only resolver table, and one sandbox running every client check (curl with
// and without the proxy variables, node, the probe's hand-made ClientHellos). The bare
// runs are the positive controls. Prints one JSON line.
// Usage: proxy-case.js PROBE

import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer as createHttp } from "node:http";
import { createServer as createHttps } from "node:https";
import type { AddressInfo, Server } from "node:net";
import { promisify } from "node:util";
import { Sandbox } from "../../src/index.js";
import { TEST_HOSTS_ENV } from "../../src/proxy/resolver.js";

const run = promisify(execFile);
const [probe] = process.argv.slice(2) as [string];

function listen(server: Server, host: string, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
}

async function main(): Promise<void> {
  const dir = mkdtempSync("/tmp/sandlock-proxy-");
  const servers: Server[] = [];
  try {
    execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", `${dir}/key.pem`, "-out", `${dir}/cert.pem`, "-days", "2",
      "-subj", "/CN=example.test", "-addext", "subjectAltName=DNS:*.example.test,DNS:example.test"], { stdio: "ignore" });
    const tls = { key: readFileSync(`${dir}/key.pem`), cert: readFileSync(`${dir}/cert.pem`) };
    const hello = (req: { headers: { host?: string } }, res: { end(s: string): void }): void => res.end(`hello ${req.headers.host}\n`);
    const https1 = createHttps(tls, hello);
    const https2 = createHttps(tls, hello);
    const http = createHttp(hello);
    servers.push(https1, https2, http);
    const P = await listen(https1, "127.0.0.1");
    // The same service on another address: where a fronted connection would land.
    await listen(https2, "127.0.0.2", P);
    const H = await listen(http, "127.0.0.1");
    process.env[TEST_HOSTS_ENV] = JSON.stringify({ "api.example.test": ["127.0.0.1"], "www.example.test": ["127.0.0.1"], "evil.example.org": ["127.0.0.1"] });
    const C = `${dir}/cert.pem`;
    const checks: [string, string][] = [
      ["allowed", `curl -sS --noproxy '*' --cacert ${C} https://api.example.test:${P}/`],
      ["allowedExplicit", `curl -sS --cacert ${C} https://api.example.test:${P}/`],
      ["allowedNode", `node -e "require('https').get({host:'api.example.test',port:${P},ca:require('fs').readFileSync('${C}')},r=>r.pipe(process.stdout)).on('error',e=>console.log(e.code))"`],
      ["dnsAllowed", `getent hosts api.example.test`],
      ["dnsOutside", `getent hosts evil.example.org`],
      ["sniOutside", `curl -sS --noproxy '*' -k --resolve evil.example.org:${P}:127.0.0.1 https://evil.example.org:${P}/`],
      ["explicitOutside", `curl -sS -k https://evil.example.org:${P}/`],
      ["noSni", `${probe} tls-hello 127.0.0.1 ${P} - plain`],
      ["ech", `${probe} tls-hello 127.0.0.1 ${P} api.example.test ech`],
      ["helloControl", `${probe} tls-hello 127.0.0.1 ${P} api.example.test plain`],
      ["fronting", `curl -sS --noproxy '*' --cacert ${C} --resolve api.example.test:${P}:127.0.0.2 https://api.example.test:${P}/`],
      ["httpAllowed", `curl -sS --noproxy '*' http://www.example.test:${H}/`],
      ["httpExplicit", `curl -sS http://www.example.test:${H}/`],
      ["httpHostOutside", `curl -sS --noproxy '*' -H 'Host: evil.example.org' http://www.example.test:${H}/`],
    ];
    // Each line: NAME=rc=CODE FIRST-LINE-OF-OUTPUT (stderr included: curl's error). The first
    // line is cut by the shell itself, not by a pipeline: under a loaded host, a fork of the
    // test user's sandbox can still fail with EINTR (interrupted.test.ts, a known limit), and
    // an empty `$(echo | head)` then read as an empty answer from the proxy.
    const script = ["nl='\n'", ...checks.map(([k, cmd]) => `out=$(${cmd} 2>&1); rc=$?; echo "${k}=rc=$rc \${out%%"$nl"*}"`)].join("\n");
    const policy = { fsReadable: ["/"], netAllow: [`https://*.example.test:${P}`, `http://*.example.test:${H}`] };
    const r = await Sandbox.run(policy, ["sh", "-c", script], { timeout: 60_000 });
    const lines: Record<string, string> = {};
    for (const line of r.stdoutText.split("\n")) {
      const eq = line.indexOf("=");
      if (eq > 0) lines[line.slice(0, eq)] = line.slice(eq + 1);
    }
    // Positive controls, unsandboxed: the fronted address serves the name, and the server
    // answers a ClientHello without SNI and one offering ECH.
    const bare = async (cmd: string, args: string[]): Promise<string> => (await run(cmd, args)).stdout.trim();
    const controls = {
      fronting: await bare("curl", ["-sS", "--noproxy", "*", "--cacert", C, "--resolve", `api.example.test:${P}:127.0.0.2`, `https://api.example.test:${P}/`]),
      noSni: await bare(probe, ["tls-hello", "127.0.0.1", String(P), "-", "plain"]),
      ech: await bare(probe, ["tls-hello", "127.0.0.1", String(P), "api.example.test", "ech"]),
    };
    console.log(JSON.stringify({ P, H, status: r.status, exitCode: r.exitCode, lines, stderr: r.stderrText, network: r.network, refused: r.refused, controls }));
  } finally {
    for (const s of servers) s.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.log(JSON.stringify({ error: String((e as Error).stack ?? e) }));
});
