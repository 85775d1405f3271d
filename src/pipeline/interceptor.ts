// The request pipeline: identity (already verified by the transport) → analyze → decide →
// forward → transform response → audit. A response is released only after its audit event
// is durable; any stage that cannot do its job denies the call with a specific reason.
import { createHash } from 'node:crypto';
import type { AuditEventInput } from '../audit/event.js';
import type { Analysis, SchemaCatalog } from '../sql/types.js';
import { columnKey } from '../sql/types.js';
import type { Decision } from '../policy/types.js';
import type { HandlePlan, MaskPlan, MaskReport } from '../masking/types.js';
import { GatewayError, type Forward, type HttpFailure, type McpInterceptor, type RequestContext } from './types.js';
import type { PipelineDeps, PolicyView } from './deps.js';
import { contextFields, httpFailureFields, payloadJson } from './audit-fields.js';
import { maskingNotice } from './masking-notice.js';
import { ERR_AUDIT_UNAVAILABLE, needsIntent, writeIntent } from './intent.js';

/** JSON-RPC error codes the gateway uses for its own refusals (server-defined range). */
export const ERR_FORBIDDEN = -32003;
export { ERR_AUDIT_UNAVAILABLE };
export const ERR_UPSTREAM = -32005;
export const ERR_INTERNAL = -32603;

const KNOWN_METHODS = new Set([
  'initialize', 'ping', 'tools/list', 'tools/call', 'resources/list', 'resources/templates/list', 'resources/read',
  'resources/subscribe', 'resources/unsubscribe', 'prompts/list', 'prompts/get', 'completion/complete', 'logging/setLevel',
  'tasks/get', 'tasks/list', 'tasks/cancel', 'tasks/result', 'notifications/cancelled', 'notifications/initialized', 'notifications/progress',
  'notifications/roots/list_changed', 'notifications/tasks/status', 'session_start', 'session_end',
  'sampling/createMessage', 'elicitation/create', 'roots/list',
  'auth_failure', 'http_error', 'session/end', 'mcp_notification',
]);

/** Client→server notifications defined by MCP (2025-06-18, 2025-11-25). */
const CLIENT_NOTIFICATIONS = new Set(['notifications/initialized', 'notifications/cancelled', 'notifications/progress', 'notifications/roots/list_changed', 'notifications/tasks/status']);

const DETECTORS_ONLY: MaskPlan = { columns: [], fallback: [], detectors: true };

export function toolError(text: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { content: [{ type: 'text', text }], isError: true, ...extra };
}

/** The output columns of the one result-producing statement, so masking can detect a result whose shape differs. */
function outputShape(analysis: Analysis | null): { index: number; name: string }[] | null {
  const producing = (analysis?.statements ?? []).filter((s) => s.output);
  if (producing.length !== 1) return null;
  return producing[0].output!.map((o) => ({ index: o.index, name: o.name }));
}

/** Audit-at-rest masking for what the client plan left clear (cleared roles, undetected values). */
function auditOnlyPlan(client: MaskPlan, audit: MaskPlan, shape: { index: number; name: string }[] | null): MaskPlan {
  const covered = new Set(client.columns.map((c) => c.outputIndex));
  // The client pass already ran the detectors over everything it did not mask: a second scan of
  // its output finds nothing new, so the audit pass scans only when the client pass did not.
  return { columns: audit.columns.filter((c) => !covered.has(c.outputIndex)), fallback: audit.fallback, detectors: !client.detectors, ...(shape ? { outputColumns: shape } : {}) };
}

export function createPipeline(deps: PipelineDeps): McpInterceptor {
  const { metrics } = deps;

  /** The one place events are written: a failed write fails the request closed. */
  /**
   * Client-supplied free text (justifications, extra arguments, user agent, client name, params
   * of non-tool methods) goes through the content detectors before it is stored: the audit log
   * must not hold an SSN or card number just because a client typed it.
   */
  function clean<T>(value: T): T {
    if (value === null || value === undefined) return value;
    try {
      return (deps.scrub({ v: value as unknown } as Record<string, unknown>).result as { v: T }).v;
    } catch {
      return '[bqwarden: withheld: could not be scanned]' as unknown as T;
    }
  }

  /** Metric labels come from a closed set: client text never becomes a label (cardinality, disclosure). */
  function methodLabel(method: string): string {
    return KNOWN_METHODS.has(method) ? method : 'other';
  }

  /** Per-stage latency, so operators can see where a slow call spends its time. */
  function stage(name: string): () => void {
    return metrics.latency.startTimer({ method: 'tools/call', stage: name }) as () => void;
  }

  async function audit(input: AuditEventInput): Promise<void> {
    const end = metrics.latency.startTimer({ method: methodLabel(input.mcp_method ?? input.event_type), stage: 'audit' });
    try {
      await deps.audit.append(input);
      end();
    } catch (err) {
      metrics.auditFailures.inc();
      deps.log.error({ err: (err as Error).message, event_type: input.event_type }, 'audit append failed; request denied');
      throw new GatewayError(ERR_AUDIT_UNAVAILABLE, `audit record could not be written, so the response is withheld (fail closed): ${(err as Error).message}`, {
        reason: 'audit_unavailable',
      });
    }
  }

  function base(ctx: RequestContext, policy: PolicyView, roles: string[], method: string): AuditEventInput {
    const fields = contextFields(ctx, roles);
    return {
      event_type: 'mcp_request',
      ...fields,
      user_agent: clean(fields.user_agent ?? null),
      client_name: clean(fields.client_name ?? null),
      client_version: clean(fields.client_version ?? null),
      mcp_method: method,
      upstream: deps.upstreamName,
      policy_version: policy.version,
    };
  }

  function elapsed(ctx: RequestContext): number {
    return Math.max(0, Math.round(Date.now() - ctx.receivedAt));
  }

  async function forwardOrFail(ctx: RequestContext, ev: AuditEventInput, forward: Forward, params: Record<string, unknown> | undefined) {
    try {
      return await forward(params);
    } catch (err) {
      const e = err as Error & { code?: number };
      metrics.upstreamErrors.inc({ kind: e.name === 'TimeoutError' || /timed? ?out/i.test(e.message) ? 'timeout' : 'error' });
      await audit({ ...ev, outcome: 'error', error_code: 'upstream_error', error_message: e.message, duration_ms: elapsed(ctx) });
      if (err instanceof GatewayError) throw err;
      throw new GatewayError(typeof e.code === 'number' ? e.code : ERR_UPSTREAM, `upstream MCP server failed: ${e.message}`, { reason: 'upstream_error' });
    }
  }

  function applyMask(result: Record<string, unknown>, plan: MaskPlan): { result: Record<string, unknown>; report: MaskReport } {
    // A masking failure must never release the unmasked result.
    try {
      return deps.mask(result, plan);
    } catch (err) {
      throw new GatewayError(ERR_INTERNAL, `response could not be masked, so it is withheld: ${(err as Error).message}`, { reason: 'masking_failed' });
    }
  }

  /** SQL text as audit may keep it: literals replaced unless every role keeps them, or only a hash. */
  function sqlForAudit(sql: string, policy: PolicyView, roles: string[], dialect: Parameters<PipelineDeps['sql']['redactLiterals']>[1]): string {
    try {
      return policy.keepLiterals(roles) ? sql : deps.sql.redactLiterals(sql, dialect);
    } catch {
      // Unparseable SQL: keep only its hash and length rather than risk literals at rest.
      return `-- unparsed SQL withheld (${sql.length} chars)`;
    }
  }

  function statementFields(sql: string, analysis: Analysis, policy: PolicyView, roles: string[], dialect: Parameters<PipelineDeps['sql']['redactLiterals']>[1]): Partial<AuditEventInput> {
    const written = analysis.statements.flatMap((s) => s.tablesWritten.map((t) => t.fq));
    const read = analysis.statements.flatMap((s) => s.tablesRead.map((t) => t.fq));
    const tables = [...new Set([...written, ...read])];
    const columns = new Set<string>();
    for (const s of analysis.statements) {
      for (const o of s.output ?? []) for (const c of o.sources) columns.add(columnKey(c));
      for (const u of s.uses) columns.add(columnKey(u.column));
    }
    const sqlText = sqlForAudit(sql, policy, roles, dialect);
    return {
      target_table: tables[0] ?? null,
      target_tables: tables,
      target_columns: [...columns].sort(),
      statement_types: [...new Set(analysis.statements.map((s) => s.class))],
      statement_kinds: [...new Set(analysis.statements.map((s) => s.kind))],
      sql_text: sqlText,
      sql_sha256: analysis.sha256,
      sql_fingerprint: analysis.fingerprint,
    };
  }

  function decisionFields(d: Decision): Partial<AuditEventInput> {
    return { decision: d.action, rule_ids: d.ruleIds, decision_reason: d.message, privileged: d.privileged };
  }

  function maskFields(report: MaskReport, released: unknown, stored: unknown = released): Partial<AuditEventInput> {
    return {
      masked_columns: report.maskedColumns.map((m) => ({ column: m.column, source: m.source, classification: m.classification, method: m.method, rule_id: m.rule_id })),
      detector_hits: report.detectorHits,
      rows_returned: report.rows,
      bytes_returned: Buffer.byteLength(JSON.stringify(released)),
      response_json: payloadJson(stored, deps.maxPayloadBytes),
    };
  }

  /**
   * Replaces the row handles a rewritten query returned with the masked values of those rows,
   * looked up by the gateway itself on the same upstream. A failed lookup withholds the result.
   */
  async function resolveRowHandles(ctx: RequestContext, ev: AuditEventInput, forward: Forward, tool: string, sqlArgument: string, result: Record<string, unknown>, plan: HandlePlan) {
    if (result.isError === true) return result;
    const run = async (sql: string) => {
      const r = await forward({ name: tool, arguments: { [sqlArgument]: sql } });
      if (r.isError === true) throw new Error('the upstream refused the gateway\'s own lookup of masked values');
      return ((r.content as { type?: string; text?: string }[] | undefined) ?? []).filter((c) => c.type === 'text' && typeof c.text === 'string').map((c) => c.text!);
    };
    try {
      return (await deps.resolveHandles(result, plan, run)).result;
    } catch (err) {
      const msg = `masked values could not be resolved, so the result is withheld (fail closed): ${(err as Error).message}`;
      await audit({ ...ev, outcome: 'error', error_code: 'masking_failed', error_message: msg, duration_ms: elapsed(ctx) });
      throw new GatewayError(ERR_INTERNAL, msg, { reason: 'masking_failed' });
    }
  }

  async function toolsCall(ctx: RequestContext, policy: PolicyView, roles: string[], params: Record<string, unknown>, forward: Forward) {
    const tool = typeof params.name === 'string' ? params.name : '';
    const args = (params.arguments && typeof params.arguments === 'object' ? params.arguments : {}) as Record<string, unknown>;
    const ev: AuditEventInput = { ...base(ctx, policy, roles, 'tools/call'), tool_name: tool || null };
    const identity = { ...ctx.identity, roles };
    const justification = typeof args.justification === 'string' ? args.justification : typeof (params._meta as Record<string, unknown> | undefined)?.justification === 'string' ? String((params._meta as Record<string, unknown>).justification) : null;

    // Stage: analyze (only tools that carry SQL).
    const shape = policy.toolShape(tool);
    let analysis: Analysis | null = null;
    let sql: string | null = null;
    let catalog: SchemaCatalog | null = null;
    if (shape?.sqlArgument) {
      const raw = args[shape.sqlArgument];
      if (typeof raw !== 'string' || raw.trim() === '') {
        const msg = `tool ${tool} needs its SQL in the "${shape.sqlArgument}" argument; none was given (rule tool-shape)`;
        await audit({ ...ev, decision: 'deny', rule_ids: ['tool-shape'], decision_reason: msg, outcome: 'denied', error_code: 'missing_sql', duration_ms: elapsed(ctx) });
        metrics.decisions.inc({ action: 'deny' });
        return toolError(msg);
      }
      sql = raw;
      const opts = policy.analyzeOptions(tool);
      if (!opts) {
        const msg = `tool ${tool} carries SQL but policy names no dialect for it; denied (rule tool-shape)`;
        await audit({ ...ev, decision: 'deny', rule_ids: ['tool-shape'], decision_reason: msg, outcome: 'denied', error_code: 'no_dialect', duration_ms: elapsed(ctx) });
        return toolError(msg);
      }
      const endAnalyze = stage('analyze');
      // Analyse against what the catalog knows now; only when the statement names tables the
      // catalog had to learn is the SQL analysed again (the parse is the expensive part).
      const known = deps.catalog.current();
      analysis = deps.sql.analyze(sql, { ...opts, catalog: known });
      const tables = analysis.statements.flatMap((st) => [...st.tablesRead, ...st.tablesWritten]);
      catalog = await deps.catalog.forTables(tables);
      if (catalog !== known) analysis = deps.sql.analyze(sql, { ...opts, catalog });
      endAnalyze();
      Object.assign(ev, statementFields(sql, analysis, policy, roles, opts.dialect));
    }
    const storedArgs = clean(sql !== null && shape?.sqlArgument ? { ...args, [shape.sqlArgument]: null } : args);
    if (sql !== null && shape?.sqlArgument) storedArgs[shape.sqlArgument] = ev.sql_text;
    ev.request_json = payloadJson({ name: tool, arguments: storedArgs, ...(params._meta ? { _meta: clean(params._meta) } : {}) }, deps.maxPayloadBytes);
    ev.justification = clean(justification);

    // Stage: decide.
    const endDecide = stage('decide');
    const decision = policy.decide({ identity, roles, tool, args, analysis, catalog });
    endDecide();
    Object.assign(ev, decisionFields(decision));
    // What the engine will run: the caller's SQL with masking projections in place.
    const executed = decision.engine && shape?.sqlArgument && analysis ? decision.engine.sql : null;
    if (executed !== null && analysis) {
      ev.sql_executed = sqlForAudit(executed, policy, roles, analysis.dialect);
      ev.sql_executed_sha256 = createHash('sha256').update(executed, 'utf8').digest('hex');
    }
    metrics.decisions.inc({ action: decision.action });

    if (decision.action === 'deny') {
      const result = toolError(decision.message);
      await audit({ ...ev, outcome: 'denied', error_code: 'policy_denied', error_message: decision.message, response_json: payloadJson(result, deps.maxPayloadBytes), duration_ms: elapsed(ctx) });
      return result;
    }

    let approvalId: string | null = null;
    const meta = params._meta && typeof params._meta === 'object' ? (params._meta as Record<string, unknown>) : undefined;
    const held = analysis && sql !== null ? { ctx, roles, tool, args, sql, analysis, decision, justification: ev.justification ?? null, meta } : null;
    if (decision.action === 'approval_required') {
      if (!deps.approvals || !held) {
        const msg = `${decision.message} — but approvals are not enabled on this gateway, so the statement is denied (rule ${decision.ruleIds.join(', ')})`;
        await audit({ ...ev, decision: 'deny', outcome: 'denied', error_code: 'approvals_disabled', error_message: msg, duration_ms: elapsed(ctx) });
        return toolError(msg);
      }
      let gate;
      try {
        gate = await deps.approvals.check(held);
      } catch (err) {
        // The approvals store failing must never let a destructive statement through.
        const msg = `approval state could not be checked, so the statement is not executed (fail closed): ${(err as Error).message}`;
        await audit({ ...ev, decision: 'deny', outcome: 'error', error_code: 'approvals_unavailable', error_message: msg, duration_ms: elapsed(ctx) });
        return toolError(msg);
      }
      if (gate.status !== 'approved') {
        await audit({
          ...ev,
          outcome: 'pending',
          approval_id: gate.approvalId,
          error_code: `approval_${gate.status}`,
          error_message: gate.message,
          response_json: payloadJson(gate.result, deps.maxPayloadBytes),
          duration_ms: elapsed(ctx),
        });
        return gate.result;
      }
      approvalId = gate.approvalId;
      Object.assign(ev, { approval_id: gate.approvalId, approval_requester: gate.requester, approval_approvers: gate.approvers, approvals_required: gate.required });
    }

    // Stage: forward, after the write-ahead intent where one is needed. An approved statement
    // runs through the write path when there is one: the read path's credential cannot change
    // data, so a write misjudged as a read fails there.
    const writer = approvalId !== null ? deps.writer : null;
    if (writer) ev.upstream = writer.name;
    const send: Forward = writer ? (p) => writer.forward(p, ctx.signal) : forward;
    const endUpstream = stage('upstream');
    let upstreamResult: Record<string, unknown>;
    const forwarded = executed !== null && shape?.sqlArgument ? { ...params, arguments: { ...args, [shape.sqlArgument]: executed } } : params;
    try {
      if (needsIntent(deps.audit, 'tools/call', analysis, shape?.kind)) ev.intent_id = await writeIntent(deps.audit, ev);
      upstreamResult = await forwardOrFail(ctx, ev, send, forwarded);
      if (decision.engine?.handles && shape?.sqlArgument) upstreamResult = await resolveRowHandles(ctx, ev, forward, tool, shape.sqlArgument, upstreamResult, decision.engine.handles);
    } catch (err) {
      // A consumed approval whose statement failed upstream is recorded as such.
      if (approvalId && held) await deps.approvals!.executed(held, approvalId, 'failure').catch(() => undefined);
      throw err;
    }
    endUpstream();

    // Stage: transform response. Detectors run on every response, even when policy masks nothing.
    const columnsOut = outputShape(analysis);
    const clientPlan: MaskPlan = { ...(decision.maskPlan ?? DETECTORS_ONLY), ...(columnsOut ? { outputColumns: columnsOut } : {}) };
    const endMask = stage('mask');
    const { result, report } = applyMask(upstreamResult, clientPlan);
    // What is stored at rest is masked whatever the caller was cleared to see.
    const auditCopy = applyMask(result, auditOnlyPlan(clientPlan, policy.auditPlan(analysis, catalog), columnsOut)).result;
    endMask();
    const masked = report.maskedColumns.length > 0 || report.detectorHits.some((h) => h.count > 0) || !!decision.maskPlan?.derived?.length;
    if (masked) metrics.maskedCells.inc({ reason: 'policy' }, report.maskedColumns.length);
    const failed = result.isError === true;
    // Tell the agent what it is looking at: masked values are not data to report as facts.
    const released = failed ? result : maskingNotice(result, clientPlan, report);

    // Stage: audit, then release.
    await audit({
      ...ev,
      decision: decision.action === 'approval_required' ? 'approval_required' : masked ? 'mask' : decision.action,
      ...maskFields(report, released, auditCopy),
      outcome: failed ? 'failure' : 'success',
      error_code: failed ? 'upstream_tool_error' : null,
      duration_ms: elapsed(ctx),
    });
    if (approvalId && held) await deps.approvals!.executed(held, approvalId, failed ? 'failure' : 'success');
    return released;
  }

  return {
    async onRequest(ctx, method, params, forward) {
      const policy = deps.policy();
      const roles = policy.rolesFor(ctx.identity);
      const label = methodLabel(method);
      const stop = metrics.latency.startTimer({ method: label, stage: 'total' });
      try {
        const allowed = policy.methodAllowed(roles, method);
        if (!allowed.allowed) {
          await audit({ ...base(ctx, policy, roles, method), decision: 'deny', rule_ids: [allowed.ruleId], decision_reason: allowed.message, outcome: 'denied', error_code: 'method_denied', duration_ms: elapsed(ctx) });
          metrics.requests.inc({ method: label, decision: 'deny' });
          throw new GatewayError(ERR_FORBIDDEN, allowed.message, { rule_id: allowed.ruleId });
        }
        if (method === 'tools/call' && deps.rateLimiter && !deps.rateLimiter.take(`${ctx.identity.issuer}\u0000${ctx.identity.subject}`)) {
          const msg = `too many tool calls from ${ctx.identity.email ?? ctx.identity.subject}: the per-identity budget is spent; retry in a few seconds (rule rate-limit)`;
          await audit({ ...base(ctx, policy, roles, method), tool_name: typeof params?.name === 'string' ? params.name : null, decision: 'deny', rule_ids: ['rate-limit'], decision_reason: msg, outcome: 'denied', error_code: 'rate_limited', duration_ms: elapsed(ctx) });
          metrics.requests.inc({ method: label, decision: 'deny' });
          return toolError(msg);
        }
        if (method === 'tools/call') {
          const result = await toolsCall(ctx, policy, roles, params ?? {}, forward);
          metrics.requests.inc({ method: label, decision: result.isError ? 'deny_or_error' : 'allow' });
          return result;
        }
        const ev = base(ctx, policy, roles, method);
        ev.request_json = payloadJson(clean(params ?? null), deps.maxPayloadBytes);
        if (needsIntent(deps.audit, method, null)) ev.intent_id = await writeIntent(deps.audit, ev);
        let result = await forwardOrFail(ctx, ev, forward, params);
        if (method === 'tools/list' && Array.isArray(result.tools)) {
          const tools = result.tools as { name: string }[];
          const visible = new Set(policy.visibleTools(roles, tools.map((t) => t.name)));
          result = { ...result, tools: tools.filter((t) => visible.has(t.name)) };
          ev.decision = visible.size < tools.length ? 'mask' : 'allow';
        } else {
          ev.decision = 'allow';
        }
        // Resources, prompts and completions can carry data too: the detectors see them.
        let masked;
        try {
          masked = deps.scrub(result);
        } catch (err) {
          throw new GatewayError(ERR_INTERNAL, `response could not be scanned, so it is withheld: ${(err as Error).message}`, { reason: 'masking_failed' });
        }
        await audit({ ...ev, ...maskFields(masked.report, masked.result), rows_returned: null, duration_ms: elapsed(ctx) });
        metrics.requests.inc({ method: label, decision: ev.decision ?? 'allow' });
        return masked.result;
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
        request_json: payloadJson(clean({ direction: 'server_to_client', params: params ?? null }), deps.maxPayloadBytes),
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
      await audit({ ...ev, response_json: payloadJson(clean(result), deps.maxPayloadBytes), duration_ms: elapsed(ctx) });
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
        request_json: payloadJson(clean(params ?? null), deps.maxPayloadBytes),
      };
      if (!CLIENT_NOTIFICATIONS.has(method)) {
        // The method name is client text: it goes to audit (scanned), never into the error or logs.
        const reason = 'this notification is not one an MCP client may send; dropped (rule client-notifications)';
        await audit({ ...ev, decision: 'deny', rule_ids: ['client-notifications'], decision_reason: reason, outcome: 'denied', error_code: 'notification_not_allowed' });
        throw new GatewayError(ERR_FORBIDDEN, reason, { rule_id: 'client-notifications' });
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
  };
}
