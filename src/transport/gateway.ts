// The MCP Streamable HTTP endpoint of the gateway (POST, GET, DELETE on one path), mounted on
// Fastify. Order of checks on every request: Origin → identity → body → shape → session →
// protocol version; each refusal gets its HTTP status, a JSON-RPC error body and an
// onHttpFailure call (audited) before anything reaches the pipeline or the upstream.
// The data path is lean on purpose: one JSON parse per message, no SDK Server or Client,
// responses written straight to the socket (see session.ts, upstream.ts).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { IncomingMessage } from 'node:http';
import { InitializeRequestSchema, LATEST_PROTOCOL_VERSION, SUPPORTED_PROTOCOL_VERSIONS } from '@modelcontextprotocol/sdk/types.js';
import type { Identity } from '../identity/types.js';
import type { McpInterceptor, RequestContext } from '../pipeline/types.js';
import { HttpRefusal, batchAllowed, checkContentType, checkGetAccept, checkPostAccept, checkProtocolVersionHeader, errorBody, idOf, methodOf, parseJson, type JsonRpcId } from './jsonrpc.js';
import { classify, type Classified, type JsonObject } from './messages.js';
import { McpSession, randomTraceId, type HttpRequestMeta } from './session.js';
import { SessionIds, ownerOf, type SessionRecord } from './session-id.js';
import { UpstreamClient, relayedClientCapabilities, type Upstream, type UpstreamSession } from './upstream.js';
import { RoutedUpstream, type ToolRoutes } from './routed-upstream.js';

interface UpstreamEndpoint {
  url: string;
  headers: () => Promise<Record<string, string>>;
  timeoutMs: number;
}

export interface McpGatewayOptions {
  upstream: UpstreamEndpoint;
  /**
   * Several upstreams behind the one endpoint, routed by tool (routed-upstream.ts); `upstream`
   * is then unused. One entry (or none) keeps the single direct upstream.
   */
  upstreams?: { endpoints: (UpstreamEndpoint & { id: string })[]; routes: () => ToolRoutes };
  interceptor: McpInterceptor;
  /** Throws on failure; the error has `code` (string) and `message`; answered 401 with `wwwAuthenticate(err)`. */
  authenticate: (req: { headers: Record<string, string | string[] | undefined>; ip: string }) => Promise<Identity>;
  wwwAuthenticate: (err?: unknown) => string;
  /** Origin allow-list (DNS rebinding protection); requests without Origin are allowed (non-browser clients). */
  allowedOrigins: string[];
  bodyLimitBytes: number;
  sessionIdleTimeoutMs: number;
  /** default '/mcp' */
  path?: string;
  /** Where operational errors go (pino-compatible); silent when absent. */
  logger?: { warn(obj: object, msg?: string): void };
  /** Open sessions one identity may hold (each costs an upstream session); default 64. */
  maxSessionsPerIdentity?: number;
  /**
   * Key material shared by every gateway instance (≥ 32 bytes). Session ids are sealed with it,
   * so any instance can resume a session another one created. Without it, a random key per
   * process: sessions then stay on the instance that created them.
   */
  sessionSecret?: Uint8Array | null;
  /** A session id older than this is refused (404) everywhere; default 24 h. */
  sessionMaxAgeMs?: number;
  /**
   * How long a session whose tokens all expired waits for its owner's refreshed token (OAuth
   * clients refresh when a call is refused, i.e. after expiry); default 5 minutes. Its open
   * stream is closed at expiry, and every request needs a valid token anyway.
   */
  authRefreshGraceMs?: number;
}

/**
 * Error summary safe for logs: error messages can embed whole JSON-RPC messages (e.g. "Received
 * a response for an unknown message ID: {…rows…}"), so anything from the first brace or bracket
 * on is cut and the rest is truncated; no query results or parameters reach the log.
 */
export function safeError(err: unknown): { err_name: string; err_code: string | number | null; err: string } {
  const e = err as { name?: unknown; code?: unknown; message?: unknown };
  const message = String(e?.message ?? err)
    .replace(/[[{][\s\S]*$/, '[…]')
    .slice(0, 160);
  return {
    err_name: typeof e?.name === 'string' ? e.name : 'Error',
    err_code: typeof e?.code === 'string' || typeof e?.code === 'number' ? e.code : null,
    err: message,
  };
}

export interface McpGatewayHandle {
  /** Open sessions. */
  sessions(): number;
  /** Ends every session (onSessionEnd 'shutdown') and stops the idle sweeper. */
  close(): Promise<void>;
  /** True when the upstream answers and accepts the gateway's credentials. */
  upstreamReady(): Promise<boolean>;
}

const identityKey = (i: Identity) => `${i.issuer}\u0000${i.subject}`;

function firstHeader(v: string | string[] | undefined): string | null {
  if (v === undefined) return null;
  return (Array.isArray(v) ? v[0] : v) ?? null;
}

/** W3C traceparent / Cloud Run's X-Cloud-Trace-Context when present, else a fresh id. */
function traceIdOf(headers: Record<string, string | string[] | undefined>): string {
  const tp = firstHeader(headers.traceparent);
  const m = tp ? /^[\da-f]{2}-([\da-f]{32})-[\da-f]{16}-[\da-f]{2}$/i.exec(tp.trim())?.[1] : undefined;
  if (m) return m.toLowerCase();
  const gcp = firstHeader(headers['x-cloud-trace-context']);
  const g = gcp ? /^([\da-f]{32})/i.exec(gcp)?.[1] : undefined;
  if (g) return g.toLowerCase();
  return randomTraceId();
}

/** Ended ids answer 404 on this instance; remembered for the id lifetime, at most this many. */
const MAX_TOMBSTONES = 100_000;

export async function registerMcpGateway(app: FastifyInstance, opts: McpGatewayOptions): Promise<McpGatewayHandle> {
  const path = opts.path ?? '/mcp';
  const sessions = new Map<string, McpSession>();
  /** Open sessions (and initializes under way) per identity, for maxSessionsPerIdentity. */
  const held = new Map<string, number>();
  /** Ids this instance ended (DELETE, expiry, upstream loss): they stay ended here. */
  const ended = new Map<string, number>();
  // Keyed by the id's last 22 characters (its GCM tag, unique per id), not the ~250-character
  // id: a day of ended sessions stays a few MB. A collision could only cause a wrong 404.
  const tombstone = (id: string) => id.slice(-22);
  /** Sessions being rebuilt from their id, so concurrent requests rebuild once. */
  const resuming = new Map<string, Promise<McpSession>>();
  const identities = new WeakMap<IncomingMessage, Identity>();
  const allowedOrigins = new Set(opts.allowedOrigins);
  const onError = (err: unknown, where: string) => opts.logger?.warn({ ...safeError(err), where }, 'mcp transport');
  const maxPerIdentity = opts.maxSessionsPerIdentity ?? 64;
  const maxAgeMs = opts.sessionMaxAgeMs ?? 24 * 60 * 60_000;
  const upstream: Upstream =
    opts.upstreams && opts.upstreams.endpoints.length > 1
      ? new RoutedUpstream(
          opts.upstreams.endpoints.map((e) => ({ id: e.id, client: new UpstreamClient(e) })),
          opts.upstreams.routes,
        )
      : new UpstreamClient(opts.upstreams?.endpoints[0] ?? opts.upstream);
  const ids = new SessionIds(opts.sessionSecret ?? null);
  let closing = false;

  async function refuse(request: FastifyRequest, reply: FastifyReply, r: HttpRefusal, id: JsonRpcId, method: string | null, sessionId: string | null) {
    try {
      await opts.interceptor.onHttpFailure({
        code: r.failureCode,
        message: r.message,
        httpStatus: r.httpStatus,
        identity: identities.get(request.raw) ?? null,
        sessionId,
        sourceIp: request.ip ?? null,
        userAgent: firstHeader(request.headers['user-agent']),
        method,
      });
    } catch (err) {
      // The refusal stands either way; an unaudited refusal is logged loudly.
      onError(err, `onHttpFailure ${r.failureCode}`);
    }
    const raw = reply.raw;
    if (raw.headersSent || raw.destroyed) return;
    const body = JSON.stringify(errorBody(id, r.rpcCode, r.clientMessage));
    if (reply.sent) raw.writeHead(r.httpStatus, { 'content-type': 'application/json', ...r.headers }).end(body);
    else
      reply
        .code(r.httpStatus)
        .headers({ 'content-type': 'application/json', ...r.headers })
        .send(body);
  }

  function take(key: string): void {
    held.set(key, (held.get(key) ?? 0) + 1);
  }
  function release(key: string): void {
    const n = (held.get(key) ?? 1) - 1;
    if (n > 0) held.set(key, n);
    else held.delete(key);
  }
  /** Counts the session against its owner's cap (initializes still connecting count too). */
  function reserve(identity: Identity): string {
    const key = identityKey(identity);
    const n = held.get(key) ?? 0;
    if (n >= maxPerIdentity) {
      throw new HttpRefusal('too_many_sessions', `Too Many Requests: this identity already holds ${n} open sessions (limit ${maxPerIdentity}); end one with DELETE or let it expire`);
    }
    take(key);
    return key;
  }

  function register(session: McpSession): void {
    sessions.set(session.id, session);
  }

  function onEnded(s: McpSession): void {
    if (sessions.get(s.id) !== s) return;
    sessions.delete(s.id);
    release(identityKey(s.identity));
    ended.set(tombstone(s.id), Date.now());
    if (ended.size > MAX_TOMBSTONES) ended.delete(ended.keys().next().value!);
  }

  function meta(request: FastifyRequest): HttpRequestMeta {
    return {
      identity: identities.get(request.raw)!,
      sourceIp: request.ip ?? null,
      userAgent: firstHeader(request.headers['user-agent']),
      traceId: traceIdOf(request.headers),
    };
  }

  /**
   * Builds a session around a fresh upstream session and has the pipeline record it before
   * anyone learns its id (fail closed: no audit record, no session).
   */
  async function openSession(identity: Identity, record: SessionRecord, id: string | null, m: HttpRequestMeta, requestId: JsonRpcId) {
    let up: { session: UpstreamSession; result: JsonObject; sse: boolean };
    try {
      up = await upstream.initialize(record.capabilities);
    } catch (err) {
      throw new HttpRefusal('upstream_unavailable', (err as Error).message);
    }
    const sessionId = id ?? ids.seal(record);
    const session = new McpSession({
      id: sessionId,
      identity,
      clientName: record.clientName,
      clientVersion: record.clientVersion,
      protocolVersion: record.protocolVersion,
      upstream,
      upstreamSession: up.session,
      interceptor: opts.interceptor,
      onEnded,
      onError,
    });
    const ctx: RequestContext = {
      ...session.context(m, requestId, new AbortController().signal, null),
      requestId: requestId === null ? null : String(requestId),
    };
    try {
      await opts.interceptor.onSessionStart(ctx);
    } catch (err) {
      await upstream.terminate(up.session);
      const e = err as { code?: unknown; message?: string };
      throw new HttpRefusal('session_start_failed', `Session could not be started: ${String(e.message ?? err).slice(0, 300)}`, typeof e.code === 'number' ? { rpcCode: e.code } : {});
    }
    if (closing) {
      await session.end('shutdown');
      throw new HttpRefusal('shutting_down', 'Gateway is shutting down');
    }
    register(session);
    return { session, up };
  }

  async function initialize(request: FastifyRequest, reply: FastifyReply, message: JsonObject) {
    const parsed = InitializeRequestSchema.safeParse(message);
    if (!parsed.success) {
      throw new HttpRefusal('invalid_initialize', `Invalid initialize request: ${parsed.error.message.slice(0, 300)}`);
    }
    const params = parsed.data.params;
    const identity = identities.get(request.raw)!;
    const key = reserve(identity);
    let opened;
    try {
      const record: SessionRecord = {
        owner: ownerOf(identity),
        protocolVersion: SUPPORTED_PROTOCOL_VERSIONS.includes(params.protocolVersion) ? params.protocolVersion : LATEST_PROTOCOL_VERSION,
        clientName: params.clientInfo?.name?.slice(0, 100) ?? null,
        clientVersion: params.clientInfo?.version?.slice(0, 100) ?? null,
        capabilities: relayedClientCapabilities(params.capabilities),
        createdAt: Date.now(),
      };
      opened = await openSession(identity, record, null, meta(request), idOf(message));
    } catch (err) {
      release(key); // from here on the open session holds the slot, released when it ends
      throw err;
    }
    const { session, up } = opened;
    // The upstream's initialize result, with the version this client negotiated.
    const text = JSON.stringify({ jsonrpc: '2.0', id: message.id, result: { ...up.result, protocolVersion: session.protocolVersion } });
    reply.hijack();
    const res = reply.raw;
    if (up.sse) {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'mcp-session-id': session.id });
      res.end(`event: message\ndata: ${text}\n\n`);
    } else {
      res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': session.id }).end(text);
    }
  }

  /**
   * The session an id names: one this instance holds, or one it rebuilds from the id (created
   * by another instance, or by this one before a restart) — same owner only.
   */
  async function sessionFor(request: FastifyRequest): Promise<McpSession> {
    const sid = firstHeader(request.headers['mcp-session-id']);
    if (!sid) throw new HttpRefusal('missing_session', 'Bad Request: Mcp-Session-Id header is required (send initialize first)');
    const who = identities.get(request.raw)!;
    let session = sessions.get(sid);
    if (!session) session = await resume(request, sid, who);
    if (identityKey(who) !== identityKey(session.identity)) {
      throw new HttpRefusal('session_identity_mismatch', 'Forbidden: this session belongs to a different identity');
    }
    session.sawToken(who);
    return session;
  }

  const notFound = () => new HttpRefusal('unknown_session', 'Session not found: unknown, expired or closed Mcp-Session-Id; initialize a new session');

  async function resume(request: FastifyRequest, sid: string, who: Identity): Promise<McpSession> {
    if (ended.has(tombstone(sid)) || closing) throw notFound();
    const record = ids.open(sid);
    if (!record || Date.now() - record.createdAt > maxAgeMs) throw notFound();
    if (record.owner !== ownerOf(who)) {
      throw new HttpRefusal('session_identity_mismatch', 'Forbidden: this session belongs to a different identity');
    }
    let p = resuming.get(sid);
    if (!p) {
      p = (async () => {
        const key = reserve(who);
        try {
          return (await openSession(who, record, sid, meta(request), null)).session;
        } catch (err) {
          release(key);
          throw err;
        }
      })();
      resuming.set(sid, p);
      const forget = () => resuming.delete(sid);
      p.then(forget, forget);
    }
    return p;
  }

  async function handle(request: FastifyRequest, reply: FastifyReply) {
    let message: unknown;
    let sessionId: string | null = firstHeader(request.headers['mcp-session-id']);
    try {
      const h = request.headers;
      switch (request.method) {
        case 'POST': {
          checkPostAccept(h);
          checkContentType(h);
          message = parseJson(request.body as Buffer | undefined);
          const batch = Array.isArray(message);
          const list: unknown[] = batch ? (message as unknown[]) : [message];
          if (batch) {
            const s = sessions.get(sessionId ?? '');
            if (list.length === 0) throw new HttpRefusal('invalid_jsonrpc', 'Invalid Request: empty batch');
            if (!batchAllowed(s?.protocolVersion ?? (sessionId ? (ids.open(sessionId)?.protocolVersion ?? null) : null))) {
              throw new HttpRefusal(
                'batch_not_allowed',
                `Invalid Request: JSON-RPC batches are not supported${s ? ` on protocol version ${s.protocolVersion}` : ' outside a 2025-03-26 (or older) session'}; send one message per POST`,
              );
            }
          }
          const classified: Classified[] = [];
          for (const m of list) {
            const c = classify(m);
            if (!c) throw new HttpRefusal('invalid_jsonrpc', 'Invalid Request: not a JSON-RPC 2.0 message');
            if (c.kind === 'request' && c.method === 'initialize') {
              if (batch) throw new HttpRefusal('batch_not_allowed', 'Invalid Request: initialize must not be part of a batch');
              if (sessionId) throw new HttpRefusal('invalid_initialize', 'Invalid Request: initialize must not carry an Mcp-Session-Id (this session is already initialized)');
              return await initialize(request, reply, m as JsonObject);
            }
            classified.push(c);
          }
          const session = await sessionFor(request);
          checkProtocolVersionHeader(h);
          reply.hijack();
          session.post(classified, reply.raw, meta(request), batch);
          return;
        }
        case 'GET': {
          checkGetAccept(h);
          const session = await sessionFor(request);
          checkProtocolVersionHeader(h);
          reply.hijack();
          return await session.openStream(reply.raw, meta(request));
        }
        case 'DELETE': {
          const session = await sessionFor(request);
          checkProtocolVersionHeader(h);
          reply.hijack();
          return await session.remove(reply.raw);
        }
        default:
          sessionId = null;
          throw new HttpRefusal('method_not_allowed', `Method Not Allowed: ${request.method} (use POST, GET or DELETE)`, {
            headers: { allow: 'GET, POST, DELETE' },
          });
      }
    } catch (err) {
      if (err instanceof HttpRefusal) {
        return refuse(request, reply, err, idOf(message), methodOf(message), sessions.has(sessionId ?? '') ? sessionId : null);
      }
      onError(err, 'handle');
      if (reply.raw.headersSent) {
        reply.raw.destroy();
        return;
      }
      return refuse(request, reply, new HttpRefusal('internal_error', 'Internal gateway error'), idOf(message), methodOf(message), null);
    }
  }

  await app.register(async (scope) => {
    // Bodies are kept raw so that malformed JSON gets a JSON-RPC parse error, not Fastify's.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: opts.bodyLimitBytes }, (_req, body, done) => done(null, body));

    scope.setErrorHandler(async (error: Error & { code?: string; statusCode?: number }, request, reply) => {
      const tooLarge = error.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || error.statusCode === 413;
      const r = tooLarge
        ? new HttpRefusal('body_too_large', `Payload Too Large: request body exceeds ${opts.bodyLimitBytes} bytes`)
        : (error.statusCode ?? 500) < 500
          ? new HttpRefusal('bad_request', `Bad Request: ${error.message.slice(0, 200)}`, { httpStatus: error.statusCode ?? 400 })
          : new HttpRefusal('internal_error', 'Internal gateway error');
      if (r.httpStatus >= 500) onError(error, 'fastify');
      await refuse(request, reply, r, null, null, null);
      return reply;
    });

    scope.addHook('onRequest', async (request, reply) => {
      const origin = firstHeader(request.headers.origin);
      if (origin !== null && !allowedOrigins.has(origin)) {
        await refuse(request, reply, new HttpRefusal('bad_origin', `Forbidden: Origin ${JSON.stringify(origin.slice(0, 200))} is not allowed`), null, null, null);
        return reply;
      }
      try {
        identities.set(request.raw, await opts.authenticate({ headers: request.headers, ip: request.ip }));
      } catch (err) {
        const e = err as { code?: unknown; message?: string };
        const code = typeof e.code === 'string' ? e.code : 'auth_error';
        await refuse(
          request,
          reply,
          new HttpRefusal('auth_failed', `Unauthorized (${code}): ${String(e.message ?? 'authentication failed').slice(0, 300)}`, {
            headers: { 'www-authenticate': opts.wwwAuthenticate(err) },
          }),
          null,
          null,
          null,
        );
        return reply;
      }
    });

    scope.all(path, handle);
  });

  const refreshGraceMs = opts.authRefreshGraceMs ?? 5 * 60_000;
  // Once a second at most: cheap, and it bounds how long a session outlives its token.
  const sweepEvery = Math.max(25, Math.min(1000, Math.floor(opts.sessionIdleTimeoutMs / 4)));
  const sweeper = setInterval(() => {
    const now = Date.now();
    for (const s of sessions.values()) {
      if (s.busy) continue;
      const expiredFor = s.authExpiresAt === null ? -1 : now - s.authExpiresAt * 1000;
      if (expiredFor >= 0) s.closeStream();
      if (now - s.lastActivity > opts.sessionIdleTimeoutMs || expiredFor > refreshGraceMs) void s.end('expired');
    }
    // A tombstone is needed only while its id could still be accepted.
    for (const [id, at] of ended) {
      if (now - at <= maxAgeMs) break;
      ended.delete(id);
    }
  }, sweepEvery);
  sweeper.unref();

  return {
    sessions: () => sessions.size,
    async close() {
      closing = true;
      clearInterval(sweeper);
      await Promise.all([...sessions.values()].map((s) => s.end('shutdown')));
      await upstream.close();
    },
    upstreamReady: () => upstream.probe(),
  };
}
