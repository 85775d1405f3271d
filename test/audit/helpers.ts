// Shared fixtures for audit tests: a temp data dir with a signed, sealed chain.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog, type AuditLogOptions } from '../../src/audit/log.js';
import { loadOrCreateSigner, loadPublicKeysFromDir, type CheckpointSigner } from '../../src/audit/checkpoint.js';
import { JsonlSink } from '../../src/sinks/jsonl.js';
import type { AuditEvent, AuditEventInput } from '../../src/audit/event.js';
import { sealEvent } from '../../src/audit/hash.js';
import { first } from '../helpers/present.js';

export function tempData(): { data: string; audit: string; keys: string; cleanup: () => void } {
  const data = mkdtempSync(join(tmpdir(), 'bqw-audit-'));
  return { data, audit: join(data, 'audit'), keys: join(data, 'keys'), cleanup: () => rmSync(data, { recursive: true, force: true }) };
}

export function request(i: number, extra: Partial<AuditEventInput> = {}): AuditEventInput {
  return {
    event_type: 'mcp_request',
    session_id: `sess-${i % 3}`,
    actor_email: `user${i % 2}@bank.example`,
    actor_subject: `sub-${i % 2}`,
    actor_type: 'human',
    auth_method: 'oidc',
    mcp_method: 'tools/call',
    tool_name: 'execute_sql',
    sql_text: `SELECT name, ssn FROM customers WHERE id = ?`,
    decision: 'mask',
    rule_ids: ['pii-ssn'],
    masked_columns: [{ column: 'ssn', source: 'main.customers.ssn', classification: 'ssn', method: 'last4', rule_id: 'pii-ssn' }],
    rows_returned: 1,
    response_json: JSON.stringify({ content: [{ type: 'text', text: `row ${i}: XXX-XX-${String(1000 + i).slice(-4)}` }] }),
    ...extra,
  };
}

export async function openLog(audit: string, keys: string, opts: Partial<AuditLogOptions> = {}): Promise<{ log: AuditLog; sink: JsonlSink; signer: CheckpointSigner }> {
  const signer = opts.signer ?? loadOrCreateSigner({ keysDir: keys });
  const sink = (opts.sink as JsonlSink | undefined) ?? (await JsonlSink.open({ dir: audit }));
  const log = await AuditLog.open({ gatewayVersion: 'test', instance: 'test-1', checkpointEvery: { events: 5, ms: 600_000 }, ...opts, sink, signer });
  return { log, sink, signer };
}

/** A sealed chain of n requests (plus checkpoints, gateway_stop); returns its single file. */
export async function writeChain(n: number, t = tempData()): Promise<{ t: ReturnType<typeof tempData>; file: string; keys: string[] }> {
  const { log } = await openLog(t.audit, t.keys);
  for (let i = 0; i < n; i++) await log.append(request(i));
  await log.close();
  return { t, file: first(chainFiles(t.audit), 'audit chain file'), keys: loadPublicKeysFromDir(t.keys) };
}

export function chainFiles(audit: string): string[] {
  return readdirSync(audit, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.jsonl'))
    .sort()
    .map((f) => join(audit, f));
}

export function readLinesOf(file: string): string[] {
  return readFileSync(file, 'utf8').split('\n').slice(0, -1);
}

export function writeLinesOf(file: string, lines: string[]): void {
  writeFileSync(file, lines.map((l) => l + '\n').join(''));
}

/**
 * Rewrites events from index `from` of a file's lines with `edit`, re-hashing and re-linking
 * everything after (and re-signing checkpoints with `resign`): what a writer with the key would
 * have produced, so only what `edit` changed differs.
 */
export function rewrite(file: string, from: number, edit: (e: AuditEvent) => void, resign?: (e: AuditEvent) => void): void {
  const lines = readLinesOf(file);
  let prev: string | null = null;
  const out = lines.map((line, i) => {
    const e = JSON.parse(line) as AuditEvent;
    if (i < from) {
      prev = e.hash;
      return line;
    }
    if (i === from) edit(e);
    if (prev !== null) e.prev_hash = prev;
    if (e.event_type === 'checkpoint' && resign) resign(e);
    const text = sealEvent(e);
    prev = e.hash;
    return text;
  });
  writeLinesOf(file, out);
}
