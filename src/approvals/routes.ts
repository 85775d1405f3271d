// The HTTP API for approvers (and the CLI, which is a client of it): bearer-token auth through
// the same identity layer as MCP, JSON in and out, every refusal explained.
import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Identity } from '../identity/types.js';
import type { ApprovalPolicyView } from './gate.js';
import { actorOf, callBinding, sameActor } from './binding.js';
import { ApprovalError, reviewerFields, type ApprovalService, type Reviewer } from './service.js';
import { approvalView, type ApprovalDetailView } from './views.js';
import type { ApprovalRecord } from './types.js';
import type { RequestClient } from '../web/index.js';

export type Authenticate = (headers: IncomingHttpHeaders) => Promise<Identity>;

export interface RouteDeps {
  service: ApprovalService;
  policy: () => ApprovalPolicyView;
  authenticate: Authenticate;
  /** The gateway's one audited path for refused credentials (the web module's). */
  authFailure: (req: FastifyRequest, err: Error, surface: string) => Promise<void>;
  /** Source IP and scanned User-Agent (the web module's). */
  client: (req: FastifyRequest) => RequestClient;
  reviewUrl: (id: string) => string;
}

export function reviewerOf(client: RequestClient, identity: Identity, roles: string[], door: string): Reviewer {
  return { identity, roles, sourceIp: client.sourceIp, userAgent: client.userAgent, door };
}

/** What this viewer may do with the request now; the reason when not. */
function permissions(service: ApprovalService, rec: ApprovalRecord, identity: Identity, roles: string[]): { canApprove: boolean; canReject: boolean; whyNot: string | null } {
  const status = service.status(rec);
  const me = actorOf(identity, roles);
  const own = sameActor(me, rec.requester);
  const approver = roles.some((r) => rec.approverRoles.includes(r));
  if (status !== 'pending' && status !== 'approved') return { canApprove: false, canReject: false, whyNot: `the request is ${status}` };
  const canReject = own || approver;
  if (own) return { canApprove: false, canReject, whyNot: 'you asked for this statement; another person must approve it (separation of duties)' };
  if (!approver) return { canApprove: false, canReject, whyNot: `approving needs role ${rec.approverRoles.join(' or ')}` };
  if (status === 'approved') return { canApprove: false, canReject, whyNot: 'it already has every approval it needs' };
  if (rec.approvals.some((v) => sameActor(v.actor, me))) return { canApprove: false, canReject, whyNot: 'you already approved it; it needs another approver' };
  if (!(service.deps.config.approverActorTypes as string[]).includes(identity.actorType)) {
    return { canApprove: false, canReject, whyNot: `approvals must come from ${service.deps.config.approverActorTypes.join(' or ')} actors` };
  }
  return { canApprove: true, canReject, whyNot: null };
}

export async function detailView(deps: Pick<RouteDeps, 'service' | 'reviewUrl'>, rec: ApprovalRecord, identity: Identity, roles: string[]): Promise<ApprovalDetailView> {
  const p = permissions(deps.service, rec, identity, roles);
  const key = callBinding(rec);
  const duplicates = [...(key === null ? [] : (deps.service.state.byBinding.get(key) ?? []))]
    .filter((r) => r.id !== rec.id && deps.service.canView(r, identity, roles))
    .sort((a, b) => a.requestedAt.localeCompare(b.requestedAt))
    .map((r) => ({ id: r.id, status: deps.service.status(r), requested_at: r.requestedAt }));
  return {
    ...approvalView(rec, deps.service.status(rec), deps.reviewUrl(rec.id), deps.service.now()),
    exact_sql: await deps.service.exactText(rec),
    can_approve: p.canApprove,
    can_reject: p.canReject,
    why_not: p.whyNot,
    duplicates,
  };
}

/** Showing the exact statement discloses literals: who looked is recorded. */
export async function auditView(service: ApprovalService, rec: ApprovalRecord, r: Reviewer): Promise<void> {
  await service.deps.audit.append({
    event_type: 'console_access',
    ...reviewerFields(r),
    mcp_method: `approvals/${r.door}/view`,
    approval_id: rec.id,
    sql_sha256: rec.sqlSha256,
    tool_name: rec.tool,
    target_tables: rec.tables,
    outcome: 'success',
  });
}

function sendError(reply: FastifyReply, err: unknown): FastifyReply {
  if (err instanceof ApprovalError) return reply.code(err.httpStatus).send({ error: err.code, message: err.message });
  return reply.code(500).send({ error: 'internal', message: `approval action failed: ${(err as Error).message}` });
}

const ID_PARAM = { type: 'object', properties: { id: { type: 'string', pattern: '^apr-[a-z0-9]{6,64}$' } }, required: ['id'] } as const;
const DECISION_BODY = {
  type: 'object',
  properties: { reason: { type: 'string', maxLength: 10_000 }, sql_sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' } },
  required: ['reason'],
  additionalProperties: false,
} as const;

/** GET /approvals, GET /approvals/:id, POST /approvals/:id/approve|reject. Register before listen(). */
export async function registerApprovalApi(app: FastifyInstance, deps: RouteDeps): Promise<void> {
  const { service } = deps;

  async function who(req: FastifyRequest, reply: FastifyReply): Promise<{ identity: Identity; roles: string[] } | null> {
    try {
      const identity = await deps.authenticate(req.headers);
      return { identity, roles: deps.policy().rolesFor(identity) };
    } catch (err) {
      await deps.authFailure(req, err as Error, 'approvals/api');
      reply
        .code(401)
        .header('www-authenticate', 'Bearer')
        .header('cache-control', 'no-store')
        .send({ error: 'unauthenticated', message: `a valid bearer token is required: ${(err as Error).message}` });
      return null;
    }
  }

  app.get('/approvals', async (req, reply) => {
    const me = await who(req, reply);
    if (!me) return reply;
    reply.header('cache-control', 'no-store');
    return { approvals: service.list(me.identity, me.roles).map((r) => approvalView(r, service.status(r), deps.reviewUrl(r.id), service.now())) };
  });

  app.get<{ Params: { id: string } }>('/approvals/:id', { schema: { params: ID_PARAM } }, async (req, reply) => {
    const me = await who(req, reply);
    if (!me) return reply;
    reply.header('cache-control', 'no-store');
    const rec = service.get(req.params.id);
    if (!rec || !service.canView(rec, me.identity, me.roles)) return reply.code(404).send({ error: 'not_found', message: `no approval request ${req.params.id} that you may see` });
    await service.expireIfDue(rec).catch(() => undefined);
    try {
      await auditView(service, rec, reviewerOf(deps.client(req), me.identity, me.roles, 'api'));
    } catch (err) {
      return reply.code(503).send({ error: 'audit_unavailable', message: `viewing the statement could not be recorded, so it is not shown: ${(err as Error).message}` });
    }
    return { approval: await detailView(deps, rec, me.identity, me.roles) };
  });

  for (const action of ['approve', 'reject'] as const) {
    app.post<{ Params: { id: string }; Body: { reason: string; sql_sha256?: string } }>(`/approvals/:id/${action}`, { schema: { params: ID_PARAM, body: DECISION_BODY } }, async (req, reply) => {
      const me = await who(req, reply);
      if (!me) return reply;
      reply.header('cache-control', 'no-store');
      try {
        const r = reviewerOf(deps.client(req), me.identity, me.roles, 'api');
        const rec = await (action === 'approve' ? service.approve(req.params.id, r, req.body.reason, req.body.sql_sha256) : service.reject(req.params.id, r, req.body.reason, req.body.sql_sha256));
        return { approval: approvalView(rec, service.status(rec), deps.reviewUrl(rec.id), service.now()) };
      } catch (err) {
        return sendError(reply, err);
      }
    });
  }
}
