// Test events for the GCP suites: schema-valid, chained by seq (hashes are placeholders; the
// verify suite builds a real chain through the audit writer instead).
import { createHash, randomUUID } from 'node:crypto';
import { emptyEvent, ZERO_HASH, type AuditEvent } from '../../src/audit/event.js';

export function fakeChain(chainId: string, count: number, start = 0): AuditEvent[] {
  const out: AuditEvent[] = [];
  let prev = ZERO_HASH;
  for (let i = 0; i < count; i++) {
    const seq = start + i;
    const base = {
      ...emptyEvent(),
      event_id: randomUUID(),
      event_time: new Date(Date.UTC(2026, 0, 15, 12, 0, 0, seq)).toISOString(),
      event_type: 'mcp_request' as const,
      chain_id: chainId,
      seq,
      prev_hash: prev,
      hash: '',
      actor_email: 'analyst@bank.example',
      decision: 'allow' as const,
      target_table: 'p.d.accounts',
      target_tables: ['p.d.accounts'],
      masked_columns: [{ column: 'ssn', source: 'p.d.accounts.ssn', classification: 'pii', method: 'redact', rule_id: null }],
      detector_hits: [{ detector: 'ssn', count: 1 }],
    };
    base.hash = createHash('sha256').update(JSON.stringify(base)).digest('hex');
    prev = base.hash;
    out.push(base);
  }
  return out;
}
