// The audit event: the one contract shared by the local JSONL sink, Pub/Sub, the BigQuery
// table, the verifier, replay, approvals and the examiner views. It is deliberately
// BigQuery-shaped: snake_case, flat top-level columns (BigQuery can only cluster on
// top-level columns and Looker Studio handles flat tables best), REPEATED for lists,
// REPEATED RECORD for lists of pairs, and no maps with dynamic keys.
//
// Payloads (request/response) are STRING columns holding canonical JSON text, not BigQuery
// JSON: BigQuery re-serialises JSON values (key order, number formatting), which would make
// the hash of an event read back from BigQuery differ from the hash written at the gateway.
//
// Every field is always present (null or [] when empty) so the canonical serialisation,
// and therefore the hash, never depends on which optional keys a writer happened to set.
import { z } from 'zod';
import { ACTOR_TYPES, AUTH_METHODS } from '../identity/types.js';
import { isErrorCode, type ErrorCode } from '../common/errors.js';

/**
 * 2 added `intent_id` (write-ahead intents) and `sql_executed` / `sql_executed_sha256` (the SQL as
 * rewritten for masking in the engine). Version 1 events have none of these keys in their
 * canonical form: they are read with them null and hashed without them, so old logs verify.
 */
export const AUDIT_SCHEMA_VERSION = '2';
export const SCHEMA_V1 = '1';

export const EVENT_TYPES = [
  'mcp_request', // one per client->gateway JSON-RPC request (incl. tools/call)
  'mcp_intent', // write-ahead: durable before the upstream sees a call that may change data; its outcome names it in intent_id
  'mcp_notification', // client->gateway notifications worth keeping (cancelled, initialized)
  'session_start',
  'session_end',
  'auth_failure', // token missing / invalid / expired …
  'http_error', // malformed JSON, wrong content type, oversized body, bad session id, bad origin
  'approval_requested',
  'approval_granted',
  'approval_rejected',
  'approval_expired',
  'approval_executed',
  'notification_failed', // approver webhook could not be delivered
  'tool_pinned', // an upstream tool's definition pinned: on first sight, or a changed one an approver accepted (src/pins)
  'policy_loaded', // policy (re)load, with its hash; a refused reload too
  'console_access', // examiner console / report / replay access to the audit data itself
  'checkpoint', // Ed25519-signed chain head
  'gateway_start',
  'gateway_stop',
] as const;

export const DECISIONS = ['allow', 'mask', 'deny', 'approval_required', 'none'] as const;

export const OUTCOMES = ['success', 'failure', 'denied', 'pending', 'error'] as const;

// Timestamps are ISO-8601 UTC with millisecond precision, e.g. 2026-11-22T02:42:56.123Z.
const timestamp = z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/, 'UTC timestamp with milliseconds');
const str = z.string().nullable();
const int = z.number().int().nullable();
const strList = z.array(z.string());

const MaskedColumnSchema = z.object({
  column: z.string(), // output column name as the client sees it
  source: str, // fully-qualified source column(s), comma separated
  classification: z.string(),
  method: z.string(),
  rule_id: str,
});

const DetectorHitSchema = z.object({
  detector: z.string(),
  count: z.number().int(),
});

export const AuditEventSchema = z.object({
  // identity of the record
  event_id: z.string(),
  event_time: timestamp,
  event_type: z.enum(EVENT_TYPES),
  schema_version: z.string(),
  gateway_version: z.string(),
  gateway_instance: z.string(),

  // tamper evidence
  chain_id: z.string(),
  seq: z.number().int().nonnegative(),
  prev_hash: z.string(), // hex SHA-256 of the previous event in the chain; 64 zeros for the first
  hash: z.string(), // hex SHA-256 over the canonical serialisation of every other field

  // who
  actor_subject: str,
  actor_email: str,
  actor_issuer: str,
  actor_groups: strList,
  actor_roles: strList,
  actor_type: z.enum(ACTOR_TYPES),
  auth_method: z.enum(AUTH_METHODS),

  // where from
  session_id: str,
  request_id: str, // the client's JSON-RPC id, as a string
  trace_id: str,
  source_ip: str,
  user_agent: str,
  client_name: str,
  client_version: str,
  protocol_version: str,

  // what
  mcp_method: str,
  tool_name: str,
  upstream: str,
  target_table: str, // primary table (first written, else first read): a top-level cluster key
  target_tables: strList, // fully-qualified project.dataset.table
  target_columns: strList, // fully-qualified source columns referenced
  statement_types: strList, // statement classes: read, write, ddl, dcl, …
  statement_kinds: strList, // parser statement kinds: select, delete, create_table, …
  sql_text: str, // literals replaced unless policy keeps them
  sql_sha256: str, // exact-text hash: binds approvals to the exact statement
  sql_fingerprint: str,
  privileged: z.boolean(),
  justification: str,

  // decision
  decision: z.enum(DECISIONS),
  rule_ids: strList,
  decision_reason: str,
  policy_version: str, // hash of the loaded policy files

  // masking
  masked_columns: z.array(MaskedColumnSchema),
  detector_hits: z.array(DetectorHitSchema),

  // result
  outcome: z.enum(OUTCOMES),
  // Written from a closed list, the error catalog's codes (src/common/errors.ts): the writer's
  // input type and its field check (FIELD_CHECKS below) refuse any other, and the pipeline's
  // writer turns a code the catalog lacks into unlisted_error_code (kit.ts) instead of losing
  // the record. Read back as any string: events written before the list was closed, or by a
  // newer instance during a rolling deploy, must still read and verify (the hash covers them).
  error_code: str,
  error_message: str,
  http_status: int,
  rows_returned: int,
  bytes_returned: int,
  duration_ms: int,
  request_json: str, // canonical JSON of the request params (SQL literals handled as sql_text)
  response_json: str, // canonical JSON of the response as stored: masked for storage; _meta["bqwarden/stored_copy"] says per column what the caller received

  // approvals (approval_* events, and the executed call that consumed an approval)
  approval_id: str,
  approval_requester: str,
  approval_approvers: strList,
  approvals_required: int,
  approval_expires_at: timestamp.nullable(),

  // checkpoint events: signature over `${chain_id}|${seq}|${prev_hash}` (Ed25519, or ECDSA P-256 from Cloud KMS)
  signature: str,
  signing_key_id: str,

  // Fields added after schema 1.0 go last, so the Pub/Sub protobuf keeps its field numbers.
  sql_executed: str.default(null), // what was forwarded: the SQL with masking projections in place, literals replaced; null when unchanged
  sql_executed_sha256: str.default(null), // exact-text hash of what was forwarded (null when it is the caller's SQL: see sql_sha256)

  // write-ahead: the outcome of a call that had an intent names it (event_id of the mcp_intent)
  intent_id: str.default(null),
});
export type AuditEvent = z.infer<typeof AuditEventSchema>;

/** What callers supply; the audit writer fills ids, time, chain fields and defaults. */
export type AuditEventInput = Partial<Omit<AuditEvent, 'event_id' | 'chain_id' | 'seq' | 'prev_hash' | 'hash' | 'schema_version' | 'error_code'>> &
  Pick<AuditEvent, 'event_type'> & { error_code?: ErrorCode | null };

export const ZERO_HASH = '0'.repeat(64);

/** Every field with its empty value; the writer spreads an input over this. */
export function emptyEvent(): Omit<AuditEvent, 'event_id' | 'event_time' | 'event_type' | 'chain_id' | 'seq' | 'prev_hash' | 'hash'> {
  return {
    schema_version: AUDIT_SCHEMA_VERSION,
    gateway_version: '',
    gateway_instance: '',
    actor_subject: null,
    actor_email: null,
    actor_issuer: null,
    actor_groups: [],
    actor_roles: [],
    actor_type: 'anonymous',
    auth_method: 'none',
    session_id: null,
    request_id: null,
    trace_id: null,
    source_ip: null,
    user_agent: null,
    client_name: null,
    client_version: null,
    protocol_version: null,
    mcp_method: null,
    tool_name: null,
    upstream: null,
    target_table: null,
    target_tables: [],
    target_columns: [],
    statement_types: [],
    statement_kinds: [],
    sql_text: null,
    sql_sha256: null,
    sql_fingerprint: null,
    sql_executed: null,
    sql_executed_sha256: null,
    privileged: false,
    justification: null,
    decision: 'none',
    rule_ids: [],
    decision_reason: null,
    policy_version: null,
    masked_columns: [],
    detector_hits: [],
    outcome: 'success',
    error_code: null,
    error_message: null,
    http_status: null,
    rows_returned: null,
    bytes_returned: null,
    duration_ms: null,
    request_json: null,
    response_json: null,
    approval_id: null,
    approval_requester: null,
    approval_approvers: [],
    approvals_required: null,
    approval_expires_at: null,
    signature: null,
    signing_key_id: null,
    intent_id: null,
  };
}

// The writer's check of what the gateway's own code built: the same rules as AuditEventSchema,
// as one plain function per field, with no copying. zod stays the check for what is read back
// (files, BigQuery rows, Pub/Sub payloads); test/audit/event-check.test.ts keeps the two in step.
type FieldCheck = (v: unknown) => boolean;
const TIMESTAMP_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const isStr: FieldCheck = (v) => typeof v === 'string';
const strOrNull: FieldCheck = (v) => v === null || typeof v === 'string';
const intOrNull: FieldCheck = (v) => v === null || Number.isSafeInteger(v);
const strArray: FieldCheck = (v) => Array.isArray(v) && v.every(isStr);
const oneOf = (values: readonly string[]): FieldCheck => {
  const set = new Set(values);
  return (v) => typeof v === 'string' && set.has(v);
};
const isTimestamp: FieldCheck = (v) => typeof v === 'string' && TIMESTAMP_RE.test(v);
const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

export const FIELD_CHECKS: Record<keyof AuditEvent, FieldCheck> = {
  event_id: isStr,
  event_time: isTimestamp,
  event_type: oneOf(EVENT_TYPES),
  schema_version: isStr,
  gateway_version: isStr,
  gateway_instance: isStr,
  chain_id: isStr,
  seq: (v) => Number.isSafeInteger(v) && (v as number) >= 0,
  prev_hash: isStr,
  hash: isStr,
  actor_subject: strOrNull,
  actor_email: strOrNull,
  actor_issuer: strOrNull,
  actor_groups: strArray,
  actor_roles: strArray,
  actor_type: oneOf(ACTOR_TYPES),
  auth_method: oneOf(AUTH_METHODS),
  session_id: strOrNull,
  request_id: strOrNull,
  trace_id: strOrNull,
  source_ip: strOrNull,
  user_agent: strOrNull,
  client_name: strOrNull,
  client_version: strOrNull,
  protocol_version: strOrNull,
  mcp_method: strOrNull,
  tool_name: strOrNull,
  upstream: strOrNull,
  target_table: strOrNull,
  target_tables: strArray,
  target_columns: strArray,
  statement_types: strArray,
  statement_kinds: strArray,
  sql_text: strOrNull,
  sql_sha256: strOrNull,
  sql_fingerprint: strOrNull,
  privileged: (v) => typeof v === 'boolean',
  justification: strOrNull,
  decision: oneOf(DECISIONS),
  rule_ids: strArray,
  decision_reason: strOrNull,
  policy_version: strOrNull,
  masked_columns: (v) =>
    Array.isArray(v) && v.every((m) => isObj(m) && isStr(m.column) && strOrNull(m.source) && isStr(m.classification) && isStr(m.method) && strOrNull(m.rule_id) && Object.keys(m).length === 5),
  detector_hits: (v) => Array.isArray(v) && v.every((h) => isObj(h) && isStr(h.detector) && Number.isSafeInteger(h.count) && Object.keys(h).length === 2),
  outcome: oneOf(OUTCOMES),
  error_code: (v) => v === null || isErrorCode(v),
  error_message: strOrNull,
  http_status: intOrNull,
  rows_returned: intOrNull,
  bytes_returned: intOrNull,
  duration_ms: intOrNull,
  request_json: strOrNull,
  response_json: strOrNull,
  approval_id: strOrNull,
  approval_requester: strOrNull,
  approval_approvers: strArray,
  approvals_required: intOrNull,
  approval_expires_at: (v) => v === null || isTimestamp(v),
  signature: strOrNull,
  signing_key_id: strOrNull,
  sql_executed: strOrNull,
  sql_executed_sha256: strOrNull,
  intent_id: strOrNull,
};
export const EVENT_FIELDS = Object.keys(FIELD_CHECKS) as (keyof AuditEvent)[];

/** The first field that breaks the schema, or null. */
export function invalidField(event: Record<string, unknown>): string | null {
  for (const k of EVENT_FIELDS) if (!FIELD_CHECKS[k](event[k])) return k;
  return null;
}
