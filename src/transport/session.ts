// One client session as a small record: who owns it, what was negotiated, and the upstream
// session paired with it. Every client request is handed to the pipeline (interceptor) with a
// `forward` that reaches the upstream; every upstream message for the client is relayed on the
// stream of the request it belongs to (or the session's GET stream), so JSON-RPC ids and
// progress tokens never cross clients.
import type { ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { Identity } from '../identity/types.js';
import { GatewayError, type Forward, type McpInterceptor, type RequestContext } from '../pipeline/types.js';
import { HttpRefusal, INTERNAL_ERROR, SERVER_ERROR } from './jsonrpc.js';
import { Downstream } from './downstream.js';
import { idKey, isObject, paramsProblem, type Classified, type JsonObject, type NotificationMessage, type RequestId, type RequestMessage, type ResponseMessage } from './messages.js';
import { isSessionLost, type Upstream, type UpstreamSession, type UpstreamStream } from './upstream.js';

/** What the HTTP layer knows about the request that carried a message. */
export interface HttpRequestMeta {
  identity: Identity;
  sourceIp: string | null;
  userAgent: string | null;
  traceId: string;
}

/** Client notifications the transport consumes itself (lifecycle, cancellation, progress). */
const LOCAL_NOTIFICATIONS = new Set(['notifications/initialized', 'notifications/cancelled', 'notifications/progress']);

/** Relayed server->client requests (sampling, elicitation) wait on people; bound them anyway. */
const RELAY_REQUEST_TIMEOUT_MS = 60 * 60_000;

const NEVER = new AbortController().signal;

/**
 * Results the upstream sent, mapped to their exact bytes. A pipeline that returns the very
 * object `forward` gave it has changed nothing (it is deep-frozen), so those bytes are relayed
 * instead of serialising the result again.
 */
const rawResults = new WeakMap<object, () => string | null>();

export type EndReason = 'client_delete' | 'expired' | 'shutdown' | 'upstream_closed';

export interface SessionInit {
  id: string;
  identity: Identity;
  clientName: string | null;
  clientVersion: string | null;
  protocolVersion: string;
  upstream: Upstream;
  upstreamSession: UpstreamSession;
  interceptor: McpInterceptor;
  onEnded: (session: McpSession) => void;
  onError: (err: unknown, where: string) => void;
}

/** A client request being handled. */
interface Exchange {
  id: RequestId;
  out: Downstream;
  ctrl: AbortController;
  meta: HttpRequestMeta;
  cancelled: boolean;
}

interface PendingRelay {
  resolve: (r: JsonObject) => void;
  reject: (e: unknown) => void;
  timer: NodeJS.Timeout;
}

export class McpSession {
  readonly id: string;
  readonly identity: Identity;
  readonly clientName: string | null;
  readonly clientVersion: string | null;
  readonly protocolVersion: string;
  lastActivity = Date.now();
  /**
   * Expiry (epoch seconds) of the newest token seen on this session. Sessions are bounded by
   * it: once every token the client presented has expired, any open GET stream is closed, and
   * the session ends as expired unless a refreshed token arrives within the grace period.
   */
  authExpiresAt: number | null;
  private readonly up: Upstream;
  private readonly upSession: UpstreamSession;
  private readonly interceptor: McpInterceptor;
  /** Client requests in flight, in arrival order (created on first use: most sessions are idle). */
  private inflight: Map<string, Exchange> | null = null;
  /** Server→client requests waiting for the client's answer, by their JSON-RPC id. */
  private pending: Map<string, PendingRelay> | null = null;
  private getOut: Downstream | null = null;
  private getUpstream: UpstreamStream | null = null;
  private ended: Promise<void> | null = null;

  constructor(private readonly init: SessionInit) {
    this.id = init.id;
    this.identity = init.identity;
    this.authExpiresAt = init.identity.expiresAt;
    this.clientName = init.clientName;
    this.clientVersion = init.clientVersion;
    this.protocolVersion = init.protocolVersion;
    this.up = init.upstream;
    this.upSession = init.upstreamSession;
    this.interceptor = init.interceptor;
  }

  /** No upstream message reaches the client on a stream opened under tokens that all expired. */
  closeStream(): void {
    this.getUpstream?.close();
    this.getOut?.close();
  }

  /** Records a fresh token of the session's owner (extends the session's auth bound). */
  sawToken(identity: Identity): void {
    if (this.authExpiresAt === null) return;
    this.authExpiresAt = identity.expiresAt === null ? null : Math.max(this.authExpiresAt, identity.expiresAt);
  }

  get busy(): boolean {
    return (this.inflight?.size ?? 0) > 0;
  }

  get isEnded(): boolean {
    return this.ended !== null;
  }

  context(meta: HttpRequestMeta | null, requestId: RequestId | null, signal: AbortSignal, progress: ((p: number, total?: number, message?: string) => void) | null): RequestContext {
    let last = -Infinity;
    return {
      identity: meta?.identity ?? this.identity,
      sessionId: this.id,
      requestId: requestId === null ? null : String(requestId),
      traceId: meta?.traceId ?? randomTraceId(),
      sourceIp: meta?.sourceIp ?? null,
      userAgent: meta?.userAgent ?? null,
      clientName: this.clientName,
      clientVersion: this.clientVersion,
      protocolVersion: this.protocolVersion,
      signal,
      sendProgress: async (value, total, message) => {
        // Progress MUST increase (spec); the pipeline's own progress and the upstream's share
        // one token, so anything that would go backwards is dropped rather than sent.
        if (progress === null || signal.aborted || !(value > last)) return;
        last = value;
        progress(value, total, message);
      },
      receivedAt: Date.now(),
    };
  }

  /** One POST of this session: its JSON-RPC messages, already parsed and classified. */
  post(messages: Classified[], res: ServerResponse, meta: HttpRequestMeta, batch: boolean): void {
    this.lastActivity = Date.now();
    let requests = 0;
    for (const m of messages) if (m.kind === 'request') requests++;
    if (requests === 0) {
      // Notifications and responses only: accepted before they are processed, as the SDK does.
      res.writeHead(202).end();
      for (const m of messages) {
        if (m.kind === 'notification') this.notification(m, meta);
        else this.response(m as ResponseMessage);
      }
      return;
    }
    const out = new Downstream(res, this.id, requests, { sse: batch });
    for (const m of messages) {
      if (m.kind === 'request') void this.request(m, out, meta, res);
      else if (m.kind === 'notification') this.notification(m, meta);
      else this.response(m);
    }
  }

  private async request(m: RequestMessage, out: Downstream, meta: HttpRequestMeta, res: ServerResponse): Promise<void> {
    const { id, method } = m;
    if (method === 'ping') {
      out.answer(`{"jsonrpc":"2.0","id":${JSON.stringify(id)},"result":{}}`);
      return;
    }
    const bad = paramsProblem(method, m.params);
    if (bad !== null) {
      const refusal = GatewayError.of('invalid_params', `Invalid params for ${method}: ${bad}`);
      // Refused before the pipeline, and still recorded (before the answer goes out).
      const ctx = this.context(meta, id, NEVER, null);
      await this.interceptor
        .onHttpFailure({
          code: 'invalid_params',
          message: refusal.message,
          httpStatus: 200,
          identity: ctx.identity,
          sessionId: ctx.sessionId,
          sourceIp: ctx.sourceIp,
          userAgent: ctx.userAgent,
          method,
        })
        .catch((err) => this.init.onError(err, 'onHttpFailure invalid_params'));
      out.answer(errorJson(id, refusal));
      return;
    }
    const key = idKey(id);
    const ctrl = new AbortController();
    const ex: Exchange = { id, out, ctrl, meta, cancelled: false };
    // With no event store, a response whose connection is gone cannot be delivered later:
    // the work is stopped (the upstream request is cancelled).
    const onClose = () => {
      if (!res.writableFinished) ctrl.abort(new Error('client disconnected'));
    };
    res.once('close', onClose);
    const clientToken = isObject(m.params?._meta) ? (m.params._meta as JsonObject).progressToken : undefined;
    const progressToken = typeof clientToken === 'string' || typeof clientToken === 'number' ? clientToken : undefined;
    const ctx = this.context(
      meta,
      id,
      ctrl.signal,
      progressToken === undefined
        ? null
        : (progress, total, message) => {
            out.event(
              JSON.stringify({
                jsonrpc: '2.0',
                method: 'notifications/progress',
                params: { progressToken, progress, ...(total !== undefined && { total }), ...(message !== undefined && { message }) },
              }),
            );
          },
    );
    const forward: Forward = (params, other) => this.forward(ex, ctx, other ?? method, params, other === undefined && progressToken !== undefined);

    (this.inflight ??= new Map()).set(key, ex);
    let text: string;
    try {
      const result = await this.interceptor.onRequest(ctx, method, m.params, forward);
      const raw = rawResults.get(result)?.() ?? null;
      text = raw !== null ? `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"result":${raw}}` : JSON.stringify({ jsonrpc: '2.0', id, result });
    } catch (err) {
      text = errorJson(id, toClientError(err, this.init.onError));
    } finally {
      if (this.inflight?.get(key) === ex) this.inflight.delete(key);
      res.off('close', onClose);
      this.lastActivity = Date.now();
    }
    if (ex.cancelled) out.skip();
    else out.answer(text);
  }

  private async forward(ex: Exchange, ctx: RequestContext, method: string, params: JsonObject | undefined, progress: boolean): Promise<JsonObject> {
    const upId = this.up.id();
    // The client's progress token is never sent upstream: the upstream gets the gateway's own
    // (the upstream request id), and its notifications are mapped back onto the client's token.
    let outgoing = params;
    const meta = params?._meta;
    if (isObject(meta) && 'progressToken' in meta) {
      const { progressToken: _drop, ...rest } = meta;
      outgoing = { ...params, _meta: rest };
      if (Object.keys(rest).length === 0) delete outgoing._meta;
    }
    if (progress) outgoing = { ...outgoing, _meta: { ...(isObject(outgoing?._meta) ? outgoing._meta : {}), progressToken: upId } };
    const body = JSON.stringify(outgoing === undefined ? { jsonrpc: '2.0', id: upId, method } : { jsonrpc: '2.0', id: upId, method, params: outgoing });
    try {
      const reply = await this.up.request(this.upSession, upId, method, body, {
        signal: ex.ctrl.signal,
        onMessage: (msg, raw) => this.fromUpstream(msg, raw, ex.out, ex.meta, ctx, upId),
      });
      if (reply.sse) ex.out.preferSse = true;
      if (reply.raw !== null) rawResults.set(reply.result, reply.raw);
      return reply.result;
    } catch (err) {
      if (isSessionLost(err)) this.upstreamSessionLost();
      throw err;
    }
  }

  /**
   * A message the upstream sent on a request's stream (or on its GET stream: ctx null). Its
   * text is relayed untouched, except progress, whose token is mapped back to the client's.
   */
  private fromUpstream(msg: JsonObject, raw: string, out: Downstream, meta: HttpRequestMeta | null, ctx: RequestContext | null, upId: number | null): void {
    const method = msg.method;
    if (typeof method !== 'string') return; // a stray response: nothing to relay
    if ('id' in msg) {
      void this.serverRequest(msg, method, raw, out, meta);
      return;
    }
    if (method === 'notifications/progress') {
      const p = msg.params;
      if (ctx && isObject(p) && p.progressToken === upId && typeof p.progress === 'number') {
        void ctx.sendProgress(p.progress, typeof p.total === 'number' ? p.total : undefined, typeof p.message === 'string' ? p.message : undefined);
      }
      return;
    }
    if (method === 'notifications/cancelled' && isObject(msg.params)) {
      // The upstream gave up on one of its own requests to the client.
      const rid = msg.params.requestId;
      const p = (typeof rid === 'string' || typeof rid === 'number') && this.pending?.get(idKey(rid));
      if (p) p.reject(new GatewayError(SERVER_ERROR, 'cancelled by the upstream'));
    }
    // Upstream traffic does not count as activity: idleness is about the client, or a chatty
    // upstream would keep a session (and its open GET stream) alive forever.
    out.event(raw);
  }

  /** A server→client request (sampling, elicitation, roots, ping): through the pipeline's hook to the client. */
  private async serverRequest(msg: JsonObject, method: string, raw: string, out: Downstream, meta: HttpRequestMeta | null): Promise<void> {
    const id = msg.id;
    if (typeof id !== 'string' && typeof id !== 'number') return;
    const params = isObject(msg.params) ? msg.params : undefined;
    const key = idKey(id);
    const relay = () =>
      new Promise<JsonObject>((resolve, reject) => {
        if (this.ended || !out.event(raw)) {
          reject(new GatewayError(INTERNAL_ERROR, `Client could not answer ${method}: its stream is closed`));
          return;
        }
        const timer = setTimeout(() => {
          this.pending?.delete(key);
          reject(new GatewayError(INTERNAL_ERROR, `Client did not answer ${method} within ${RELAY_REQUEST_TIMEOUT_MS / 60_000} minutes`));
        }, RELAY_REQUEST_TIMEOUT_MS);
        timer.unref();
        (this.pending ??= new Map()).set(key, {
          resolve,
          reject: (e: unknown) => {
            clearTimeout(timer);
            this.pending?.delete(key);
            reject(e);
          },
          timer,
        });
      });
    let answer: string;
    try {
      const hook = this.interceptor.onServerRequest;
      const result = hook ? await hook.call(this.interceptor, this.context(meta, id, NEVER, null), method, params, relay) : await relay();
      answer = JSON.stringify({ jsonrpc: '2.0', id, result });
    } catch (err) {
      const e = err as { code?: unknown; message?: string; data?: unknown };
      const code = typeof e.code === 'number' && Number.isSafeInteger(e.code) ? e.code : INTERNAL_ERROR;
      const message = typeof e.code === 'number' ? String(e.message ?? 'error') : `Client could not answer ${method}: ${String(e.message ?? err).slice(0, 300)}`;
      answer = JSON.stringify({ jsonrpc: '2.0', id, error: { code, message, ...(e.data !== undefined && typeof e.code === 'number' && { data: e.data }) } });
    }
    if (this.ended) return;
    await this.up.send(this.upSession, answer, `the answer to ${method}`).catch((err) => this.init.onError(err, `relay answer to ${method} upstream`));
  }

  /** The client's answer to a server→client request; answers to requests never sent are dropped. */
  private response(m: ResponseMessage): void {
    if (m.id === undefined) return;
    const p = this.pending?.get(idKey(m.id));
    if (!p) return;
    clearTimeout(p.timer);
    this.pending!.delete(idKey(m.id));
    if (m.result) p.resolve(m.result);
    else p.reject(new GatewayError(m.error!.code, m.error!.message, isObject(m.error!.data) ? m.error!.data : m.error!.data === undefined ? undefined : { clientData: m.error!.data }));
  }

  /**
   * Client notifications: the pipeline hears every one (cancelled is audited, and the abort
   * does not wait for that); those relayed upstream go only once the pipeline accepted them.
   */
  private notification(n: NotificationMessage, meta: HttpRequestMeta): void {
    const audited = this.interceptor.onNotification(this.context(meta, null, NEVER, null), n.method, n.params);
    if (LOCAL_NOTIFICATIONS.has(n.method)) {
      audited.catch((err) => this.init.onError(err, `onNotification ${logSafeMethod(n.method)}`));
      if (n.method === 'notifications/cancelled') {
        const rid = n.params?.requestId;
        // Only this session's own requests: ids are per session, so another client's id means nothing here.
        const ex = (typeof rid === 'string' || typeof rid === 'number') && this.inflight?.get(idKey(rid));
        if (ex) {
          ex.cancelled = true;
          ex.ctrl.abort(new Error(typeof n.params?.reason === 'string' ? n.params.reason.slice(0, 200) : 'cancelled by client'));
        }
      }
      return;
    }
    const body = JSON.stringify(n.params === undefined ? { jsonrpc: '2.0', method: n.method } : { jsonrpc: '2.0', method: n.method, params: n.params });
    audited.then(
      () => this.up.send(this.upSession, body, n.method).catch((err) => this.init.onError(err, `relay ${logSafeMethod(n.method)} upstream`)),
      (err) => this.init.onError(err, `notification ${logSafeMethod(n.method)} refused`),
    );
  }

  /**
   * The session's standalone GET stream. The upstream's own GET stream is opened only while the
   * client holds one (nothing else would carry its messages), and its end ends the client's.
   */
  async openStream(res: ServerResponse, meta: HttpRequestMeta): Promise<void> {
    this.lastActivity = Date.now();
    if (this.getOut) throw new HttpRefusal('stream_conflict', 'Conflict: Only one SSE stream is allowed per session');
    const out = new Downstream(res, this.id, Infinity, { sse: true });
    this.getOut = out;
    let stream: UpstreamStream | null;
    try {
      stream = await this.up.stream(this.upSession, (msg, raw) => this.fromUpstream(msg, raw, out, meta, null, null));
    } catch (err) {
      this.getOut = null;
      if (isSessionLost(err)) this.upstreamSessionLost();
      throw new HttpRefusal('upstream_unavailable', (err as Error).message);
    }
    if (stream === null) {
      // The spec's answer when there is no standalone stream; clients then simply do without.
      // Not a refusal of the client (nothing to audit): MCP Toolbox, for one, offers none.
      this.getOut = null;
      res.writeHead(405, { 'content-type': 'application/json', allow: 'POST, DELETE' });
      res.end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: SERVER_ERROR, message: 'Method Not Allowed: the upstream MCP server offers no standalone event stream' } }));
      return;
    }
    if (this.ended || res.destroyed) {
      stream.close();
      if (this.getOut === out) this.getOut = null;
      out.close();
      return;
    }
    this.getUpstream = stream;
    out.open();
    const done = () => {
      stream.close();
      if (this.getOut === out) {
        this.getOut = null;
        this.getUpstream = null;
      }
      out.close();
    };
    res.once('close', done);
    void stream.closed.then(done);
  }

  /** DELETE: the session ends (upstream too); the 200 goes out after the pipeline was told. */
  async remove(res: ServerResponse): Promise<void> {
    await this.end('client_delete');
    if (!res.headersSent) res.writeHead(200).end();
  }

  /**
   * The upstream forgot our session (Toolbox expires idle sessions; a restart loses them all).
   * The client's next request gets 404 and, as the spec requires, it initializes afresh. Ending
   * is deferred a moment so the error for the request in hand still goes out first.
   */
  private upstreamSessionLost(): void {
    this.init.onEnded(this);
    setTimeout(() => void this.end('upstream_closed'), 50).unref?.();
  }

  /** Ends the session once: upstream session closed, client streams closed, pipeline told. */
  end(reason: EndReason): Promise<void> {
    this.ended ??= this.doEnd(reason);
    return this.ended;
  }

  private async doEnd(reason: EndReason): Promise<void> {
    this.init.onEnded(this);
    this.getUpstream?.close();
    this.getOut?.close();
    for (const ex of this.inflight?.values() ?? []) {
      ex.ctrl.abort(new Error('session ended'));
      ex.out.close();
    }
    for (const p of this.pending?.values() ?? []) p.reject(new GatewayError(SERVER_ERROR, 'session ended'));
    if (reason !== 'upstream_closed') await this.up.terminate(this.upSession);
    const ctx = this.context(null, null, AbortSignal.abort(), null);
    await this.interceptor.onSessionEnd(ctx, reason).catch((err) => this.init.onError(err, 'onSessionEnd'));
  }
}

/**
 * A fresh trace id: 32 hex digits from a random UUID (122 random bits). randomUUID draws from a
 * pooled random buffer, so unlike randomBytes it costs no system call per request.
 */
export function randomTraceId(): string {
  const u = randomUUID();
  return u.slice(0, 8) + u.slice(9, 13) + u.slice(14, 18) + u.slice(19, 23) + u.slice(24);
}

/** The catalog decides what the client reads: an error whose detail an agent may not see is answered with its summary. */
function errorJson(id: RequestId, e: GatewayError): string {
  return JSON.stringify({ jsonrpc: '2.0', id, error: e.forClient() });
}

/** Anything thrown at the client becomes a JSON-RPC error without internals. */
export function toClientError(err: unknown, onError: (err: unknown, where: string) => void): GatewayError {
  if (err instanceof GatewayError) return err;
  const e = err as { code?: unknown; message?: string; data?: unknown };
  if (e && typeof e.code === 'number' && Number.isSafeInteger(e.code) && e.code < 0) {
    return new GatewayError(e.code, String(e.message ?? 'error'), e.data as Record<string, unknown> | undefined);
  }
  onError(err, 'pipeline');
  return GatewayError.of('internal_error', 'Internal gateway error; the request was not completed');
}

/** Method names are client text: only protocol-shaped names reach the logs. */
function logSafeMethod(method: string): string {
  return /^[a-z_/]{1,60}$/.test(method) ? method : '(unrecognised method)';
}
