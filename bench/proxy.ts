// Domain rules (issue 13): a 100 MB download from a local HTTPS server through the
// filtering proxy vs the same sandboxed curl reaching the server directly (an IP rule), and
// the latency the proxy adds to each connection (TLS handshake done, curl's
// time_appconnect, with and without it). The server runs in its own process; the proxy
// resolves "localhost" with the host's resolver, as it would any name.
// `node dist/bench/proxy.js [rounds]`, or `npm run bench` (BENCH_ONLY=proxy).

import { execFile, execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Sandbox, type PolicyInput } from "../src/index.js";
import { fmt, summarize, verdict, type Summary } from "./stats.js";

const run = promisify(execFile);
const MB = 1 << 20;
const SIZE = 100 * MB;
const CONNECTIONS = 20;

export interface ProxyResult {
  /** MB/s of the download: bare, sandboxed direct (IP rule), sandboxed through the proxy. */
  bareMBs: Summary;
  directMBs: Summary;
  proxyMBs: Summary;
  /** proxy / direct, per round. */
  ratio: Summary;
  /** Added milliseconds per connection (median of CONNECTIONS per round, proxy - direct). */
  addedMs: Summary;
  /** CPU milliseconds of this process (supervisor, proxy and its splice threads) per
   * download, direct and through the proxy: less noisy than time on a loaded machine. */
  directCpuMs: Summary;
  proxyCpuMs: Summary;
  /** CPU milliseconds per MB of everything taking part (the server, curl and its sandbox,
   * the supervisor, the proxy), from /proc in clock ticks: direct and through the proxy. */
  directAllMsPerMB?: Summary;
  proxyAllMsPerMB?: Summary;
  skipped?: string;
}

const SERVER = `
const https = require("https"), fs = require("fs");
const [key, cert, size] = [fs.readFileSync(process.argv[1]), fs.readFileSync(process.argv[2]), Number(process.argv[3])];
const block = Buffer.alloc(1 << 20, 120);
const srv = https.createServer({ key, cert }, (req, res) => {
  if (req.url === "/small") return res.end("ok\\n");
  res.writeHead(200, { "content-length": size });
  let left = size;
  const more = () => { while (left > 0) { const n = Math.min(left, block.length); left -= n; if (!res.write(n === block.length ? block : block.subarray(0, n))) return res.once("drain", more); } res.end(); };
  more();
});
srv.listen(0, "127.0.0.1", () => console.log(srv.address().port));
`;

async function startServer(dir: string): Promise<{ port: number; child: ChildProcess }> {
  const child = spawn(process.execPath, ["-e", SERVER, `${dir}/key.pem`, `${dir}/cert.pem`, String(SIZE)], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<number>((resolve) => child.stdout!.once("data", (d: Buffer) => resolve(Number(d.toString()))));
  return { port, child };
}

/** CPU ms (clock ticks of 10 ms) of this process, its waited-for descendants (the
 * sandboxes) and the server: fields 14-17 of /proc/self/stat, 14-15 of the server's. */
function cpuTicksMs(server: number): number {
  const fields = (pid: number | "self"): number[] => {
    const t = readFileSync(`/proc/${pid}/stat`, "latin1");
    return t.slice(t.lastIndexOf(")") + 2).split(" ").map(Number);
  };
  const self = fields("self");
  const srv = fields(server);
  // [11] is field 14 (utime): utime, stime, cutime, cstime of this process; utime, stime of the server.
  return (self[11]! + self[12]! + self[13]! + self[14]! + srv[11]! + srv[12]!) * 10;
}

function env(): NodeJS.ProcessEnv {
  const e = { ...process.env };
  delete e.NODE_EXTRA_CA_CERTS;
  return e;
}

/** curl's -w numbers, one line per URL: speed_download and time_appconnect. */
async function curlIn(policy: PolicyInput | undefined, args: string[]): Promise<number[][]> {
  const argv = ["curl", "-sS", "--noproxy", "*", "-w", "%{speed_download} %{time_appconnect}\\n", ...args];
  const text = policy === undefined
    ? (await run(argv[0]!, argv.slice(1), { env: env() })).stdout
    : (await Sandbox.run(policy, argv, { timeout: 120_000 })).check().stdoutText;
  return text.trim().split("\n").map((l) => l.split(" ").map(Number));
}

export async function benchProxy(rounds: number): Promise<ProxyResult> {
  const blank = { min: 0, median: 0, max: 0 };
  try {
    execFileSync("sh", ["-c", "command -v openssl && command -v curl"], { stdio: "ignore" });
  } catch {
    return { bareMBs: blank, directMBs: blank, proxyMBs: blank, ratio: blank, addedMs: blank, directCpuMs: blank, proxyCpuMs: blank, skipped: "needs openssl and curl" };
  }
  const dir = mkdtempSync("/tmp/sandlock-bench-proxy-");
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", `${dir}/key.pem`, "-out", `${dir}/cert.pem`, "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"], { stdio: "ignore" });
  const { port, child } = await startServer(dir);
  const base = ["--cacert", `${dir}/cert.pem`, "--resolve", `localhost:${port}:127.0.0.1`];
  const big = [...base, "-o", "/dev/null", `https://localhost:${port}/big`];
  // A new connection per URL (the server closes each), every one's body to /dev/null.
  const small = [...base, "-H", "Connection: close", ...Array.from({ length: CONNECTIONS }, () => ["-o", "/dev/null", `https://localhost:${port}/small`]).flat()];
  // /dev/null for curl's -o; / readable for curl and its libraries.
  const direct: PolicyInput = { fsReadable: ["/"], fsWritable: ["/dev/null"], netAllow: [`tcp://127.0.0.1:${port}`] };
  const proxied: PolicyInput = { fsReadable: ["/"], fsWritable: ["/dev/null"], netAllow: [`https://localhost:${port}`] };
  const bare: number[] = [];
  const d: number[] = [];
  const p: number[] = [];
  const ratio: number[] = [];
  const added: number[] = [];
  const dCpu: number[] = [];
  const pCpu: number[] = [];
  const dAll: number[] = [];
  const pAll: number[] = [];
  const cpuOf = async (policy: PolicyInput, all: number[]): Promise<[number, number]> => {
    const a0 = cpuTicksMs(child.pid!);
    const c0 = process.cpuUsage();
    const mbs = (await curlIn(policy, big))[0]![0]! / MB;
    const c = process.cpuUsage(c0);
    all.push((cpuTicksMs(child.pid!) - a0) / (SIZE / MB));
    return [mbs, (c.user + c.system) / 1000];
  };
  const median = (xs: number[]): number => summarize(xs).median;
  try {
    for (let r = 0; r < rounds; r++) {
      // Interleaved, so that the machine's load falls on both alike.
      bare.push((await curlIn(undefined, big))[0]![0]! / MB);
      const [dm, dc] = await cpuOf(direct, dAll);
      const [pm, pc] = await cpuOf(proxied, pAll);
      dCpu.push(dc);
      pCpu.push(pc);
      d.push(dm);
      p.push(pm);
      ratio.push(pm / dm);
      const dl = median((await curlIn(direct, small)).map((l) => l[1]! * 1000));
      const pl = median((await curlIn(proxied, small)).map((l) => l[1]! * 1000));
      added.push(pl - dl);
    }
  } finally {
    child.kill();
    rmSync(dir, { recursive: true, force: true });
  }
  return { bareMBs: summarize(bare), directMBs: summarize(d), proxyMBs: summarize(p), ratio: summarize(ratio), addedMs: summarize(added), directCpuMs: summarize(dCpu), proxyCpuMs: summarize(pCpu), directAllMsPerMB: summarize(dAll), proxyAllMsPerMB: summarize(pAll) };
}

export function reportProxy(r: ProxyResult): string {
  if (r.skipped !== undefined) return `proxy: skipped (${r.skipped})`;
  return [
    "proxy: 100 MB HTTPS download (curl), and the time to a finished TLS handshake per connection",
    `  bare:                 ${fmt(r.bareMBs, " MB/s", 0)}`,
    `  sandboxed, IP rule:   ${fmt(r.directMBs, " MB/s", 0)}`,
    `  sandboxed, via proxy: ${fmt(r.proxyMBs, " MB/s", 0)}`,
    `  proxy / direct:       ${fmt(r.ratio, "", 3)}`,
    `  added per connection: ${fmt(r.addedMs, " ms", 3)}`,
    `  CPU of this process per download (supervisor, proxy, splice thread; sandbox start included): direct ${fmt(r.directCpuMs, " ms", 0)}; via proxy ${fmt(r.proxyCpuMs, " ms", 0)}`,
    ...(r.directAllMsPerMB !== undefined && r.proxyAllMsPerMB !== undefined ? [`  CPU of everything per MB (server, curl and its sandbox, supervisor, proxy; 10 ms ticks): direct ${fmt(r.directAllMsPerMB, " ms", 2)}; via proxy ${fmt(r.proxyAllMsPerMB, " ms", 2)}`] : []),
    `  ${verdict("throughput >= 90% of direct (median)", r.ratio.median >= 0.9)}`,
    `  ${verdict("added latency < 1 ms per connection (median)", r.addedMs.median < 1)}`,
  ].join("\n");
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(reportProxy(await benchProxy(Number(process.argv[2] ?? 5))));
}
