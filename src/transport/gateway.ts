// The MCP Streamable HTTP endpoint of the gateway (POST, GET, DELETE on one path), mounted on
// Fastify. Order of checks on every request: Origin → identity → body → shape → session →
// protocol version; each refusal gets its HTTP status, a JSON-RPC error body and an
// onHttpFailure call (audited) before the SDK transport ever sees the request.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import type { IncomingMessage } from 'node:http';
import { randomBytes, randomUUID } from 'node:crypto';
import {
  InitializeRequestSchema,
  JSONRPCMessageSchema,
  LATEST_PROTOCOL_VERSION,
  SUPPORTED_PROTOCOL_VERSIONS,
  isInitializeRequest,
} from '@modelcontextprotocol/sdk/types.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import type { Identity } from '../identity/types.js';
import type { McpInterceptor, RequestContext } from '../pipeline/types.js';
import {
  HttpRefusal,
  INTERNAL_ERROR,
  INVALID_REQUEST,
  SERVER_ERROR,
  SESSION_NOT_FOUND,
  batchAllowed,
  checkContentType,
  checkGetAccept,
  checkPostAccept,
  checkProtocolVersionHeader,
  errorBody,
  idOf,
  methodOf,
  parseJson,
  type JsonRpcId,
} from './jsonrpc.js';
import { McpSession, type HttpRequestMeta } from './session.js';
import { connectUpstream, probeUpstream, relayedClientCapabilities } from './upstream.js';

export interface McpGatewayOptions {
  upstream: { url: string; headers: () => Promise<Record<string, string>>; timeoutMs: number };
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
   * How long a session whose tokens all expired waits for its owner's refreshed token (OAuth
   * clients refresh when a call is refused, i.e. after expiry); default 5 minutes. Its open
   * stream is closed at expiry, and every request needs a valid token anyway.
   */
  authRefreshGraceMs?: number;
}

/**
 * Error summary safe for logs: SDK messages can embed whole JSON-RPC messages (e.g. "Received a
 * response for an unknown message ID: {…rows…}"), so anything from the first brace or bracket
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
  const m = tp ? /^[\da-f]{2}-([\da-f]{32})-[\da-f]{16}-[\da-f]{2}$/i.exec(tp.trim()) : null;
  if (m) return m[1].toLowerCase();
  const gcp = firstHeader(headers['x-cloud-trace-context']);
  const g = gcp ? /^([\da-f]{32})/i.exec(gcp) : null;
  if (g) return g[1].toLowerCase();
  return randomBytes(16).toString('hex');
}

export async function registerMcpGateway(app: FastifyInstance, opts: McpGatewayOptions): Promise<McpGatewayHandle> {
  const path = opts.path ?? '/mcp';
  const sessions = new Map<string, McpSession>();
  const identities = new WeakMap<IncomingMessage, Identity>();
  const allowedOrigins = new Set(opts.allowedOrigins);
  const onError = (err: unknown, where: string) => opts.logger?.warn({ ...safeError(err), where }, 'mcp transport');
  const maxPerIdentity = opts.maxSessionsPerIdentity ?? 64;
  const starting = new Map<string, number>();
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
    if (reply.sent || reply.raw.headersSent) return;
    reply.code(r.httpStatus).headers({ 'content-type': 'application/json', ...r.headers }).send(errorBody(id, r.rpcCode, r.message));
  }

  function sessionFor(request: FastifyRequest, requireHeader: boolean): McpSession | undefined {
    const sid = firstHeader(request.headers['mcp-session-id']);
    if (!sid) {
      if (!requireHeader) return undefined;
      throw new HttpRefusal(400, SERVER_ERROR, 'missing_session', 'Bad Request: Mcp-Session-Id header is required (send initialize first)');
    }
    const session = sessions.get(sid);
    if (!session) throw new HttpRefusal(404, SESSION_NOT_FOUND, 'unknown_session', 'Session not found: unknown, expired or closed Mcp-Session-Id; initialize a new session');
    const who = identities.get(request.raw);
    if (!who || identityKey(who) !== identityKey(session.identity)) {
      throw new HttpRefusal(403, SERVER_ERROR, 'session_identity_mismatch', 'Forbidden: this session belongs to a different identity');
    }
    session.sawToken(who);
    return session;
  }

  function httpMeta(request: FastifyRequest, reply: FastifyReply): HttpRequestMeta {
    const ac = new AbortController();
    reply.raw.on('close', () => {
      if (!reply.raw.writableFinished) ac.abort(new Error('client disconnected'));
    });
    return {
      identity: identities.get(request.raw)!,
      sourceIp: request.ip ?? null,
      userAgent: firstHeader(request.headers['user-agent']),
      traceId: traceIdOf(request.headers),
      disconnected: ac.signal,
    };
  }

  /** The SDK surfaces authInfo to handlers as extra.authInfo; the token itself is never kept. */
  function attach(request: FastifyRequest, meta: HttpRequestMeta) {
    const auth: AuthInfo = { token: '[redacted]', clientId: meta.identity.subject, scopes: [], extra: { bq: meta } };
    (request.raw as IncomingMessage & { auth?: AuthInfo }).auth = auth;
  }

  async function initialize(request: FastifyRequest, reply: FastifyReply, message: unknown) {
    const parsed = InitializeRequestSchema.safeParse(message);
    if (!parsed.success) {
      throw new HttpRefusal(400, INVALID_REQUEST, 'invalid_initialize', `Invalid initialize request: ${parsed.error.message.slice(0, 300)}`);
    }
    const params = parsed.data.params;
    const identity = identities.get(request.raw)!;
    const key = identityKey(identity);
    // Initializes still connecting upstream count too, so a burst cannot overshoot the cap.
    let held = starting.get(key) ?? 0;
    for (const s of sessions.values()) if (identityKey(s.identity) === key) held++;
    if (held >= maxPerIdentity) {
      throw new HttpRefusal(429, SERVER_ERROR, 'too_many_sessions', `Too Many Requests: this identity already holds ${held} open sessions (limit ${maxPerIdentity}); end one with DELETE or let it expire`);
    }
    starting.set(key, (starting.get(key) ?? 0) + 1);
    try {
      await startSession(request, reply, message, identity, params);
    } finally {
      const n = (starting.get(key) ?? 1) - 1;
      if (n > 0) starting.set(key, n);
      else starting.delete(key);
    }
  }

  async function startSession(
    request: FastifyRequest,
    reply: FastifyReply,
    message: unknown,
    identity: Identity,
    params: z.infer<typeof InitializeRequestSchema>['params'],
  ) {
    let upstream;
    try {
      upstream = await connectUpstream(opts.upstream, relayedClientCapabilities(params.capabilities));
    } catch (err) {
      throw new HttpRefusal(502, SERVER_ERROR, 'upstream_unavailable', (err as Error).message);
    }
    const id = randomUUID();
    const protocolVersion = SUPPORTED_PROTOCOL_VERSIONS.includes(params.protocolVersion) ? params.protocolVersion : LATEST_PROTOCOL_VERSION;
    const session = new McpSession({
      id,
      identity,
      clientName: params.clientInfo?.name?.slice(0, 200) ?? null,
      clientVersion: params.clientInfo?.version?.slice(0, 100) ?? null,
      protocolVersion,
      upstream,
      upstreamTimeoutMs: opts.upstream.timeoutMs,
      interceptor: opts.interceptor,
      onEnded: (s) => {
        if (sessions.get(s.id) === s) sessions.delete(s.id);
      },
      onError,
    });
    const meta = httpMeta(request, reply);
    const ctx: RequestContext = {
      identity,
      sessionId: id,
      requestId: String(idOf(message)),
      traceId: meta.traceId,
      sourceIp: meta.sourceIp,
      userAgent: meta.userAgent,
      clientName: session.clientName,
      clientVersion: session.clientVersion,
      protocolVersion,
      signal: meta.disconnected,
      sendProgress: async () => {},
      receivedAt: Date.now(),
    };
    try {
      // The session exists for audit before the client learns its id (fail closed).
      await opts.interceptor.onSessionStart(ctx);
      await session.start();
    } catch (err) {
      await upstream.close().catch(() => {});
      const e = err as { code?: unknown; message?: string };
      throw new HttpRefusal(
        503,
        typeof e.code === 'number' ? e.code : INTERNAL_ERROR,
        'session_start_failed',
        `Session could not be started: ${String(e.message ?? err).slice(0, 300)}`,
      );
    }
    if (closing) {
      await session.end('shutdown');
      throw new HttpRefusal(503, SERVER_ERROR, 'shutting_down', 'Gateway is shutting down');
    }
    sessions.set(id, session);
    attach(request, meta);
    reply.hijack();
    await session.handle(request.raw, reply.raw, message);
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
          if (Array.isArray(message)) {
            const s = sessions.get(sessionId ?? '');
            if (message.length === 0) throw new HttpRefusal(400, INVALID_REQUEST, 'invalid_jsonrpc', 'Invalid Request: empty batch');
            if (!batchAllowed(s?.protocolVersion ?? null)) {
              throw new HttpRefusal(
                400,
                INVALID_REQUEST,
                'batch_not_allowed',
                `Invalid Request: JSON-RPC batches are not supported${s ? ` on protocol version ${s.protocolVersion}` : ' outside a 2025-03-26 (or older) session'}; send one message per POST`,
              );
            }
            if (message.some((m) => isInitializeRequest(m))) {
              throw new HttpRefusal(400, INVALID_REQUEST, 'batch_not_allowed', 'Invalid Request: initialize must not be part of a batch');
            }
          }
          for (const m of Array.isArray(message) ? message : [message]) {
            const ok = JSONRPCMessageSchema.safeParse(m);
            if (!ok.success) throw new HttpRefusal(400, INVALID_REQUEST, 'invalid_jsonrpc', 'Invalid Request: not a JSON-RPC 2.0 message');
          }
          if (!Array.isArray(message) && isInitializeRequest(message)) {
            if (sessionId) throw new HttpRefusal(400, INVALID_REQUEST, 'invalid_initialize', 'Invalid Request: initialize must not carry an Mcp-Session-Id (this session is already initialized)');
            return await initialize(request, reply, message);
          }
          const session = sessionFor(request, true)!;
          checkProtocolVersionHeader(h);
          attach(request, httpMeta(request, reply));
          reply.hijack();
          return await session.handle(request.raw, reply.raw, message);
        }
        case 'GET': {
          checkGetAccept(h);
          const session = sessionFor(request, true)!;
          checkProtocolVersionHeader(h);
          attach(request, httpMeta(request, reply));
          reply.hijack();
          return await session.handle(request.raw, reply.raw);
        }
        case 'DELETE': {
          const session = sessionFor(request, true)!;
          checkProtocolVersionHeader(h);
          attach(request, httpMeta(request, reply));
          reply.hijack();
          return await session.handle(request.raw, reply.raw);
        }
        default:
          sessionId = null;
          throw new HttpRefusal(405, SERVER_ERROR, 'method_not_allowed', `Method Not Allowed: ${request.method} (use POST, GET or DELETE)`, {
            allow: 'GET, POST, DELETE',
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
      const r = new HttpRefusal(500, INTERNAL_ERROR, 'internal_error', 'Internal gateway error');
      if (reply.sent) {
        reply.raw.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify(errorBody(idOf(message), r.rpcCode, r.message)));
        return;
      }
      return refuse(request, reply, r, idOf(message), methodOf(message), null);
    }
  }

  await app.register(async (scope) => {
    // Bodies are kept raw so that malformed JSON gets a JSON-RPC parse error, not Fastify's.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: opts.bodyLimitBytes }, (_req, body, done) => done(null, body));

    scope.setErrorHandler(async (error: Error & { code?: string; statusCode?: number }, request, reply) => {
      const tooLarge = error.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || error.statusCode === 413;
      const r = tooLarge
        ? new HttpRefusal(413, SERVER_ERROR, 'body_too_large', `Payload Too Large: request body exceeds ${opts.bodyLimitBytes} bytes`)
        : (error.statusCode ?? 500) < 500
          ? new HttpRefusal(error.statusCode ?? 400, INVALID_REQUEST, 'bad_request', `Bad Request: ${error.message.slice(0, 200)}`)
          : new HttpRefusal(500, INTERNAL_ERROR, 'internal_error', 'Internal gateway error');
      if (r.httpStatus >= 500) onError(error, 'fastify');
      await refuse(request, reply, r, null, null, null);
      return reply;
    });

    scope.addHook('onRequest', async (request, reply) => {
      const origin = firstHeader(request.headers.origin);
      if (origin !== null && !allowedOrigins.has(origin)) {
        await refuse(request, reply, new HttpRefusal(403, SERVER_ERROR, 'bad_origin', `Forbidden: Origin ${JSON.stringify(origin.slice(0, 200))} is not allowed`), null, null, null);
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
          new HttpRefusal(401, SERVER_ERROR, 'auth_failed', `Unauthorized (${code}): ${String(e.message ?? 'authentication failed').slice(0, 300)}`, {
            'www-authenticate': opts.wwwAuthenticate(err),
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
  }, sweepEvery);
  sweeper.unref();

  return {
    sessions: () => sessions.size,
    async close() {
      closing = true;
      clearInterval(sweeper);
      await Promise.all([...sessions.values()].map((s) => s.end('shutdown')));
    },
    upstreamReady: () => probeUpstream(opts.upstream),
  };
}
