// A lean MCP load generator (raw Streamable HTTP over an undici Pool), so the client's own cost
// is small and the same for every target: MCP Toolbox directly, the bare proxy, the gateway.
// An SDK client would spend more CPU than the servers it measures on a two-core machine.
import { Pool } from 'undici';
import { quantile } from './samples.js';

interface CallOutcome {
  ms: number;
  ok: boolean;
  bytes: number;
  text: string;
}

export interface LoadSession {
  readonly id: string | null;
  /** One tools/call; `keep` returns the body text (for checks), otherwise it is dropped. */
  call(tool: string, args: Record<string, unknown>, keep?: boolean): Promise<CallOutcome>;
  close(): Promise<void>;
}

const ACCEPT = 'application/json, text/event-stream';
const PROTOCOL = '2025-11-25';

export class McpTarget {
  readonly pool: Pool;
  private readonly path: string;
  private nextId = 1;

  constructor(
    readonly url: string,
    private readonly token: string | null,
    connections = 64,
  ) {
    const u = new URL(url);
    this.path = u.pathname;
    this.pool = new Pool(u.origin, { connections, pipelining: 1, keepAliveTimeout: 60_000, headersTimeout: 0, bodyTimeout: 0 });
  }

  private headers(sessionId: string | null): Record<string, string> {
    const h: Record<string, string> = { 'content-type': 'application/json', accept: ACCEPT };
    if (this.token) h.authorization = `Bearer ${this.token}`;
    if (sessionId) {
      h['mcp-session-id'] = sessionId;
      h['mcp-protocol-version'] = PROTOCOL;
    }
    return h;
  }

  async post(sessionId: string | null, body: string): Promise<{ status: number; text: string; sessionId: string | null }> {
    const res = await this.pool.request({ path: this.path, method: 'POST', headers: this.headers(sessionId), body });
    const text = await res.body.text();
    const sid = res.headers['mcp-session-id'];
    return { status: res.statusCode, text, sessionId: typeof sid === 'string' ? sid : null };
  }

  async session(name = 'bench'): Promise<LoadSession> {
    const init = await this.post(null, JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: PROTOCOL, capabilities: {}, clientInfo: { name, version: '1' } } }));
    if (init.status !== 200) throw new Error(`initialize at ${this.url}: HTTP ${init.status} ${init.text.slice(0, 300)}`);
    const sid = init.sessionId;
    const n = await this.post(sid, '{"jsonrpc":"2.0","method":"notifications/initialized"}');
    if (n.status !== 202 && n.status !== 200) throw new Error(`initialized at ${this.url}: HTTP ${n.status}`);
    const target = this;
    return {
      id: sid,
      async call(tool, args, keep = false) {
        const body = JSON.stringify({ jsonrpc: '2.0', id: target.nextId++, method: 'tools/call', params: { name: tool, arguments: args } });
        const t0 = performance.now();
        const r = await target.post(sid, body);
        const ms = performance.now() - t0;
        // A JSON-RPC error or a tool error is short; a result carrying rows is not.
        const head = r.text.length < 4096 ? r.text : '';
        const ok = r.status === 200 && !/"error":\{|"isError":true/.test(head);
        return { ms, ok, bytes: r.text.length, text: keep ? r.text : '' };
      },
      async close() {
        if (!sid) return;
        const res = await target.pool.request({ path: target.path, method: 'DELETE', headers: target.headers(sid) });
        await res.body.text();
      },
    };
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

export interface RunStats {
  calls: number;
  failures: number;
  p50: number;
  p99: number;
  mean: number;
  /** Completed calls per second of wall time. */
  rate: number;
}

export function stats(ms: number[], wallMs: number, failures: number): RunStats {
  const s = [...ms].sort((a, b) => a - b);
  const q = (p: number) => quantile(s, p);
  return { calls: s.length, failures, p50: q(0.5), p99: q(0.99), mean: s.reduce((a, b) => a + b, 0) / (s.length || 1), rate: (s.length / wallMs) * 1000 };
}

export interface RawRun {
  ms: number[];
  wallMs: number;
  failures: number;
}

/** `sessions.length` callers, each in a loop, until `total` calls completed; call i gets args(i). */
export async function driveRaw(sessions: LoadSession[], total: number, tool: string, args: (i: number) => Record<string, unknown>): Promise<RawRun> {
  const ms: number[] = [];
  let failures = 0;
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    sessions.map(async (s) => {
      for (let i = next++; i < total; i = next++) {
        const r = await s.call(tool, args(i));
        ms.push(r.ms);
        if (!r.ok) failures++;
      }
    }),
  );
  return { ms, wallMs: performance.now() - t0, failures };
}

export async function drive(sessions: LoadSession[], total: number, tool: string, args: (i: number) => Record<string, unknown>): Promise<RunStats> {
  const r = await driveRaw(sessions, total, tool, args);
  return stats(r.ms, r.wallMs, r.failures);
}
