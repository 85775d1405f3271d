// The seam between the MCP transport (src/transport) and the request pipeline (src/pipeline).
// The transport owns protocol mechanics (sessions, SSE, ids, upstream connection); the
// pipeline owns decisions and audit. Imports go one way: transport -> pipeline.
import type { Identity } from '../identity/types.js';
import type { CallerContext } from '../audit/actor.js';
import type { ErrorCode } from '../common/errors.js';

/** Who is calling and through which session and client (audit/actor.ts's CallerContext), plus the call's own controls. */
export interface RequestContext extends CallerContext {
  /** Aborted when the client cancels or disconnects. */
  signal: AbortSignal;
  /** Sends notifications/progress to the client when it asked for progress (progressToken); no-op otherwise. */
  sendProgress(progress: number, total?: number, message?: string): Promise<void>;
  receivedAt: number;
}

/**
 * Sends the (possibly rewritten) request upstream and returns the upstream result. `method`
 * sends another request on the same upstream session instead (tools/list, for pinning).
 */
export type Forward = (params?: Record<string, unknown>, method?: string) => Promise<Record<string, unknown>>;

export { GatewayError } from '../common/errors.js';

export interface HttpFailure {
  /** A catalog code: malformed_json, wrong_content_type, body_too_large, batch_not_allowed, unknown_session, bad_origin, auth_failed, upstream_unavailable … */
  code: ErrorCode;
  message: string;
  httpStatus: number;
  identity: Identity | null;
  sessionId: string | null;
  sourceIp: string | null;
  userAgent: string | null;
  method: string | null;
}

export interface McpInterceptor {
  /** Every client->server request after identity. Resolve with the result to release; throw GatewayError to refuse. */
  onRequest(ctx: RequestContext, method: string, params: Record<string, unknown> | undefined, forward: Forward): Promise<Record<string, unknown>>;
  /**
   * Server->client requests the upstream makes (sampling/createMessage, elicitation/create,
   * roots/list): `relay` asks the client and returns its answer. Audited like client requests.
   */
  onServerRequest?(ctx: RequestContext, method: string, params: Record<string, unknown> | undefined, relay: () => Promise<Record<string, unknown>>): Promise<Record<string, unknown>>;
  /** Client->server notifications (initialized, cancelled, roots/list_changed …). */
  onNotification(ctx: RequestContext, method: string, params: Record<string, unknown> | undefined): Promise<void>;
  onSessionStart(ctx: RequestContext): Promise<void>;
  onSessionEnd(ctx: RequestContext, reason: 'client_delete' | 'expired' | 'shutdown' | 'upstream_closed'): Promise<void>;
  /** A request refused before it reached the pipeline (bad input, auth, unknown session). Must be audited. */
  onHttpFailure(failure: HttpFailure): Promise<void>;
}
