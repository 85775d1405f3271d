// Red-team scaffolding: raw MCP Streamable HTTP requests (so attacks can send what no SDK
// client would), a reader for everything the audit store holds at rest, and a recording
// pass-through proxy to see exactly what reaches the upstream.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AuditEvent } from '../../src/audit/event.js';

const PROTOCOL = '2025-11-25';

export interface RawResponse {
  status: number;
  headers: Headers;
  text: string;
  /** JSON-RPC messages in the body (plain JSON or SSE data lines). */
  messages: Record<string, any>[];
}

/** Parses a JSON or SSE body into the JSON-RPC messages it carries. */
export function messagesOf(text: string): Record<string, any>[] {
  const t = text.trim();
  if (!t) return [];
  if (t.startsWith('{') || t.startsWith('[')) {
    try {
      const v = JSON.parse(t);
      return Array.isArray(v) ? v : [v];
    } catch {
      return [];
    }
  }
  const out: Record<string, any>[] = [];
  for (const block of t.split(/\r?\n\r?\n/)) {
    const data = block
      .split(/\r?\n/)
      .filter((l) => l.startsWith('data:'))
      .map((l) => l.slice(5).trimStart())
      .join('\n');
    if (!data) continue;
    try {
      const v = JSON.parse(data);
      if (Array.isArray(v)) out.push(...v);
      else out.push(v);
    } catch {
      // keep-alive or partial event
    }
  }
  return out;
}

export interface RawOptions {
  token?: string | null;
  sessionId?: string | null;
  headers?: Record<string, string>;
  method?: 'POST' | 'GET' | 'DELETE' | 'PUT';
  /** Default: MCP-Protocol-Version of PROTOCOL on non-initialize requests with a session. */
  protocolVersion?: string | null;
  /** Abort after this many ms (GET streams; and a bound so no attack can hang a test). Default 30 s. */
  abortAfterMs?: number;
}

/** One raw HTTP request to the MCP endpoint; `body` is sent verbatim when it is a string. */
export async function raw(url: string, body: unknown, o: RawOptions = {}): Promise<RawResponse> {
  const method = o.method ?? 'POST';
  const headers: Record<string, string> = {};
  if (method === 'POST') {
    headers['content-type'] = 'application/json';
    headers.accept = 'application/json, text/event-stream';
  } else if (method === 'GET') {
    headers.accept = 'text/event-stream';
  }
  if (o.token) headers.authorization = `Bearer ${o.token}`;
  if (o.sessionId) headers['mcp-session-id'] = o.sessionId;
  const pv = o.protocolVersion === undefined ? (o.sessionId ? PROTOCOL : null) : o.protocolVersion;
  if (pv) headers['mcp-protocol-version'] = pv;
  Object.assign(headers, o.headers ?? {});
  for (const [k, v] of Object.entries(headers)) if (v === '') delete headers[k];
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), o.abortAfterMs ?? 30_000);
  try {
    const res = await fetch(url, {
      method,
      headers,
      body: method === 'POST' || method === 'PUT' ? (typeof body === 'string' ? body : JSON.stringify(body)) : undefined,
      signal: ac.signal,
    });
    let text = '';
    try {
      text = await res.text();
    } catch {
      // aborted stream: what arrived is enough
    }
    return { status: res.status, headers: res.headers, text, messages: messagesOf(text) };
  } finally {
    clearTimeout(timer);
  }
}

/** Initializes a session with raw HTTP; returns its id. */
export async function rawSession(url: string, token: string, protocolVersion = PROTOCOL): Promise<string> {
  const r = await raw(url, { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion, capabilities: {}, clientInfo: { name: 'redteam', version: '1' } } }, { token });
  const sid = r.headers.get('mcp-session-id');
  if (r.status !== 200 || !sid) throw new Error(`initialize failed: ${r.status} ${r.text.slice(0, 300)}`);
  await raw(url, { jsonrpc: '2.0', method: 'notifications/initialized' }, { token, sessionId: sid, protocolVersion });
  return sid;
}

let nextId = 1000;
export function call(name: string, args: unknown, id: number | string = nextId++): Record<string, unknown> {
  return { jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } };
}

/** The one JSON-RPC response (with result or error) in a raw response. */
export function responseOf(r: RawResponse): Record<string, any> | undefined {
  return r.messages.find((m) => 'result' in m || 'error' in m);
}

// ---------- audit at rest ----------

function walk(dir: string, out: string[]): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const n of names) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) walk(p, out);
    else out.push(p);
  }
}

/** Every file under a directory (recursive). */
export function filesUnder(dir: string): string[] {
  const out: string[] = [];
  walk(dir, out);
  return out;
}

/** Every audit event on disk under <dataDir>/audit, in file order. */
export function auditEvents(dataDir: string): AuditEvent[] {
  const events: AuditEvent[] = [];
  for (const f of filesUnder(join(dataDir, 'audit'))
    .filter((p) => /\.jsonl$/.test(p))
    .sort()) {
    for (const line of readFileSync(f, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      try {
        events.push(JSON.parse(line));
      } catch {
        // torn tails are reported by the verifier, not here
      }
    }
  }
  return events;
}

/** Polls (bounded) until some audit event matches; event writes that follow a response are async. */
export async function waitForEvent(dataDir: string, pred: (e: AuditEvent) => boolean, tries = 50): Promise<AuditEvent | undefined> {
  for (let i = 0; i < tries; i++) {
    const e = auditEvents(dataDir).find(pred);
    if (e) return e;
    await new Promise((r) => setTimeout(r, 100));
  }
  return undefined;
}

// ---------- recording proxy ----------

interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface RecordingProxy {
  /** URL of the proxy's /mcp endpoint. */
  url: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

/**
 * A pass-through HTTP proxy (streams both ways, so SSE works) that records every request. The
 * target may be a getter: the e2e stack starts Toolbox itself, so its URL is known only later.
 */
export async function startRecordingProxy(target: string | (() => string), path = '/mcp'): Promise<RecordingProxy> {
  const targetUrl = () => new URL(typeof target === 'string' ? target : target());
  const requests: RecordedRequest[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: body.toString('utf8') });
      let t: URL;
      try {
        t = targetUrl();
      } catch {
        res.writeHead(502).end();
        return;
      }
      const headers = { ...req.headers, host: t.host };
      const up = httpRequest({ host: t.hostname, port: t.port, method: req.method, path: req.url, headers }, (ures) => {
        res.writeHead(ures.statusCode ?? 502, ures.headers);
        ures.pipe(res);
      });
      up.on('error', () => {
        if (!res.headersSent) res.writeHead(502);
        res.end();
      });
      res.on('close', () => up.destroy());
      up.end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}${path}`,
    requests,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
