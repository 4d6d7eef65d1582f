// The eighth review, part A: the domain proxy and the sandbox's DNS. One scenario per run,
// printing one JSON line (test/integration/redteam8a.test.ts asserts on it):
// - held: every request of test/fixtures/red8a-client.cjs (Host/SNI games, wildcards,
//   CONNECT, absolute URIs, bare line ends, other destinations), in a sandbox and bare;
// - dns: a program that writes DNS queries over TCP and never reads the answers, and the
//   supervisor's memory meanwhile; then one that reads them all (the control);
// - conns: a program that opens many connections through the proxy and holds them, and
//   the supervisor's threads and descriptors meanwhile;
// - revoke: a connection to the explicit proxy opened before policyFn revokes the network,
//   used after.
// - bigdns: a name with more addresses than one DNS answer holds;
// - dnsnul: DNS questions with a NUL in a label, under the host's resolver;
// - dnsrevoke: a DNS connection opened before policyFn's restrictNetwork([]), asked after it;
// Usage: red8a-case.js held|dns|conns|revoke|bigdns|dnsnul|dnsrevoke

import { execFile } from "node:child_process";
import { createSocket } from "node:dgram";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, copyFileSync } from "node:fs";
import { createServer as createHttps } from "node:https";
import { createServer as createTcp, type AddressInfo, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { execFileSync } from "node:child_process";
import { Sandbox } from "../../src/index.js";
import { TEST_HOSTS_ENV } from "../../src/proxy/resolver.js";

const run = promisify(execFile);
const scenario = process.argv[2];
const here = new URL(".", import.meta.url).pathname;

function listen(server: Server, host: string, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
}

/** A lenient HTTP/1.1 server, as nginx reads a head: a bare LF ends a line too; the
 * absolute URI's host wins over Host, the last Host wins over earlier ones. It answers
 * with the host it served, honours Connection: close, and records every host it served. */
function lenientHttp(served: string[]): Server {
  return createTcp((c: Socket) => {
    let buf = "";
    c.on("error", () => undefined);
    c.on("data", (d: Buffer) => {
      buf += d.toString("latin1");
      for (let end; (end = buf.search(/\r?\n\r?\n/)) >= 0; ) {
        const head = buf.slice(0, end);
        buf = buf.slice(end).replace(/^\r?\n\r?\n/, "");
        const lines = head.split(/\r?\n/);
        const target = lines[0]!.split(" ")[1] ?? "";
        let host = "";
        let close = false;
        for (const l of lines.slice(1)) {
          const m = /^([^:]+):\s*(.*?)\s*$/.exec(l);
          if (m === null) continue;
          if (m[1]!.toLowerCase() === "host") host = m[2]!;
          if (m[1]!.toLowerCase() === "connection" && /close/i.test(m[2]!)) close = true;
        }
        const abs = /^[a-z]+:\/\/([^/]*)/i.exec(target);
        if (abs !== null) host = abs[1]!;
        served.push(host);
        c.write(`HTTP/1.1 200 OK\r\nContent-Length: ${host.length + 1}\r\n\r\n${host}\n`);
        if (close) return void c.end();
      }
    });
  });
}

function threadsAndFds(): { threads: number; fds: number } {
  const threads = Number(/Threads:\s+(\d+)/.exec(readFileSync("/proc/self/status", "latin1"))![1]);
  return { threads, fds: readdirSync("/proc/self/fd").length };
}

async function held(): Promise<unknown> {
  const dir = mkdtempSync("/tmp/sandlock-red8a-");
  const servers: Server[] = [];
  try {
    execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", `${dir}/key.pem`, "-out", `${dir}/cert.pem`, "-days", "2",
      "-subj", "/CN=example.test", "-addext", "subjectAltName=DNS:*.example.test,DNS:example.test"], { stdio: "ignore" });
    const tls = { key: readFileSync(`${dir}/key.pem`), cert: readFileSync(`${dir}/cert.pem`) };
    const https = createHttps(tls, (req, res) => res.end(`hello ${req.headers.host}\n`));
    const served: string[] = [];
    const http = lenientHttp(served);
    const secret = createTcp((c) => c.end("secret\n"));
    servers.push(https, http, secret);
    const P = await listen(https, "127.0.0.1");
    const H = await listen(http, "127.0.0.1");
    const S = await listen(secret, "127.0.0.1");
    const udp = createSocket("udp4");
    udp.on("message", (m, from) => udp.send(`pong ${m}`, from.port, from.address));
    const U = await new Promise<number>((r) => udp.bind(0, "127.0.0.1", () => r(udp.address().port)));
    const names = ["api.example.test", "a.b.example.test", "example.test", "evilexample.test", "example.test.evil.org", "www.example.test", "evil.example.org"];
    process.env[TEST_HOSTS_ENV] = JSON.stringify(Object.fromEntries(names.map((n) => [n, ["127.0.0.1"]])));
    const client = join(dir, "client.cjs");
    // Staged: ${STAGE}/fixtures; from a checkout's dist: test/fixtures.
    const staged = join(here, "../../../fixtures/red8a-client.cjs");
    copyFileSync(existsSync(staged) ? staged : join(here, "../../../test/fixtures/red8a-client.cjs"), client);
    const cfg = JSON.stringify({ P, H, S, U });
    const policy = { fsReadable: ["/"], netAllow: [`https://*.example.test:${P}`, `http://www.example.test:${H}`] };
    const r = await Sandbox.run(policy, [process.execPath, client, cfg], { timeout: 120_000 });
    const inside = JSON.parse(r.stdoutText.trim().split("\n").pop() ?? "{}") as Record<string, string>;
    const servedInside = [...served];
    served.length = 0;
    const bare = JSON.parse((await run(process.execPath, [client, cfg], { env: { PATH: process.env.PATH } })).stdout.trim()) as Record<string, string>;
    udp.close();
    return { P, H, S, status: r.status, stderr: r.stderrText.slice(0, 2000), inside, bare, servedInside, servedBare: served, refused: r.network?.refused ?? [] };
  } finally {
    for (const s of servers) s.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Queries for a.example.test over TCP, written for 10 s and never read (a new connection
 * when one is reset); the writer keeps at most 1 MiB unsent of its own, so what leaves it
 * is what the kernel (and behind it the supervisor) took. Then a reader's control: 2,000
 * queries on one connection, every answer read. */
async function dns(): Promise<unknown> {
  process.env[TEST_HOSTS_ENV] = JSON.stringify({ "a.example.test": ["127.0.0.1"] });
  const query = "[0,0,0x12,0x34,1,0,0,1,0,0,0,0,0,0,1,97,7,...Buffer.from('example'),4,...Buffer.from('test'),0,0,1,0,1]";
  const writer = `
const net=require('net'); const q=Buffer.from(${query}); q.writeUInt16BE(q.length-2,0);
const batch=Buffer.concat(Array(100).fill(q)); let taken=0, resets=0; const end=Date.now()+10000;
const open=()=>{ let sent=0; const s=net.connect({host:'10.9.9.9',port:53},()=>{ s.pause(); const go=()=>{ if(s.destroyed) return; if(Date.now()>end){ console.log(JSON.stringify({taken:taken+sent-s.writableLength,resets})); process.exit(0);} if(s.writableLength<(1<<20)){ s.write(batch); sent+=batch.length; } setTimeout(go,2); }; go(); });
  s.on('error',()=>{ resets++; taken+=sent-s.writableLength; open(); }); };
open();`;
  const reader = `
const net=require('net'); const q=Buffer.from(${query}); q.writeUInt16BE(q.length-2,0);
let answers=0, buf=Buffer.alloc(0); const s=net.connect({host:'10.9.9.9',port:53},()=>s.write(Buffer.concat(Array(2000).fill(q))));
s.on('data',d=>{ buf=Buffer.concat([buf,d]); while(buf.length>=2&&buf.length>=2+buf.readUInt16BE(0)){ const m=buf.subarray(2,2+buf.readUInt16BE(0)); if(m.readUInt16BE(6)===1&&m[m.length-4]===127) answers++; buf=buf.subarray(2+m.length);} if(answers===2000){ console.log(JSON.stringify({answers})); process.exit(0);} });
s.on('error',e=>{ console.log(JSON.stringify({error:e.code,answers})); process.exit(0); });
setTimeout(()=>{ console.log(JSON.stringify({answers})); process.exit(0); },20000);`;
  const policy = { fsReadable: ["/"], netAllow: ["https://*.example.test"] };
  global.gc?.();
  const base = process.memoryUsage().rss;
  let peak = base;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
  const w = await Sandbox.run(policy, [process.execPath, "-e", writer], { timeout: 60_000 });
  clearInterval(timer);
  const rd = await Sandbox.run(policy, [process.execPath, "-e", reader], { timeout: 60_000 });
  const last = (t: string): unknown => JSON.parse(t.trim().split("\n").pop() || "{}");
  return { writer: last(w.stdoutText), writerStderr: w.stderrText.slice(0, 500), reader: last(rd.stdoutText), growthMiB: Math.round((peak - base) / 1048576) };
}

/** N TLS connections with an allowed SNI, held open for a few seconds. */
async function conns(): Promise<unknown> {
  const N = 600;
  const heldSockets: Socket[] = [];
  const server = createTcp((c) => {
    heldSockets.push(c);
    c.on("error", () => undefined);
  });
  const P = await listen(server, "127.0.0.1");
  process.env[TEST_HOSTS_ENV] = JSON.stringify({ "a.example.test": ["127.0.0.1"] });
  const program = `
const tls=require('tls'); let errors=0; const keep=[];
for(let i=0;i<${N};i++){ const s=tls.connect({host:'127.0.0.1',port:${P},servername:'a.example.test',rejectUnauthorized:false}); s.on('error',()=>errors++); keep.push(s); }
setTimeout(()=>{ console.log(JSON.stringify({errors})); process.exit(0); },6000);`;
  const before = threadsAndFds();
  const peak = { ...before };
  const timer = setInterval(() => {
    const now = threadsAndFds();
    peak.threads = Math.max(peak.threads, now.threads);
    peak.fds = Math.max(peak.fds, now.fds);
  }, 100);
  const r = await Sandbox.run({ fsReadable: ["/"], netAllow: [`https://*.example.test:${P}`] }, [process.execPath, "-e", program], { timeout: 60_000 });
  clearInterval(timer);
  const reached = heldSockets.length;
  for (const s of heldSockets) s.destroy();
  server.close();
  // The same program bare: every connection reaches the server (the control).
  const bareHeld: Socket[] = [];
  const bareServer = createTcp((c) => {
    bareHeld.push(c);
    c.on("error", () => undefined);
  });
  const B = await listen(bareServer, "127.0.0.1");
  await run(process.execPath, ["-e", program.replaceAll(String(P), String(B))]);
  const bareReached = bareHeld.length;
  for (const s of bareHeld) s.destroy();
  bareServer.close();
  return { N, before, peak, reached, bareReached, out: r.stdoutText.trim(), refused: r.network?.refused ?? [] };
}

/** A connection to the explicit proxy opened before policyFn revokes the network
 * (ctx.restrictNetwork([]) at the first connect), used after it for an absolute-form
 * request; new connections after the revocation are the in-sandbox comparison. The same
 * program under a policyFn that revokes nothing is the positive control. */
async function revoke(): Promise<unknown> {
  const served: string[] = [];
  const server = createTcp((c) => {
    c.on("error", () => undefined);
    c.on("data", (d: Buffer) => {
      served.push(d.toString("latin1").split("\r\n")[0]!);
      c.end("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nhi\n");
    });
  });
  const H = await listen(server, "127.0.0.1");
  process.env[TEST_HOSTS_ENV] = JSON.stringify({ "www.example.test": ["127.0.0.1"] });
  const program = `
const net=require('net'); const u=new URL(process.env.HTTP_PROXY); const out={};
const first=net.connect({host:u.hostname,port:Number(u.port)});
first.on('error',e=>out.first=e.code);
first.on('connect',()=>setTimeout(()=>{
  const again=net.connect({host:u.hostname,port:Number(u.port)}); again.on('error',e=>out.again=e.code); again.on('connect',()=>out.again='connected');
  first.write('GET http://www.example.test:${H}/late HTTP/1.1\\r\\nHost: www.example.test:${H}\\r\\n\\r\\n');
  let g=''; first.on('data',d=>g+=d); first.on('close',()=>{ out.first=g.split('\\r\\n')[0]; setTimeout(()=>{ console.log(JSON.stringify(out)); process.exit(0); },300); });
},300));
setTimeout(()=>{ console.log(JSON.stringify(out)); process.exit(0); },8000);`;
  const runWith = async (revokes: boolean): Promise<{ out: unknown; served: string[]; refused: string[] }> => {
    served.length = 0;
    let connects = 0;
    const r = await Sandbox.run({
      fsReadable: ["/"],
      netAllow: [`http://www.example.test:${H}`],
      policyFn: (event, ctx) => {
        if (revokes && event.category === "network" && event.syscall === "connect" && ++connects === 1) ctx.restrictNetwork([]);
        return "allow";
      },
    }, [process.execPath, "-e", program], { timeout: 30_000 });
    return { out: JSON.parse(r.stdoutText.trim().split("\n").pop() || "{}"), served: [...served], refused: r.refused.map((x) => `${x.target}: ${x.why}`) };
  };
  const revoked = await runWith(true);
  const control = await runWith(false);
  server.close();
  return { revoked, control };
}

/** A name with 5,000 addresses (more A records than one DNS message can carry), asked
 * for by getent through the sandbox's DNS; then a name with 3, in the same process. */
async function bigdns(): Promise<unknown> {
  const many: string[] = [];
  for (let i = 0; i < 5000; i++) many.push(`10.${(i >> 8) & 255}.${i & 255}.1`);
  process.env[TEST_HOSTS_ENV] = JSON.stringify({ "big.example.test": many, "small.example.test": ["10.0.0.1", "10.0.0.2", "10.0.0.3"] });
  const policy = { fsReadable: ["/"], netAllow: ["https://*.example.test"] };
  const big = await Sandbox.run(policy, ["getent", "ahostsv4", "big.example.test"], { timeout: 30_000 });
  const small = await Sandbox.run(policy, ["getent", "ahostsv4", "small.example.test"], { timeout: 30_000 });
  const count = (t: string): number => new Set(t.split("\n").filter((l) => l.trim() !== "").map((l) => l.split(/\s+/)[0])).size;
  return { big: { exitCode: big.exitCode, addresses: count(big.stdoutText) }, small: { exitCode: small.exitCode, addresses: count(small.stdoutText) } };
}

/** DNS questions whose labels hold bytes no host name has, with the host's own resolver
 * (no test table): getaddrinfo reads a C string, so "localhost\\0.example.test" is
 * "localhost" to it. Asked inside, through the sandbox's DNS over TCP; "localhost" itself
 * under a rule naming it is the control (the resolver answers from the host's /etc/hosts). */
async function dnsnul(): Promise<unknown> {
  delete process.env[TEST_HOSTS_ENV];
  const program = `
const net=require('net');
const ask=(labels)=>new Promise((res)=>{ const name=Buffer.concat(labels.map(l=>Buffer.concat([Buffer.from([Buffer.byteLength(l,'latin1')]),Buffer.from(l,'latin1')])));
  const q=Buffer.concat([Buffer.from([0x12,0x34,1,0,0,1,0,0,0,0,0,0]),name,Buffer.from([0,0,1,0,1])]); const len=Buffer.alloc(2); len.writeUInt16BE(q.length);
  const s=net.connect({host:'10.9.9.9',port:53},()=>s.write(Buffer.concat([len,q]))); let b=Buffer.alloc(0);
  s.on('data',d=>{ b=Buffer.concat([b,d]); if(b.length>=2&&b.length>=2+b.readUInt16BE(0)){ const m=b.subarray(2); const rcode=m[3]&15, an=m.readUInt16BE(6); const ips=[]; let off=12+name.length+5; for(let i=0;i<an;i++){ const rdl=m.readUInt16BE(off+10); ips.push([...m.subarray(off+12,off+12+rdl)].join('.')); off+=12+rdl; } s.destroy(); res(rcode===0?ips.join(',')||'nodata':'rcode'+rcode);} });
  s.on('error',e=>res(e.code)); setTimeout(()=>{ s.destroy(); res('timeout'); },5000); });
(async()=>{ const out={}; out.control=await ask(['localhost']); out.nul=await ask(['localhost\\0','example','test']); out.nulMid=await ask(['localhost\\0x','example','test']); out.space=await ask(['localhost ','example','test']); console.log(JSON.stringify(out)); })();`;
  const r = await Sandbox.run({ fsReadable: ["/"], netAllow: ["https://*.example.test", "http://localhost:80"] }, [process.execPath, "-e", program], { timeout: 30_000 });
  return { out: JSON.parse(r.stdoutText.trim().split("\n").pop() || "{}"), stderr: r.stderrText.slice(0, 500), refused: r.network?.refused ?? [] };
}

/** A DNS connection opened before policyFn revokes the network (ctx.restrictNetwork([]) at
 * its own connect, which is allowed), asked a name after it; a second connection is the
 * in-sandbox comparison (refused), and the same program under a policyFn that revokes
 * nothing the positive control. Names are test-table answers (no network here). */
async function dnsrevoke(): Promise<unknown> {
  process.env[TEST_HOSTS_ENV] = JSON.stringify({ "www.example.test": ["10.1.2.3"], "secret-data.example.test": ["10.1.2.4"] });
  const program = `
const net=require('net');
const q=(n)=>{ const name=Buffer.concat(n.split('.').map(l=>Buffer.concat([Buffer.from([l.length]),Buffer.from(l)]))); const m=Buffer.concat([Buffer.from([0x12,0x34,1,0,0,1,0,0,0,0,0,0]),name,Buffer.from([0,0,1,0,1])]); const len=Buffer.alloc(2); len.writeUInt16BE(m.length); return [Buffer.concat([len,m]), name.length]; };
const out={}; const s=net.connect({host:'10.9.9.9',port:53});
s.on('error',e=>{ out.first=e.code; });
s.on('connect',()=>setTimeout(()=>{
  const again=net.connect({host:'10.9.9.9',port:53}); again.on('error',e=>out.again=e.code); again.on('connect',()=>{ out.again='connected'; again.destroy(); });
  const [m,nl]=q('secret-data.example.test'); s.write(m); let b=Buffer.alloc(0);
  s.on('data',d=>{ b=Buffer.concat([b,d]); if(b.length>=2&&b.length>=2+b.readUInt16BE(0)){ const r=b.subarray(2); const rcode=r[3]&15, an=r.readUInt16BE(6); out.first=rcode===0?(an>0?[...r.subarray(12+nl+5+12,12+nl+5+16)].join('.'):'nodata'):'rcode'+rcode; s.destroy(); setTimeout(()=>{ console.log(JSON.stringify(out)); process.exit(0); },300); } });
},300));
setTimeout(()=>{ console.log(JSON.stringify(out)); process.exit(0); },8000);`;
  const runWith = async (revokes: boolean): Promise<{ out: unknown; refused: string[] }> => {
    let connects = 0;
    const r = await Sandbox.run({
      fsReadable: ["/"],
      netAllow: ["https://*.example.test"],
      policyFn: (event, ctx) => {
        if (revokes && event.category === "network" && event.syscall === "connect" && ++connects === 1) ctx.restrictNetwork([]);
        return "allow";
      },
    }, [process.execPath, "-e", program], { timeout: 30_000 });
    return { out: JSON.parse(r.stdoutText.trim().split("\n").pop() || "{}"), refused: [...r.refused.map((x) => `${x.target}: ${x.why}`), ...(r.network?.refused ?? []).map((x) => `${x.destination} ${x.name}: ${x.reason}`)] };
  };
  const revoked = await runWith(true);
  const control = await runWith(false);
  return { revoked, control };
}

const scenarios: Record<string, () => Promise<unknown>> = { held, dns, conns, revoke, bigdns, dnsnul, dnsrevoke };
const f = scenarios[scenario ?? ""];
(f === undefined ? Promise.reject(new Error(`unknown scenario ${scenario}`)) : f()).then(
  (v) => console.log(JSON.stringify(v)),
  (e: unknown) => console.log(JSON.stringify({ error: String((e as Error).stack ?? e) })),
);
