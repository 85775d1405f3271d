// What every stage of the pipeline uses: the one audit writer (a failed write fails the request
// closed), client-text scanning, audit field builders, upstream calls that record their own
// failures, and per-stage timers. Built once per pipeline from its dependencies.
import type { AuditEventInput } from '../audit/event.js';
import type { Analysis, Dialect } from '../sql/types.js';
import { columnKey } from '../sql/types.js';
import type { Decision } from '../policy/types.js';
import type { MaskPlan, MaskReport } from '../masking/types.js';
import { GatewayError, type Forward, type RequestContext } from './types.js';
import type { PipelineDeps, PolicyView } from './deps.js';
import { closedErrorCode, payloadJson } from './audit-fields.js';
import { contextFields } from '../audit/actor.js';
import { sqlTextForAudit } from '../audit/sql-text.js';

import { ERROR_CATALOG, ERR_UPSTREAM } from '../common/errors.js';

const KNOWN_METHODS = new Set([
  'initialize',
  'ping',
  'tools/list',
  'tools/call',
  'resources/list',
  'resources/templates/list',
  'resources/read',
  'resources/subscribe',
  'resources/unsubscribe',
  'prompts/list',
  'prompts/get',
  'completion/complete',
  'logging/setLevel',
  'tasks/get',
  'tasks/list',
  'tasks/cancel',
  'tasks/result',
  'notifications/cancelled',
  'notifications/initialized',
  'notifications/progress',
  'notifications/roots/list_changed',
  'notifications/tasks/status',
  'session_start',
  'session_end',
  'sampling/createMessage',
  'elicitation/create',
  'roots/list',
  'auth_failure',
  'http_error',
  'session/end',
  'mcp_notification',
]);

export type Kit = ReturnType<typeof createKit>;

export function createKit(deps: PipelineDeps) {
  const { metrics } = deps;

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

  /** The one place events are written: a failed write fails the request closed. */
  async function audit(event: AuditEventInput): Promise<void> {
    const input = withClosedErrorCode(event);
    const end = metrics.latency.startTimer({ method: methodLabel(input.mcp_method ?? input.event_type), stage: 'audit' });
    try {
      await deps.audit.append(input);
      end();
    } catch (err) {
      metrics.auditFailures.inc();
      deps.log.error({ err: (err as Error).message, event_type: input.event_type }, 'audit append failed; request denied');
      throw GatewayError.of('audit_unavailable', 'audit record could not be written, so the response is withheld (fail closed); the gateway log has the cause');
    }
  }

  /**
   * Every error_code is one of the catalog's (the schema refuses any other, which would deny the
   * call and lose its record): an unlisted one is kept as unlisted_error_code. The message of a
   * code an agent may not read can hold what the agent must not see (a cell value in a masking
   * error), so it is scanned before it is stored, as is the text naming an unlisted code.
   */
  function withClosedErrorCode(input: AuditEventInput): AuditEventInput {
    const code: unknown = input.error_code;
    if (code === null || code === undefined) return input;
    const closed = closedErrorCode(String(code), input.error_message ?? null);
    if (closed.error_code !== code) deps.log.error({ event_type: input.event_type }, 'an error code the catalog does not list was audited as unlisted_error_code');
    if (closed.error_code === code && ERROR_CATALOG[closed.error_code].agent) return input;
    return { ...input, error_code: closed.error_code, error_message: clean(closed.error_message) };
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

  /** Forwards; an upstream failure is audited here (with the call's event) and becomes a GatewayError. */
  async function forward(ctx: RequestContext, ev: AuditEventInput, fwd: Forward, params: Record<string, unknown> | undefined): Promise<Record<string, unknown>> {
    try {
      return await fwd(params);
    } catch (err) {
      const e = err as Error & { code?: number };
      metrics.upstreamErrors.inc({ kind: e.name === 'TimeoutError' || /timed? ?out/i.test(e.message) ? 'timeout' : 'error' });
      await audit({ ...ev, outcome: 'error', error_code: 'upstream_error', error_message: e.message, duration_ms: elapsed(ctx) });
      if (err instanceof GatewayError) throw err;
      throw new GatewayError(typeof e.code === 'number' ? e.code : ERR_UPSTREAM, `upstream MCP server failed: ${e.message}`, { reason: 'upstream_error' });
    }
  }

  function mask(result: Record<string, unknown>, plan: MaskPlan): { result: Record<string, unknown>; report: MaskReport } {
    // A masking failure must never release the unmasked result.
    try {
      return deps.mask(result, plan);
    } catch (err) {
      throw GatewayError.of('masking_failed', `response could not be masked, so it is withheld: ${(err as Error).message}`);
    }
  }

  /** SQL text as audit may keep it: literals replaced unless every role keeps them, or only a hash. */
  function sqlForAudit(sql: string, policy: PolicyView, roles: string[], dialect: Dialect): string {
    return sqlTextForAudit(sql, policy.keepLiterals(roles), (s) => deps.sql.redactLiterals(s, dialect));
  }

  function statementFields(sql: string, analysis: Analysis, policy: PolicyView, roles: string[], dialect: Dialect): Partial<AuditEventInput> {
    const written = analysis.statements.flatMap((s) => s.tablesWritten.map((t) => t.fq));
    const read = analysis.statements.flatMap((s) => s.tablesRead.map((t) => t.fq));
    const tables = [...new Set([...written, ...read])];
    const columns = new Set<string>();
    for (const s of analysis.statements) {
      for (const o of s.output ?? []) for (const c of o.sources) columns.add(columnKey(c));
      for (const u of s.uses) columns.add(columnKey(u.column));
    }
    return {
      target_table: tables[0] ?? null,
      target_tables: tables,
      target_columns: [...columns].sort(),
      statement_types: [...new Set(analysis.statements.map((s) => s.class))],
      statement_kinds: [...new Set(analysis.statements.map((s) => s.kind))],
      sql_text: sqlForAudit(sql, policy, roles, dialect),
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

  return {
    deps,
    metrics,
    clean,
    methodLabel,
    audit,
    base,
    elapsed,
    forward,
    mask,
    sqlForAudit,
    statementFields,
    decisionFields,
    maskFields,
    payload: (v: unknown) => payloadJson(v, deps.maxPayloadBytes),
  };
}
