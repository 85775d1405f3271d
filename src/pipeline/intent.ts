// Write-ahead audit. A call that may change data (any statement that is not a plain read, a tool
// call whose SQL we did not analyse) must leave a durable mcp_intent event BEFORE the upstream
// sees it, and so must every call made while the audit log is not ready: otherwise an outage of
// the sink (Pub/Sub down, disk full) would let a statement run with no record at all. The
// outcome event of the call names the intent in intent_id, so an intent without outcome (crash,
// sink failure after execution) is visible to verify, the examiner views and the report.
//
// Plain reads with a ready log skip the intent: their single event is still written before the
// response is released, and a read changes nothing if its record is then lost with the response.
import type { AuditEventInput } from '../audit/event.js';
import type { Analysis } from '../sql/types.js';
import { GatewayError } from '../common/errors.js';
import type { Logger } from '../ops/logger.js';

export interface IntentAudit {
  append(input: AuditEventInput): Promise<unknown>;
  /** False while the log cannot make events durable (sink failed, recovering); absent = always ready. */
  isReady?(): boolean;
}

/** A statement list that only reads (every statement classified `read`). */
function isPlainRead(analysis: Analysis | null): boolean {
  return analysis !== null && analysis.statements.length > 0 && analysis.statements.every((s) => s.class === 'read');
}

/**
 * Whether this call needs a durable intent before it is forwarded. A tools/call needs one unless
 * it is an analysed plain read or a tool the upstream catalog declares metadata-only (a tool of
 * kind `other` can change data whatever it is called); other methods are protocol reads and need
 * one only while the log is not ready.
 */
export function needsIntent(audit: IntentAudit, method: string, analysis: Analysis | null, toolKind?: 'sql' | 'metadata' | 'other'): boolean {
  if (audit.isReady && !audit.isReady()) return true;
  return method === 'tools/call' && !isPlainRead(analysis) && toolKind !== 'metadata';
}

/**
 * Writes the intent (the call as decided, outcome pending) and returns its event id, which the
 * caller sets as intent_id on every later event of the call. A failure refuses the call before
 * it reaches the upstream.
 */
export async function writeIntent(audit: IntentAudit, ev: AuditEventInput, log: Pick<Logger, 'error'>): Promise<string> {
  const intent: AuditEventInput = {
    ...ev,
    event_type: 'mcp_intent',
    outcome: 'pending',
    intent_id: null,
    response_json: null,
    rows_returned: null,
    bytes_returned: null,
    duration_ms: null,
  };
  let written: unknown;
  try {
    written = await audit.append(intent);
  } catch (err) {
    // The sink's own text (a path, a disk error) is the operator's: it goes to the log, not the agent.
    log.error({ err: (err as Error).message, request_id: ev.request_id ?? null }, 'write-ahead audit record could not be written; call not sent upstream');
    throw GatewayError.of('audit_unavailable', 'write-ahead audit record could not be written, so the call was not sent upstream (fail closed); the gateway log has the cause');
  }
  const id = (written as { event_id?: unknown } | null)?.event_id;
  if (typeof id !== 'string') throw GatewayError.of('audit_unavailable', 'write-ahead audit record was written but its id is unknown; the call was not sent upstream');
  return id;
}
