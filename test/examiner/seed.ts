// A realistic local audit store for the examiner tests, written by the real writer (AuditLog
// + JsonlSink + a generated Ed25519 signing key): an analyst who sees SSNs masked, a PII
// reader who sees them in clear, a denied DROP, an engineer's DELETE that waits for and gets
// bob's approval, a CI job, an auth failure and policy loads, spread over several UTC days.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog } from '../../src/audit/log.js';
import { loadOrCreateSigner, loadPublicKeysFromDir, type CheckpointSigner } from '../../src/audit/checkpoint.js';
import { JsonlSink } from '../../src/sinks/jsonl.js';
import type { AuditEventInput } from '../../src/audit/event.js';
import { AuthError, type Identity } from '../../src/identity/types.js';

export const SSN_COL = 'bank.main.customers.ssn';
const POLICY_V1 = 'a'.repeat(64);
const POLICY_V2 = 'b'.repeat(64);

export interface Seeded {
  dir: string;
  auditDir: string;
  keysDir: string;
  log: AuditLog;
  signer: CheckpointSigner;
  publicKeys: string[];
  approvalId: string;
  piiSession: string;
  engineerSession: string;
}

const actor = (email: string, roles: string[], actorType: 'human' | 'ci' | 'agent' = 'human'): Partial<AuditEventInput> => ({
  actor_subject: `sub-${email}`,
  actor_email: email,
  actor_issuer: 'http://127.0.0.1/dev',
  actor_groups: roles,
  actor_roles: roles,
  actor_type: actorType,
  auth_method: 'dev',
});

function at(day: string, time: string): string {
  return `${day}T${time}.000Z`;
}

/** Writes the store; `days` are three UTC dates (YYYY-MM-DD), oldest first. The log stays open. */
export async function seedAuditStore(days: [string, string, string], opts: { dir?: string } = {}): Promise<Seeded> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'bqw-examiner-'));
  const auditDir = join(dir, 'audit');
  const keysDir = join(dir, 'keys');
  const signer = loadOrCreateSigner({ keysDir });
  const sink = await JsonlSink.open({ dir: auditDir });
  // The writer's clock follows the seeded event times while seeding, so its checkpoints land
  // in the same day partitions as the events they follow; afterwards it is the real clock.
  let clock: number | null = null;
  const log = await AuditLog.open({ sink, signer, gatewayVersion: 'test', instance: 'i-test', checkpointEvery: { events: 10, ms: 3_600_000 }, now: () => clock ?? Date.now() });
  const [d1, d2, d3] = days;
  const piiSession = 'sess-pii-0001';
  const engineerSession = 'sess-eng-0001';
  const approvalId = 'apr-seed000001';
  const maskedSsn = [{ column: 'ssn', source: SSN_COL, classification: 'ssn', method: 'redact', rule_id: 'mask-ssn' }];
  const selectSsn = {
    mcp_method: 'tools/call',
    tool_name: 'execute_sql',
    target_table: 'bank.main.customers',
    target_tables: ['bank.main.customers'],
    target_columns: ['bank.main.customers.name', SSN_COL],
    statement_types: ['read'],
    statement_kinds: ['select'],
    sql_text: 'SELECT name, ssn FROM customers WHERE id = ?',
    sql_sha256: '1'.repeat(64),
  };

  const events: AuditEventInput[] = [
    { event_type: 'gateway_start', policy_version: POLICY_V1, event_time: at(d1, '08:00:00') },
    { event_type: 'session_start', ...actor('alice@bank.example', ['analyst']), session_id: 'sess-ana-0001', event_time: at(d1, '09:00:00') },
    {
      event_type: 'mcp_request',
      ...actor('alice@bank.example', ['analyst']),
      session_id: 'sess-ana-0001',
      ...selectSsn,
      decision: 'mask',
      rule_ids: ['analyst-read', 'mask-ssn'],
      masked_columns: maskedSsn,
      rows_returned: 1,
      policy_version: POLICY_V1,
      event_time: at(d1, '09:01:00'),
      response_json: JSON.stringify({ content: [{ type: 'text', text: '[{"name":"Ann","ssn":"***-**-****"}]' }] }),
    },
    {
      event_type: 'mcp_request',
      ...actor('alice@bank.example', ['analyst']),
      session_id: 'sess-ana-0001',
      mcp_method: 'tools/call',
      tool_name: 'execute_sql',
      target_table: 'bank.main.accounts',
      target_tables: ['bank.main.accounts'],
      statement_types: ['ddl'],
      statement_kinds: ['drop_table'],
      sql_text: 'DROP TABLE accounts',
      privileged: true,
      decision: 'deny',
      rule_ids: ['deny-ddl-analyst'],
      decision_reason: 'analysts may not run DDL (rule deny-ddl-analyst)',
      outcome: 'denied',
      error_code: 'policy_denied',
      policy_version: POLICY_V1,
      event_time: at(d1, '09:02:00'),
    },
    { event_type: 'session_start', ...actor('petra@bank.example', ['pii-reader']), session_id: piiSession, event_time: at(d2, '10:00:00') },
    {
      event_type: 'mcp_request',
      ...actor('petra@bank.example', ['pii-reader']),
      session_id: piiSession,
      ...selectSsn,
      decision: 'allow',
      rule_ids: ['pii-reader-read'],
      rows_returned: 1,
      policy_version: POLICY_V1,
      event_time: at(d2, '10:01:00'),
      response_json: JSON.stringify({ content: [{ type: 'text', text: '[{"name":"Ann","ssn":"(clear, as released to the pii-reader)"}]' }] }),
    },
    { event_type: 'policy_loaded', policy_version: POLICY_V2, event_time: at(d2, '12:00:00') },
    {
      event_type: 'auth_failure',
      mcp_method: 'initialize',
      outcome: 'denied',
      decision: 'deny',
      error_code: 'expired',
      error_message: 'token expired',
      http_status: 401,
      source_ip: '10.0.0.9',
      event_time: at(d2, '23:30:00'),
    },
    { event_type: 'session_start', ...actor('eve@bank.example', ['engineer']), session_id: engineerSession, event_time: at(d3, '09:00:00') },
    {
      event_type: 'mcp_request',
      ...actor('eve@bank.example', ['engineer']),
      session_id: engineerSession,
      mcp_method: 'tools/call',
      tool_name: 'execute_sql',
      target_table: 'bank.main.transactions',
      target_tables: ['bank.main.transactions'],
      statement_types: ['write'],
      statement_kinds: ['delete'],
      sql_text: 'DELETE FROM transactions WHERE id = ?',
      sql_sha256: '2'.repeat(64),
      privileged: true,
      decision: 'approval_required',
      rule_ids: ['engineer-write-approval'],
      outcome: 'pending',
      approval_id: approvalId,
      policy_version: POLICY_V2,
      event_time: at(d3, '09:01:00'),
    },
    {
      event_type: 'approval_requested',
      ...actor('eve@bank.example', ['engineer']),
      session_id: engineerSession,
      mcp_method: 'tools/call',
      tool_name: 'execute_sql',
      target_table: 'bank.main.transactions',
      target_tables: ['bank.main.transactions'],
      statement_types: ['write'],
      statement_kinds: ['delete'],
      sql_text: 'DELETE FROM transactions WHERE id = ?',
      sql_sha256: '2'.repeat(64),
      privileged: true,
      decision: 'approval_required',
      rule_ids: ['engineer-write-approval'],
      outcome: 'pending',
      approval_id: approvalId,
      approval_requester: 'eve@bank.example',
      approvals_required: 1,
      approval_expires_at: at(d3, '10:01:00'),
      justification: 'TICKET-42 duplicate rows',
      policy_version: POLICY_V2,
      event_time: at(d3, '09:01:00'),
    },
    {
      event_type: 'approval_granted',
      ...actor('bob@bank.example', ['approver']),
      approval_id: approvalId,
      approval_requester: 'eve@bank.example',
      approval_approvers: ['bob@bank.example'],
      sql_sha256: '2'.repeat(64),
      privileged: true,
      decision: 'allow',
      decision_reason: 'checked against TICKET-42',
      policy_version: POLICY_V2,
      event_time: at(d3, '09:05:30'),
    },
    {
      event_type: 'mcp_request',
      ...actor('eve@bank.example', ['engineer']),
      session_id: engineerSession,
      mcp_method: 'tools/call',
      tool_name: 'execute_sql',
      target_table: 'bank.main.transactions',
      target_tables: ['bank.main.transactions'],
      statement_types: ['write'],
      statement_kinds: ['delete'],
      sql_text: 'DELETE FROM transactions WHERE id = ?',
      sql_sha256: '2'.repeat(64),
      privileged: true,
      decision: 'approval_required',
      rule_ids: ['engineer-write-approval'],
      approval_id: approvalId,
      approval_requester: 'eve@bank.example',
      approval_approvers: ['bob@bank.example'],
      approvals_required: 1,
      rows_returned: 3,
      policy_version: POLICY_V2,
      event_time: at(d3, '09:06:00'),
    },
    {
      event_type: 'approval_executed',
      ...actor('eve@bank.example', ['engineer']),
      approval_id: approvalId,
      approval_requester: 'eve@bank.example',
      approval_approvers: ['bob@bank.example'],
      sql_sha256: '2'.repeat(64),
      privileged: true,
      event_time: at(d3, '09:06:00'),
    },
    {
      event_type: 'mcp_request',
      ...actor('ci-nightly@bank.example', ['ci'], 'ci'),
      session_id: 'sess-ci-0001',
      mcp_method: 'tools/call',
      tool_name: 'execute_sql',
      target_table: 'bank.main.transactions',
      target_tables: ['bank.main.transactions'],
      target_columns: ['bank.main.transactions.amount'],
      statement_types: ['read'],
      statement_kinds: ['select'],
      sql_text: 'SELECT SUM(amount) FROM transactions',
      decision: 'allow',
      rule_ids: ['ci-read'],
      rows_returned: 1,
      policy_version: POLICY_V2,
      event_time: at(d3, '02:00:00'),
      detector_hits: [{ detector: 'card_number', count: 0 }],
    },
  ];
  for (const e of events) {
    clock = Date.parse(e.event_time!);
    await log.append(e);
  }
  clock = null;
  return { dir, auditDir, keysDir, log, signer, publicKeys: loadPublicKeysFromDir(keysDir), approvalId, piiSession, engineerSession };
}

/** Bearer "tok-<email>-<group>" → an identity with that group; anything else is refused. */
export async function fakeAuthenticate(headers: Record<string, unknown>): Promise<Identity> {
  const m = /^Bearer tok-([^-\s]+@[^-\s]+)-([a-z-]+)$/.exec(String(headers.authorization ?? ''));
  if (!m) throw new AuthError('bad_signature', 'token signature does not verify');
  return { subject: `sub-${m[1]}`, email: m[1]!, issuer: 'http://127.0.0.1/dev', groups: [m[2]!], roles: [], actorType: 'human', authMethod: 'dev', expiresAt: null, name: null };
}

export const rolesFromGroups = (id: Identity): string[] => id.groups;
