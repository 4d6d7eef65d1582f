// Reads the head of an HTTP/1.x request for the filtering proxy: the request line and the
// Host header (transparent requests), CONNECT host:port and absolute-form URIs (requests
// to the explicit proxy). Pure; the bytes may arrive in pieces.

export const HEAD_MAX = 32 * 1024;

export interface RequestHead {
  readonly method: string;
  /** The request target as written: "/path", "http://host/path", "host:443". */
  readonly target: string;
  readonly version: string;
  /** The header lines, as written (without the request line). */
  readonly headers: readonly string[];
  /** The one Host header's value, or null when there is none. */
  readonly host: string | null;
  /** Bytes of the head, the blank line included; what follows is the body. */
  readonly length: number;
}

export type HeadResult = { readonly kind: "more" } | { readonly kind: "head"; readonly head: RequestHead } | { readonly kind: "bad"; readonly why: string };

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export function parseRequestHead(buf: Buffer): HeadResult {
  const end = buf.indexOf("\r\n\r\n");
  if (end < 0) return buf.length >= HEAD_MAX ? { kind: "bad", why: "request head too long" } : { kind: "more" };
  const text = buf.subarray(0, end).toString("latin1");
  // Lines end with CRLF and only there: a bare LF or CR is a line end to many servers
  // (nginx, Apache), so "X: y\nHost: other" would hide a second Host (or the only one,
  // beside an absolute URI) inside a value this parser reads as one line. NUL likewise.
  if (/[\r\n\0]/.test(text.replaceAll("\r\n", ""))) return { kind: "bad", why: "a bare CR, LF or NUL in the request head" };
  const lines = text.split("\r\n");
  const parts = lines[0]!.split(" ");
  if (parts.length !== 3 || !TOKEN.test(parts[0]!) || !/^HTTP\/1\.[01]$/.test(parts[2]!) || parts[1] === "") {
    return { kind: "bad", why: "not an HTTP/1.x request line" };
  }
  const headers = lines.slice(1);
  let host: string | null = null;
  for (const line of headers) {
    const colon = line.indexOf(":");
    // Obsolete line folding and names with spaces are refused: two parsers could read them
    // differently (request smuggling of a second Host).
    if (colon <= 0 || !TOKEN.test(line.slice(0, colon))) return { kind: "bad", why: "a malformed header line" };
    if (line.slice(0, colon).toLowerCase() !== "host") continue;
    if (host !== null) return { kind: "bad", why: "more than one Host header" };
    host = line.slice(colon + 1).trim();
  }
  return { kind: "head", head: { method: parts[0]!, target: parts[1]!, version: parts[2]!, headers, host, length: end + 4 } };
}

/** "name" or "name:port" or "[v6]:port" -> the lower-case name without a trailing dot, and
 * the port (undefined when absent); null when malformed. */
export function splitHostPort(text: string): { name: string; port: number | undefined } | null {
  let name = text;
  let port: number | undefined;
  const m = /^(.*):(\d{1,5})$/.exec(text);
  if (m !== null && !m[1]!.endsWith(":")) {
    name = m[1]!;
    port = Number(m[2]);
    if (port < 1 || port > 65535) return null;
  }
  if (name.startsWith("[") && name.endsWith("]")) name = name.slice(1, -1);
  name = name.toLowerCase();
  if (name.endsWith(".")) name = name.slice(0, -1);
  if (name === "") return null;
  return { name, port };
}

/**
 * The head to send upstream: the request line in origin form (an absolute-form target's
 * path), the proxy's own headers dropped, and `Connection: close`, so that the server ends
 * the connection after this one checked request (a second request on it could name
 * another Host served at the same address). `host`: an absolute-form target's authority,
 * which replaces the Host header (as RFC 9112 3.2.2 asks of a proxy): the request in origin
 * form must still name the host that was checked, not none (the server's default site).
 */
export function upstreamHead(head: RequestHead, path: string, host?: string): Buffer {
  const kept = head.headers.filter((h) => {
    const name = h.slice(0, h.indexOf(":")).toLowerCase();
    return name !== "connection" && name !== "proxy-connection" && name !== "proxy-authorization" && name !== "keep-alive" && (host === undefined || name !== "host");
  });
  const hostLine = host === undefined ? [] : [`Host: ${host}`];
  return Buffer.from([`${head.method} ${path} ${head.version}`, ...hostLine, ...kept, "Connection: close", "", ""].join("\r\n"), "latin1");
}
