// One client session = one downstream SDK Server + Streamable HTTP transport, paired with one
// upstream SDK Client session. Every client request is handed to the pipeline (interceptor)
// with a `forward` that reaches the upstream; every upstream message for the client is relayed
// on this session only, so JSON-RPC ids and progress tokens never cross clients.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import {
  CallToolRequestSchema,
  CompleteRequestSchema,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  ReadResourceRequestSchema,
  SetLevelRequestSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
  isJSONRPCNotification,
  type JSONRPCMessage,
  type Notification,
  type Request,
  type RequestId,
  type ServerCapabilities,
} from '@modelcontextprotocol/sdk/types.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { Identity } from '../identity/types.js';
import { GatewayError, type McpInterceptor, type RequestContext } from '../pipeline/types.js';
import { INTERNAL_ERROR, INVALID_PARAMS } from './jsonrpc.js';
import { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { PassthroughResultSchema, stripSdkPrefix, upstreamError, type UpstreamConnection } from './upstream.js';

/** What the HTTP layer knows about the request that carried a message (passed via authInfo). */
export interface HttpRequestMeta {
  identity: Identity;
  sourceIp: string | null;
  userAgent: string | null;
  traceId: string;
  /** Aborted when the client's HTTP connection goes away before its response was written. */
  disconnected: AbortSignal;
}

type Extra = RequestHandlerExtra<Request, Notification>;

/**
 * Params are validated with the SDK's own request schemas (bad params → -32602 before the
 * pipeline sees them), but the ORIGINAL params are forwarded: parsing is a check, never a
 * rewrite. Methods not listed (tasks/*, future methods) go through unvalidated and the
 * pipeline's method default decides.
 */
const REQUEST_SCHEMAS: Record<string, { safeParse(v: unknown): { success: boolean; error?: { message: string } } }> = {
  'tools/list': ListToolsRequestSchema,
  'tools/call': CallToolRequestSchema,
  'resources/list': ListResourcesRequestSchema,
  'resources/templates/list': ListResourceTemplatesRequestSchema,
  'resources/read': ReadResourceRequestSchema,
  'resources/subscribe': SubscribeRequestSchema,
  'resources/unsubscribe': UnsubscribeRequestSchema,
  'prompts/list': ListPromptsRequestSchema,
  'prompts/get': GetPromptRequestSchema,
  'completion/complete': CompleteRequestSchema,
  'logging/setLevel': SetLevelRequestSchema,
};

/** Client notifications the SDK Protocol consumes itself (lifecycle, cancellation, progress). */
const LOCAL_NOTIFICATIONS = new Set(['notifications/initialized', 'notifications/cancelled', 'notifications/progress']);

/** Relayed server->client requests (sampling, elicitation) wait on people; bound them anyway. */
const RELAY_REQUEST_TIMEOUT_MS = 60 * 60_000;

export type EndReason = 'client_delete' | 'expired' | 'shutdown' | 'upstream_closed';

export interface SessionInit {
  id: string;
  identity: Identity;
  clientName: string | null;
  clientVersion: string | null;
  protocolVersion: string;
  upstream: UpstreamConnection;
  upstreamTimeoutMs: number;
  interceptor: McpInterceptor;
  onEnded: (session: McpSession) => void;
  onError: (err: unknown, where: string) => void;
}

export class McpSession {
  readonly id: string;
  readonly identity: Identity;
  readonly clientName: string | null;
  readonly clientVersion: string | null;
  readonly protocolVersion: string;
  readonly server: Server;
  readonly transport: StreamableHTTPServerTransport;
  lastActivity = Date.now();
  /**
   * Expiry (epoch seconds) of the newest token seen on this session. Sessions are bounded by
   * it: once every token the client presented has expired, any open GET stream is closed, and
   * the session ends as expired unless a refreshed token arrives within the grace period.
   */
  authExpiresAt: number | null;
  /** Downstream requests being handled, in arrival order (for relating upstream messages). */
  private readonly inflight = new Set<RequestId>();
  private ended: Promise<void> | null = null;

  constructor(private readonly init: SessionInit) {
    this.id = init.id;
    this.identity = init.identity;
    this.authExpiresAt = init.identity.expiresAt;
    this.clientName = init.clientName;
    this.clientVersion = init.clientVersion;
    this.protocolVersion = init.protocolVersion;
    const up = init.upstream.client;

    this.server = new Server(up.getServerVersion() ?? { name: 'upstream', version: 'unknown' }, {
      capabilities: (up.getServerCapabilities() ?? {}) as ServerCapabilities,
      instructions: up.getInstructions(),
    });
    // The SDK answers logging/setLevel locally when logging is advertised; the level belongs to
    // the upstream (it emits the log messages), so it is forwarded like any other request.
    this.server.removeRequestHandler('logging/setLevel');
    this.server.fallbackRequestHandler = (req, extra) => this.onClientRequest(req, extra as Extra);
    this.server.fallbackNotificationHandler = (n) => this.onClientNotification(n);
    this.server.onerror = (err) => init.onError(err, 'downstream');

    this.transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => init.id,
      onsessionclosed: () => this.end('client_delete'),
    });

    up.fallbackNotificationHandler = (n) => this.relayNotification(n);
    up.fallbackRequestHandler = (req, extra) => this.relayRequest(req, extra as Extra);
    up.onerror = (err) => init.onError(err, 'upstream');
    up.onclose = () => {
      if (!this.ended) void this.end('upstream_closed');
    };
  }

  async start(): Promise<void> {
    await this.server.connect(this.transport);
    // Wrap the SDK's message intake so the pipeline hears every client notification, including
    // the ones the SDK consumes itself (cancelled: audited, and the abort must not wait for it).
    const sdkOnMessage = this.transport.onmessage!;
    this.transport.onmessage = (message: JSONRPCMessage, extra) => {
      this.lastActivity = Date.now();
      if (!isJSONRPCNotification(message)) return sdkOnMessage(message, extra);
      const meta = (extra?.authInfo?.extra as { bq?: HttpRequestMeta } | undefined)?.bq;
      const ctx = this.context(meta, null, new AbortController().signal, undefined, undefined);
      const audited = this.init.interceptor.onNotification(ctx, message.method, message.params as Record<string, unknown> | undefined);
      if (LOCAL_NOTIFICATIONS.has(message.method)) {
        audited.catch((err) => this.init.onError(err, `onNotification ${logSafeMethod(message.method)}`));
        return sdkOnMessage(message, extra);
      }
      // Relayed notifications go upstream only once the pipeline accepted them.
      audited.then(
        () => sdkOnMessage(message, extra),
        (err) => this.init.onError(err, `notification ${logSafeMethod(message.method)} refused`),
      );
    };
  }

  /** Hands one HTTP request of this session to the SDK transport. */
  async handle(req: IncomingMessage & { auth?: AuthInfo }, res: ServerResponse, body?: unknown): Promise<void> {
    this.lastActivity = Date.now();
    await this.transport.handleRequest(req, res, body);
  }

  /** No upstream message reaches the client on a stream opened under tokens that all expired. */
  closeStream(): void {
    this.transport.closeStandaloneSSEStream();
  }

  /** Records a fresh token of the session's owner (extends the session's auth bound). */
  sawToken(identity: Identity): void {
    if (this.authExpiresAt === null) return;
    this.authExpiresAt = identity.expiresAt === null ? null : Math.max(this.authExpiresAt, identity.expiresAt);
  }

  get busy(): boolean {
    return this.inflight.size > 0;
  }

  private context(
    meta: HttpRequestMeta | undefined,
    requestId: RequestId | null,
    signal: AbortSignal,
    progressToken: string | number | undefined,
    extra: Extra | undefined,
  ): RequestContext {
    let lastProgress = -Infinity;
    return {
      identity: meta?.identity ?? this.identity,
      sessionId: this.id,
      requestId: requestId === null ? null : String(requestId),
      traceId: meta?.traceId ?? randomBytes(16).toString('hex'),
      sourceIp: meta?.sourceIp ?? null,
      userAgent: meta?.userAgent ?? null,
      clientName: this.clientName,
      clientVersion: this.clientVersion,
      protocolVersion: this.protocolVersion,
      signal,
      sendProgress: async (progress, total, message) => {
        // Progress MUST increase (spec); the pipeline's own progress and the upstream's share
        // one token, so anything that would go backwards is dropped rather than sent.
        if (progressToken === undefined || !extra || signal.aborted || !(progress > lastProgress)) return;
        lastProgress = progress;
        await extra.sendNotification({
          method: 'notifications/progress',
          params: { progressToken, progress, ...(total !== undefined && { total }), ...(message !== undefined && { message }) },
        });
      },
      receivedAt: Date.now(),
    };
  }

  private async onClientRequest(request: Request, extra: Extra): Promise<Record<string, unknown>> {
    this.lastActivity = Date.now();
    const method = request.method;
    const schema = REQUEST_SCHEMAS[method];
    if (schema) {
      const parsed = schema.safeParse(request);
      if (!parsed.success) {
        throw new GatewayError(INVALID_PARAMS, `Invalid params for ${method}: ${parsed.error?.message.slice(0, 500) ?? 'rejected'}`);
      }
    }
    const meta = (extra.authInfo?.extra as { bq?: HttpRequestMeta } | undefined)?.bq;
    const signal = meta ? AbortSignal.any([extra.signal, meta.disconnected]) : extra.signal;
    const progressToken = extra._meta?.progressToken;
    const ctx = this.context(meta, extra.requestId, signal, progressToken, extra);
    const timeoutMs = this.init.upstreamTimeoutMs;

    const forward = async (params?: Record<string, unknown>): Promise<Record<string, unknown>> => {
      // The client's progress token is never sent upstream: the SDK Client mints its own and
      // onprogress maps the upstream's notifications back onto the client's token.
      let outgoing = params;
      if (params?._meta && typeof params._meta === 'object' && 'progressToken' in params._meta) {
        const { progressToken: _drop, ...restMeta } = params._meta as Record<string, unknown>;
        outgoing = { ...params, _meta: restMeta };
        if (Object.keys(restMeta).length === 0) delete outgoing._meta;
      }
      try {
        return await this.init.upstream.client.request({ method, params: outgoing } as never, PassthroughResultSchema, {
          signal,
          timeout: timeoutMs,
          onprogress:
            progressToken === undefined ? undefined : (p) => void ctx.sendProgress(p.progress, p.total, p.message).catch(() => {}),
        });
      } catch (err) {
        if (err instanceof StreamableHTTPError && err.code === 404 && this.init.upstream.transport.sessionId) this.upstreamSessionLost();
        throw upstreamError(err, timeoutMs, method);
      }
    };

    this.inflight.add(extra.requestId);
    try {
      return await this.init.interceptor.onRequest(ctx, method, request.params as Record<string, unknown> | undefined, forward);
    } catch (err) {
      throw toClientError(err, this.init.onError);
    } finally {
      this.inflight.delete(extra.requestId);
      this.lastActivity = Date.now();
    }
  }

  /**
   * The upstream forgot our session (Toolbox expires idle sessions; a restart loses them all).
   * The downstream session is ended so the client's next request gets 404 and, as the spec
   * requires, it initializes afresh. Ending is deferred a moment so the error for the request
   * in hand still goes out on its stream before the streams are closed.
   */
  private upstreamSessionLost(): void {
    this.init.onEnded(this);
    setTimeout(() => void this.end('upstream_closed'), 50).unref?.();
  }

  /** Client notifications other than lifecycle/cancel/progress (e.g. roots/list_changed). */
  private async onClientNotification(n: Notification): Promise<void> {
    await this.init.upstream.client.notification(n as never).catch((err) => this.init.onError(err, `relay ${n.method} upstream`));
  }

  /**
   * Upstream messages do not say which upstream request they belong to at this layer, so they
   * ride on the stream of the newest in-flight client request (where a client waiting on a
   * tools/call expects them), or on the client's standalone GET stream when nothing is in flight.
   */
  private relatedRequestId(): RequestId | undefined {
    let last: RequestId | undefined;
    for (const id of this.inflight) last = id;
    return last;
  }

  // Upstream traffic does not count as activity: idleness is about the client, or a chatty
  // upstream would keep a session (and its open GET stream) alive forever.
  private async relayNotification(n: Notification): Promise<void> {
    try {
      await this.server.notification(n as never, { relatedRequestId: this.relatedRequestId() });
    } catch (err) {
      this.init.onError(err, `relay ${n.method} to client`);
    }
  }

  private async relayRequest(req: Request, extra: Extra): Promise<Record<string, unknown>> {
    const relay = () =>
      this.server.request(req as never, PassthroughResultSchema, {
        signal: extra.signal,
        timeout: RELAY_REQUEST_TIMEOUT_MS,
        relatedRequestId: this.relatedRequestId(),
      }) as Promise<Record<string, unknown>>;
    try {
      const hook = this.init.interceptor.onServerRequest;
      if (!hook) return await relay();
      const ctx = this.context(undefined, extra.requestId ?? null, extra.signal, undefined, undefined);
      return await hook.call(this.init.interceptor, ctx, req.method, req.params as Record<string, unknown> | undefined, relay);
    } catch (err) {
      const e = err as { code?: unknown; message?: string; data?: unknown };
      if (typeof e.code === 'number') {
        throw new GatewayError(e.code, stripSdkPrefix(String(e.message ?? 'error')), e.data as Record<string, unknown> | undefined);
      }
      throw new GatewayError(INTERNAL_ERROR, `Client could not answer ${req.method}: ${String(e.message ?? err).slice(0, 300)}`);
    }
  }

  /** Ends the session once: upstream session closed, downstream streams closed, pipeline told. */
  end(reason: EndReason): Promise<void> {
    // Deferred by a microtask so `ended` is set before closing the upstream client fires its
    // onclose (which would otherwise start a second end with reason upstream_closed).
    if (!this.ended) this.ended = Promise.resolve().then(() => this.doEnd(reason));
    return this.ended;
  }

  private async doEnd(reason: EndReason): Promise<void> {
    this.init.onEnded(this);
    await this.init.upstream.close().catch((err) => this.init.onError(err, 'close upstream'));
    // On client_delete the SDK transport closes itself right after this callback returns.
    if (reason !== 'client_delete') await this.server.close().catch((err) => this.init.onError(err, 'close downstream'));
    const ctx = this.context(undefined, null, AbortSignal.abort(), undefined, undefined);
    await this.init.interceptor.onSessionEnd(ctx, reason).catch((err) => this.init.onError(err, 'onSessionEnd'));
  }
}

/** Anything thrown at the client becomes a JSON-RPC error without SDK prefixes or internals. */
export function toClientError(err: unknown, onError: (err: unknown, where: string) => void): GatewayError {
  if (err instanceof GatewayError) return err;
  const e = err as { code?: unknown; message?: string; data?: unknown };
  if (e && typeof e.code === 'number' && Number.isSafeInteger(e.code) && e.code < 0) {
    return new GatewayError(e.code, stripSdkPrefix(String(e.message ?? 'error')), e.data as Record<string, unknown> | undefined);
  }
  onError(err, 'pipeline');
  return new GatewayError(INTERNAL_ERROR, 'Internal gateway error; the request was not completed', { reason: 'internal_error' });
}

/** Method names are client text: only protocol-shaped names reach the logs. */
function logSafeMethod(method: string): string {
  return /^[a-z_/]{1,60}$/.test(method) ? method : '(unrecognised method)';
}
