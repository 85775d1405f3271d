// The request pipeline. Identity is already verified by the transport; every method is then
// admitted by its MCP method rule, a tools/call runs through the fixed stages of runner.ts, and
// the other methods are forwarded, scanned and audited here. A response is released only after
// its audit event is durable; any stage that cannot do its job denies the call with a specific
// reason.
import type { AuditEventInput } from '../audit/event.js';
import { GatewayError, type HttpFailure, type McpInterceptor, type RequestContext } from './types.js';
import { BqwardenError } from '../common/errors.js';
import type { PinVerdict, PipelineDeps, ToolPinsView } from './deps.js';
import { httpFailureFields } from './audit-fields.js';
import { needsIntent, writeIntent } from './intent.js';
import { createKit } from './kit.js';
import { runToolCall } from './runner.js';
import { admit } from './stages/admit.js';
import type { ToolCall } from './call.js';

function explainTool<T extends { description?: string; annotations?: Record<string, unknown> }>(tool: T, brief: { description: string; annotations: Record<string, unknown> } | null): T {
  if (!brief) return tool;
  return { ...tool, description: tool.description ? `${tool.description}\n\n${brief.description}` : brief.description, annotations: { ...(tool.annotations ?? {}), ...brief.annotations } };
}

/** A failure after the upstream answered: what the agent reads, and the cause only the audit and the log keep. */
class AfterForward extends BqwardenError {
  constructor(
    readonly refusal: GatewayError,
    readonly causeText: string,
  ) {
    super(refusal.errorCode, refusal.message);
  }
}

async function pinsFor(pins: ToolPinsView, ctx: RequestContext, roles: string[], tools: Record<string, unknown>[]): Promise<Map<string, PinVerdict>> {
  try {
    return await pins.onList(tools, ctx, roles);
  } catch (err) {
    if (err instanceof GatewayError) throw err;
    // The pin store's own text (a path, a bucket) is the operator's.
    throw new AfterForward(
      GatewayError.of(
        'tool_pins_unavailable',
        'tool definitions could not be checked against their pins, so the tool list is withheld (rule tool-pinning, fail closed); send the request again in a moment',
      ),
      (err as Error).message,
    );
  }
}

function withheldChanged<T extends { name: string }>(tools: T[], verdicts: Map<string, PinVerdict>): T[] {
  return tools.map((t) => {
    const v = verdicts.get(t.name);
    if (!v || v.status !== 'changed') return t;
    return {
      name: t.name,
      description: `[withheld by bqwarden] ${v.message}`,
      inputSchema: { type: 'object', properties: {} },
      _meta: { [PIN_META_KEY]: { status: 'withheld', reason: 'tool_definition_changed', changed: v.changed, sha256: v.sha256, pinned_sha256: v.pinned, approval_id: v.approvalId } },
    } as unknown as T;
  });
}

const PIN_META_KEY = 'bqwarden/tool_pin';

/** Client→server notifications defined by MCP (2025-06-18, 2025-11-25). */
const CLIENT_NOTIFICATIONS = new Set(['notifications/initialized', 'notifications/cancelled', 'notifications/progress', 'notifications/roots/list_changed', 'notifications/tasks/status']);

export interface Pipeline extends McpInterceptor {
  /** The content detectors every client-controlled text goes through before it is stored (one copy, for the pages too). */
  scanClientText(text: string): string;
}

export function createPipeline(deps: PipelineDeps): Pipeline {
  const kit = createKit(deps);
  const { metrics, clean, methodLabel, audit, base, elapsed } = kit;

  return {
    async onRequest(ctx, method, params, forward) {
      const policy = deps.policy();
      const roles = policy.rolesFor(ctx.identity);
      const label = methodLabel(method);
      const stop = metrics.latency.startTimer({ method: label, stage: 'total' });
      try {
        await admit(kit, ctx, policy, roles, method);
        if (method === 'tools/call') {
          const p = params ?? {};
          const args = (p.arguments && typeof p.arguments === 'object' ? p.arguments : {}) as Record<string, unknown>;
          const tool = typeof p.name === 'string' ? p.name : '';
          const call: ToolCall = {
            ctx,
            policy,
            roles,
            identity: { ...ctx.identity, roles },
            params: p,
            forward,
            tool,
            args,
            meta: p._meta && typeof p._meta === 'object' ? (p._meta as Record<string, unknown>) : undefined,
            ev: { ...base(ctx, policy, roles, 'tools/call'), tool_name: tool || null },
            shape: null,
            sql: null,
            analysis: null,
            catalog: null,
            rewrite: null,
            decision: null,
            executed: null,
            held: null,
            approvalId: null,
            approved: null,
            upstream: null,
            rowsAffected: null,
            clientPlan: null,
            report: null,
            auditCopy: null,
            released: null,
            audited: false,
          };
          const result = await runToolCall(kit, call);
          metrics.requests.inc({ method: label, decision: result.isError ? 'deny_or_error' : 'allow' });
          return result;
        }
        const ev = base(ctx, policy, roles, method);
        ev.request_json = kit.payload(clean(params ?? null));
        if (needsIntent(deps.audit, method, null)) ev.intent_id = await writeIntent(deps.audit, ev, deps.log);
        let result = await kit.forward(ctx, ev, forward, params);
        try {
          if (method === 'tools/list' && Array.isArray(result.tools)) {
            let tools = result.tools as { name: string; description?: string; annotations?: Record<string, unknown> }[];
            // A tool whose definition changed since it was pinned is listed as withheld, without
            // the upstream's new text (which may be the poison).
            if (deps.pins) tools = withheldChanged(tools, await pinsFor(deps.pins, ctx, roles, tools));
            const visible = new Set(
              policy.visibleTools(
                roles,
                tools.map((t) => t.name),
              ),
            );
            // Each tool says, for this caller, what the gateway will do: dialect, masking, approvals;
            // and the upstream's hints are replaced by ones that hold for this caller.
            const withheld = tools.filter((t) => visible.has(t.name) && PIN_META_KEY in ((t as { _meta?: object })._meta ?? {})).map((t) => t.name);
            result = { ...result, tools: tools.filter((t) => visible.has(t.name)).map((t) => (withheld.includes(t.name) ? t : explainTool(t, policy.toolBrief?.(roles, t.name) ?? null))) };
            ev.decision = visible.size < tools.length || withheld.length ? 'mask' : 'allow';
            if (withheld.length) Object.assign(ev, { rule_ids: ['tool-pinning'], decision_reason: `withheld (definition changed since pinned): ${withheld.join(', ')}` });
          } else {
            ev.decision = 'allow';
          }
          // Resources, prompts and completions can carry data too: the detectors see them.
          let masked;
          try {
            masked = deps.scrub(result);
          } catch (err) {
            throw new AfterForward(GatewayError.of('masking_failed', 'response could not be scanned, so it is withheld'), (err as Error).message);
          }
          await audit({ ...ev, ...kit.maskFields(masked.report, masked.result), rows_returned: null, duration_ms: elapsed(ctx) });
          metrics.requests.inc({ method: label, decision: ev.decision ?? 'allow' });
          return masked.result;
        } catch (err) {
          if (!(err instanceof AfterForward)) throw err;
          // The upstream answered but nothing is released: the request still gets its record.
          deps.log.error({ err: err.causeText, error_code: err.refusal.errorCode, method }, 'response withheld after the upstream answered');
          await audit({ ...ev, decision: 'deny', outcome: 'error', error_code: err.refusal.errorCode, error_message: `${err.refusal.message} Cause: ${err.causeText}`, duration_ms: elapsed(ctx) });
          throw err.refusal;
        }
      } finally {
        stop();
      }
    },

    async onServerRequest(ctx, method, params, relay) {
      // The upstream asking the client (sampling, elicitation, roots): the prompt and the answer
      // are kept, scanned by the detectors like any client text.
      const policy = deps.policy();
      const roles = policy.rolesFor(ctx.identity);
      const ev: AuditEventInput = {
        ...base(ctx, policy, roles, methodLabel(method) === 'other' ? clean(method) : method),
        request_json: kit.payload(clean({ direction: 'server_to_client', params: params ?? null })),
        decision: 'allow',
        decision_reason: 'server-to-client request relayed to the session owner',
      };
      let result: Record<string, unknown>;
      try {
        result = await relay();
      } catch (err) {
        await audit({ ...ev, outcome: 'error', error_code: 'client_error', error_message: clean((err as Error).message), duration_ms: elapsed(ctx) });
        throw err;
      }
      await audit({ ...ev, response_json: kit.payload(clean(result)), duration_ms: elapsed(ctx) });
      return result;
    },

    async onNotification(ctx, method, params) {
      // Only notifications the protocol lets a client send are relayed, each with its audit
      // record first; anything else (made-up, or server-only such as notifications/message)
      // is dropped, audited as denied, and never reaches the upstream.
      const policy = deps.policy();
      const roles = policy.rolesFor(ctx.identity);
      const ev: AuditEventInput = {
        ...base(ctx, policy, roles, methodLabel(method) === 'other' ? clean(method) : method),
        event_type: 'mcp_notification',
        request_json: kit.payload(clean(params ?? null)),
      };
      if (!CLIENT_NOTIFICATIONS.has(method)) {
        // The method name is client text: it goes to audit (scanned), never into the error or logs.
        const reason = 'this notification is not one an MCP client may send; dropped (rule client-notifications)';
        await audit({ ...ev, decision: 'deny', rule_ids: ['client-notifications'], decision_reason: reason, outcome: 'denied', error_code: 'notification_not_allowed' });
        throw GatewayError.of('notification_not_allowed', reason, { rule_id: 'client-notifications' });
      }
      await audit({ ...ev, decision: 'allow' });
    },

    async onSessionStart(ctx) {
      const policy = deps.policy();
      await audit({ ...base(ctx, policy, policy.rolesFor(ctx.identity), 'initialize'), event_type: 'session_start' });
    },

    async onSessionEnd(ctx, reason) {
      const policy = deps.policy();
      await audit({ ...base(ctx, policy, policy.rolesFor(ctx.identity), 'session/end'), event_type: 'session_end', decision_reason: reason });
    },

    async onHttpFailure(f: HttpFailure) {
      const auth = f.httpStatus === 401 || f.code.startsWith('auth');
      metrics.httpFailures.inc({ code: /^[a-z_]{1,40}$/.test(f.code) ? f.code : 'other' });
      const fields = httpFailureFields(f);
      await audit({
        event_type: auth ? 'auth_failure' : 'http_error',
        ...fields,
        // Unauthenticated callers control this text (issuer claims, methods, agents): scan it.
        error_message: clean(fields.error_message ?? null),
        user_agent: clean(fields.user_agent ?? null),
        mcp_method: clean(fields.mcp_method ?? null),
        upstream: deps.upstreamName,
        policy_version: deps.policy().version,
      });
    },

    scanClientText: (text: string) => clean(text),
  };
}
