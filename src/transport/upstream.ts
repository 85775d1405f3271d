// The gateway's side of the upstream MCP connection: plain HTTP over a keep-alive undici Pool
// (no SDK Client on the hot path), carrying the gateway's own credentials (never the client's),
// reading JSON and SSE answers incrementally, and translating every way an upstream can fail
// into a GatewayError the pipeline and the client can read.
import { Pool } from 'undici';
import { LATEST_PROTOCOL_VERSION, SUPPORTED_PROTOCOL_VERSIONS } from '@modelcontextprotocol/sdk/types.js';
import { GatewayError } from '../pipeline/types.js';
import { REQUEST_TIMEOUT, SERVER_ERROR } from './jsonrpc.js';
import { SseReader } from './sse.js';
import { isObject, type JsonObject } from './messages.js';

export interface UpstreamOptions {
  url: string;
  headers: () => Promise<Record<string, string>>;
  timeoutMs: number;
}

/** Gateway identity presented upstream; the client's own name goes to the audit trail instead. */
const GATEWAY_CLIENT_INFO = { name: 'bqwarden-gateway', version: '0.1.0' };

/** What the gateway holds of one upstream session (ours, never the client's). */
export interface UpstreamSession {
  /** The upstream's Mcp-Session-Id; null when it issues none (stateless servers). */
  sessionId: string | null;
  protocolVersion: string;
}

/** A final JSON-RPC answer from the upstream. */
export interface UpstreamReply {
  result: JsonObject;
  /** The upstream answered with an event stream (mirrored to the client, as the SDK server does). */
  sse: boolean;
  /**
   * The result's exact bytes, when they can be relayed untouched (see rawResultOf); checked
   * only when asked, i.e. when the pipeline returned the result unchanged. `result` is then
   * deep-frozen, so a pipeline that changes it must build a new object.
   */
  raw: (() => string | null) | null;
}

/** Called for every message the upstream sends before its final answer (notifications, requests). */
export type UpstreamMessageHandler = (message: JsonObject, raw: string) => void;

export interface RequestOptions {
  /** Aborts the upstream request (client cancelled or disconnected); notifications/cancelled is sent upstream. */
  signal?: AbortSignal;
  onMessage?: UpstreamMessageHandler;
}

export interface UpstreamStream {
  /** Resolves when the upstream ends the stream or it fails. */
  closed: Promise<void>;
  close(): void;
}

/**
 * fetch with fresh credentials on every upstream HTTP request (tokens such as Google ID tokens
 * expire within a session), and with any caller-supplied Authorization replaced, never merged.
 * For the gateway's own SDK clients off the data path (catalog lookups, the approved writer).
 */
export function credentialedFetch(headers: UpstreamOptions['headers']) {
  return async (url: string | URL, init?: RequestInit): Promise<Response> => {
    const h = new Headers(init?.headers);
    h.delete('authorization');
    for (const [k, v] of Object.entries(await headers())) h.set(k, v);
    return fetch(url, { ...init, headers: h });
  };
}

/** Capabilities the client declared that the upstream may use through us. */
export function relayedClientCapabilities(caps: unknown): JsonObject {
  const c = isObject(caps) ? caps : {};
  const out: JsonObject = {};
  for (const k of ['sampling', 'elicitation', 'roots', 'experimental']) if (isObject(c[k])) out[k] = c[k];
  return out;
}

const TIMED_OUT = Symbol('upstream timeout');
const SESSION_LOST = 'upstream_session_lost';

/** The upstream forgot our session (HTTP 404 on a request that carried its id). */
export function isSessionLost(err: unknown): boolean {
  return err instanceof GatewayError && err.data?.upstreamSession === SESSION_LOST;
}

export class UpstreamClient {
  private readonly origin: string;
  private readonly path: string;
  /** Request/response traffic: connections are kept alive and reused. */
  private readonly pool: Pool;
  /** Long-lived GET streams, kept apart so they never hold a request connection. */
  private readonly streams: Pool;
  private nextId = 1;
  private noStreamUntil = 0;

  constructor(private readonly opts: UpstreamOptions) {
    const u = new URL(opts.url);
    this.origin = u.origin;
    this.path = `${u.pathname}${u.search}`;
    // Timeouts are the gateway's own (upstream.timeoutMs, enforced per request with a
    // cancellation upstream), so undici's are off. Idle sockets close before typical server
    // idle timeouts (Go's net/http keeps them 3 minutes by default) to avoid reuse races.
    const common = { headersTimeout: 0, bodyTimeout: 0, keepAliveTimeout: 10_000, keepAliveMaxTimeout: 30_000, pipelining: 1 };
    this.pool = new Pool(this.origin, { ...common, connections: null });
    this.streams = new Pool(this.origin, { ...common, connections: null });
  }

  get timeoutMs(): number {
    return this.opts.timeoutMs;
  }

  /** Upstream JSON-RPC ids: unique per gateway process, so they never collide within an upstream session. */
  id(): number {
    return this.nextId++;
  }

  private async headers(session: UpstreamSession | null, accept: string, json: boolean): Promise<Record<string, string>> {
    const h: Record<string, string> = { accept };
    if (json) h['content-type'] = 'application/json';
    if (session?.sessionId) h['mcp-session-id'] = session.sessionId;
    if (session) h['mcp-protocol-version'] = session.protocolVersion;
    // Fresh credentials on every request (ID tokens expire within long sessions); any
    // caller-supplied Authorization never exists here to begin with.
    for (const [k, v] of Object.entries(await this.opts.headers())) h[k.toLowerCase()] = v;
    return h;
  }

  /** One JSON-RPC POST to the upstream endpoint. */
  private async post(session: UpstreamSession | null, body: string, signal: AbortSignal) {
    return this.pool.request({
      path: this.path,
      method: 'POST',
      headers: await this.headers(session, 'application/json, text/event-stream', true),
      body,
      signal,
    });
  }

  /** Opens an upstream session: initialize, then notifications/initialized. */
  async initialize(clientCapabilities: JsonObject): Promise<{ session: UpstreamSession; result: JsonObject; sse: boolean }> {
    const id = this.id();
    const body = JSON.stringify({
      jsonrpc: '2.0',
      id,
      method: 'initialize',
      params: { protocolVersion: LATEST_PROTOCOL_VERSION, capabilities: clientCapabilities, clientInfo: GATEWAY_CLIENT_INFO },
    });
    const { reply, headers } = await this.exchange(null, id, 'initialize', body, {});
    const r = reply.result;
    const version = r.protocolVersion;
    if (typeof version !== 'string' || !SUPPORTED_PROTOCOL_VERSIONS.includes(version) || !isObject(r.capabilities) || !isObject(r.serverInfo)) {
      throw GatewayError.of(
        'upstream_invalid_response',
        `Upstream MCP server sent an invalid response to initialize: ${typeof version === 'string' ? `unsupported protocol version ${JSON.stringify(version.slice(0, 40))}` : 'not an initialize result'}`,
      );
    }
    const sid = headers['mcp-session-id'];
    const session: UpstreamSession = { sessionId: typeof sid === 'string' && sid !== '' ? sid : null, protocolVersion: version };
    try {
      await this.send(session, '{"jsonrpc":"2.0","method":"notifications/initialized"}', 'notifications/initialized');
    } catch (err) {
      await this.terminate(session);
      throw err;
    }
    return { session, result: r, sse: reply.sse };
  }

  /** One request upstream; resolves with its final answer, or rejects with a GatewayError. */
  async request(session: UpstreamSession, id: number, method: string, body: string, o: RequestOptions = {}): Promise<UpstreamReply> {
    return (await this.exchange(session, id, method, body, o)).reply;
  }

  private async exchange(
    session: UpstreamSession | null,
    id: number,
    method: string,
    body: string,
    o: RequestOptions,
  ): Promise<{ reply: UpstreamReply; headers: Record<string, string | string[] | undefined> }> {
    const timeoutMs = this.opts.timeoutMs;
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(TIMED_OUT), timeoutMs);
    const onAbort = () => ac.abort(o.signal?.reason ?? new Error('aborted'));
    if (o.signal?.aborted) onAbort();
    else o.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const res = await this.post(session, body, ac.signal);
      const status = res.statusCode;
      const ct = String(res.headers['content-type'] ?? '');
      if (status < 200 || status >= 300) throw httpError(method, status, await readCapped(res.body, 300), session);
      let reply: UpstreamReply;
      if (ct.startsWith('text/event-stream')) reply = await readSseAnswer(res.body, id, method, o.onMessage);
      else if (ct.startsWith('application/json')) reply = answerOf(await res.body.text(), id, method, false);
      else {
        res.body.resume();
        throw invalid(method, `unexpected content type ${JSON.stringify(ct.slice(0, 60)) || 'none'} (HTTP ${status})`);
      }
      return { reply, headers: res.headers };
    } catch (err) {
      if (ac.signal.aborted) {
        // The upstream is told to stop; without this a cancelled query keeps running there.
        if (session) void this.cancel(session, id, ac.signal.reason === TIMED_OUT ? 'timeout' : 'cancelled by client');
        if (ac.signal.reason === TIMED_OUT) {
          throw new GatewayError(REQUEST_TIMEOUT, `Upstream MCP server did not answer ${method} within ${timeoutMs} ms; the request was cancelled upstream`, {
            reason: 'upstream_timeout',
            timeoutMs,
          });
        }
        throw GatewayError.of('upstream_timeout', `Upstream MCP request ${method} was aborted: ${describe(ac.signal.reason)}`);
      }
      if (err instanceof GatewayError) throw err;
      throw GatewayError.of('upstream_unavailable', `Upstream MCP server unavailable during ${method}: ${describe(err)}`);
    } finally {
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Sends a notification or a response upstream (the upstream answers 202). */
  async send(session: UpstreamSession, body: string, what: string): Promise<void> {
    try {
      const res = await this.post(session, body, AbortSignal.timeout(this.opts.timeoutMs));
      const text = await readCapped(res.body, 300);
      if (res.statusCode < 200 || res.statusCode >= 300) throw httpError(what, res.statusCode, text, session);
    } catch (err) {
      if (err instanceof GatewayError) throw err;
      throw GatewayError.of('upstream_unavailable', `Upstream MCP server unavailable during ${what}: ${describe(err)}`);
    }
  }

  private async cancel(session: UpstreamSession, id: number, reason: string): Promise<void> {
    await this.send(session, JSON.stringify({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: id, reason } }), 'notifications/cancelled').catch(() => undefined);
  }

  /**
   * The upstream's standalone GET stream for this session (server messages not tied to a
   * request). Returns null when the upstream offers none (405), as the spec allows.
   */
  async stream(session: UpstreamSession, onMessage: UpstreamMessageHandler): Promise<UpstreamStream | null> {
    // An upstream that answered 405 is not asked again for a while: every SDK client opens a
    // GET stream right after initialize, and each would cost an upstream round trip.
    if (Date.now() < this.noStreamUntil) return null;
    const ac = new AbortController();
    const res = await this.streams.request({ path: this.path, method: 'GET', headers: await this.headers(session, 'text/event-stream', false), signal: ac.signal }).catch((err) => {
      throw GatewayError.of('upstream_unavailable', `Upstream MCP server unavailable for its event stream: ${describe(err)}`);
    });
    const ct = String(res.headers['content-type'] ?? '');
    if (res.statusCode !== 200 || !ct.startsWith('text/event-stream')) {
      const text = await readCapped(res.body, 300);
      if (res.statusCode === 405) {
        this.noStreamUntil = Date.now() + 5 * 60_000;
        return null;
      }
      throw httpError('its event stream', res.statusCode, text, session);
    }
    const reader = new SseReader((e) => {
      const m = parseMessage(e.data);
      if (m) onMessage(m, e.data);
    });
    const closed = new Promise<void>((resolve) => {
      res.body.on('data', (c: Buffer) => reader.push(c));
      res.body.on('end', resolve);
      res.body.on('error', () => resolve());
      res.body.on('close', resolve);
    });
    return { closed, close: () => ac.abort() };
  }

  /** Ends the upstream session (DELETE when it issued an id); bounded, never throws. */
  async terminate(session: UpstreamSession): Promise<void> {
    if (!session.sessionId) return;
    try {
      const res = await this.pool.request({
        path: this.path,
        method: 'DELETE',
        headers: await this.headers(session, 'application/json, text/event-stream', false),
        signal: AbortSignal.timeout(Math.min(this.opts.timeoutMs, 5000)),
      });
      res.body.resume();
    } catch {
      // Best effort: the upstream expires idle sessions on its own.
    }
  }

  /** Probe for readiness: reachable, and our credentials are accepted (401/403 mean not ready). */
  async probe(): Promise<boolean> {
    try {
      const res = await this.post(null, '{"jsonrpc":"2.0","id":"bqwarden-readiness","method":"ping"}', AbortSignal.timeout(Math.min(this.opts.timeoutMs, 5000)));
      res.body.resume();
      return res.statusCode < 500 && res.statusCode !== 401 && res.statusCode !== 403;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.pool.destroy(), this.streams.destroy()]).catch(() => undefined);
  }
}

/** What a client session needs of its upstream: one server (UpstreamClient) or several routed by tool (RoutedUpstream). */
export type Upstream = Pick<UpstreamClient, 'id' | 'initialize' | 'request' | 'send' | 'stream' | 'terminate' | 'probe' | 'close'>;

/** A non-2xx answer; a 404 on a request that carried our session id means the upstream forgot it. */
function httpError(what: string, status: number, body: string, session: UpstreamSession | null): GatewayError {
  return new GatewayError(SERVER_ERROR, `Upstream MCP server answered ${what} with HTTP ${status}: ${firstLine(body)}`, {
    reason: 'upstream_http_error',
    httpStatus: status,
    ...(status === 404 && session?.sessionId ? { upstreamSession: SESSION_LOST } : {}),
  });
}

function invalid(method: string, why: string): GatewayError {
  return GatewayError.of('upstream_invalid_response', `Upstream MCP server sent an invalid response to ${method}: ${why}`);
}

/** One JSON-RPC message from upstream text; null for anything that is not one (dropped). */
function parseMessage(text: string): JsonObject | null {
  try {
    const v = JSON.parse(text) as unknown;
    return isObject(v) && v.jsonrpc === '2.0' ? v : null;
  } catch {
    return null;
  }
}

/** The final answer to request `id`, from the text of a JSON body or of one SSE event. */
function answerOf(text: string, id: number, method: string, sse: boolean): UpstreamReply {
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch (err) {
    throw invalid(method, describe(err));
  }
  if (!isObject(msg) || msg.jsonrpc !== '2.0' || msg.id !== id) throw invalid(method, 'not a JSON-RPC response to this request');
  if (isObject(msg.error)) {
    const e = msg.error;
    const raw = e.data;
    // JSON-RPC error data may be any JSON value; only a plain object is merged into ours.
    const data = isObject(raw) ? raw : raw === undefined ? undefined : { upstreamData: raw };
    const code = typeof e.code === 'number' && Number.isSafeInteger(e.code) ? e.code : SERVER_ERROR;
    // The upstream's own reason is its text, not one of our codes: it is kept beside ours.
    const { reason: upstreamReason, ...rest } = data ?? {};
    throw new GatewayError(code, String(e.message ?? 'upstream error'), { ...rest, ...(upstreamReason === undefined ? {} : { upstream_reason: upstreamReason }), reason: 'upstream_error' });
  }
  if (!isObject(msg.result)) throw invalid(method, 'a response without a result object');
  const frame = framing(text, msg, id);
  if (frame === null) return { result: msg.result, sse, raw: null };
  deepFreeze(msg.result);
  return { result: msg.result, sse, raw: () => rawResultOf(text, frame) };
}

/**
 * Where `result` sits in the upstream's text, for the compact framing the common serialisers
 * write ({"jsonrpc","id","result"} in either order, no spaces), and only when the object has
 * exactly those three keys. Constant time; rawResultOf does the scan that makes it safe.
 */
function framing(text: string, msg: JsonObject, id: number): [number, number] | null {
  let keys = 0;
  for (const _ in msg) keys++;
  if (keys !== 3) return null;
  let end = text.length;
  while (end > 0 && isSpace(text.charCodeAt(end - 1))) end--;
  const prefix = `{"jsonrpc":"2.0","id":${id},"result":`;
  if (text.startsWith(prefix) && text.charCodeAt(end - 1) === 125) return [prefix.length, end - 1];
  const suffix = `,"jsonrpc":"2.0","id":${id}}`;
  if (text.startsWith('{"result":') && text.startsWith(suffix, end - suffix.length)) return [10, end - suffix.length];
  return null;
}

/**
 * The exact text of `result` inside the upstream's response, so an unchanged result is relayed
 * byte for byte (no re-serialisation). Only when no key can be a duplicate: with no \u escape
 * in the text, a key named result/id/jsonrpc can only be spelled literally, so if none appears
 * inside the span (and the object has exactly three keys, see framing), the span is exactly the
 * result JSON.parse returned. A duplicate key could otherwise make a client see a different
 * value than the pipeline saw. Anything else returns null and the result is serialised again.
 */
export function rawResultOf(text: string, [start, stop]: [number, number]): string | null {
  if (stop <= start) return null;
  const span = text.slice(start, stop);
  // One regular-expression pass: several String#includes calls cost far more on two-byte text.
  return FRAMING_KEY_OR_ESCAPE.test(span) ? null : span;
}

const FRAMING_KEY_OR_ESCAPE = /\\u|"(?:result|id|jsonrpc)"/;

function isSpace(c: number): boolean {
  return c === 32 || c === 10 || c === 13 || c === 9;
}

function deepFreeze(v: unknown): void {
  if (typeof v !== 'object' || v === null || Object.isFrozen(v)) return;
  Object.freeze(v);
  if (Array.isArray(v)) for (const x of v) deepFreeze(x);
  else for (const k in v) deepFreeze((v as JsonObject)[k]);
}

/**
 * Reads an SSE answer: every message before the final answer goes to `onMessage` as it arrives;
 * resolves at the final answer (the rest of the stream is drained so the connection is reused).
 */
function readSseAnswer(body: NodeJS.ReadableStream & { destroy(err?: Error): void }, id: number, method: string, onMessage?: UpstreamMessageHandler): Promise<UpstreamReply> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let drainTimer: NodeJS.Timeout | undefined;
    const settle = (f: () => void) => {
      if (settled) return;
      settled = true;
      f();
      // A server that keeps the stream open after its answer would hold the connection forever.
      drainTimer = setTimeout(() => body.destroy(), 30_000);
      drainTimer.unref();
    };
    const reader = new SseReader((e) => {
      if (settled) return;
      const text = e.data;
      const m = parseMessage(text);
      if (!m) return;
      if (m.id === id && ('result' in m || 'error' in m) && !('method' in m)) {
        try {
          const reply = answerOf(text, id, method, true);
          settle(() => resolve(reply));
        } catch (err) {
          settle(() => reject(err));
        }
        return;
      }
      try {
        onMessage?.(m, text);
      } catch {
        // A relay failure must not break the stream that carries the answer.
      }
    });
    body.on('data', (c: Buffer) => {
      try {
        reader.push(c);
      } catch (err) {
        settle(() => reject(invalid(method, describe(err))));
      }
    });
    body.on('end', () => {
      clearTimeout(drainTimer);
      reader.end();
      settle(() => reject(GatewayError.of('upstream_unavailable', `Upstream MCP server unavailable during ${method}: the event stream ended before the answer`)));
    });
    body.on('error', (err) => {
      clearTimeout(drainTimer);
      settle(() => reject(err));
    });
  });
}

async function readCapped(body: NodeJS.ReadableStream, max: number): Promise<string> {
  let out = '';
  for await (const c of body) if (out.length < max) out += String(c);
  return out.slice(0, max);
}

function firstLine(text: string): string {
  const t = text.trim().split(/\r?\n/)[0] ?? '';
  return t === '' ? '(empty body)' : t.slice(0, 200);
}

function describe(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string }; code?: string };
  const cause = e?.cause?.code ?? e?.cause?.message ?? (typeof e?.code === 'string' ? e.code : undefined);
  const msg = String(e?.message ?? err).slice(0, 300);
  return cause && !msg.includes(cause) ? `${msg} (${cause})` : msg;
}
