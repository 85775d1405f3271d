// Who did it, as audit fields: one mapping from a verified identity, shared by every surface
// that writes events (MCP pipeline, approvals, examiner console).
import type { AuditEventInput } from './event.js';
import type { Identity } from '../identity/types.js';

export function actorFields(identity: Identity | null, roles: string[] = identity?.roles ?? []): Partial<AuditEventInput> {
  if (!identity) return { actor_type: 'anonymous', auth_method: 'none', actor_roles: roles };
  return {
    actor_subject: identity.subject,
    actor_email: identity.email,
    actor_issuer: identity.issuer,
    actor_groups: identity.groups,
    actor_roles: roles,
    actor_type: identity.actorType,
    auth_method: identity.authMethod,
  };
}

/** What a call's audit event says about who sent it and through which session and client (the pipeline's RequestContext has these). */
export interface CallerContext {
  identity: Identity;
  sessionId: string | null;
  /** The client's JSON-RPC id, as a string; null for notifications. */
  requestId: string | null;
  traceId: string;
  sourceIp: string | null;
  userAgent: string | null;
  clientName: string | null;
  clientVersion: string | null;
  protocolVersion: string | null;
}

export function contextFields(ctx: CallerContext, roles: string[]): Partial<AuditEventInput> {
  return {
    ...actorFields(ctx.identity, roles),
    session_id: ctx.sessionId,
    request_id: ctx.requestId,
    trace_id: ctx.traceId,
    source_ip: ctx.sourceIp,
    user_agent: ctx.userAgent,
    client_name: ctx.clientName,
    client_version: ctx.clientVersion,
    protocol_version: ctx.protocolVersion,
  };
}
