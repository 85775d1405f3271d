// Production verify path end to end, all local: the audit writer builds a real signed chain,
// the Pub/Sub sink publishes it to the gRPC fake, the messages are loaded the way a BigQuery
// subscription with use_table_schema + write_metadata would, and `verifyBigQuery` streams
// them back through the real BigQuery client from a REST fake into the shared verifier.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BigQuery } from '@google-cloud/bigquery';
import { AuditLog } from '../../src/audit/log.js';
import { loadOrCreateSigner, loadPublicKeysFromDir } from '../../src/audit/checkpoint.js';
import { formatReport } from '../../src/audit/verify.js';
import { PubSubAuditSink } from '../../src/sinks/pubsub.js';
import { auditTableSchema } from '../../src/gcp/audit-schema.js';
import { verifyBigQuery, buildVerifyQuery } from '../../src/gcp/verify-source.js';
import { createBigQueryCatalogProvider, columnsFromFieldPaths } from '../../src/gcp/catalog.js';
import { FakePubSubServer } from '../fixtures/pubsub-server.js';
import { FakeBigQuery, type FakeQuery } from './bigquery-fake.js';
import { first } from '../helpers/present.js';

process.env.METADATA_SERVER_DETECTION = 'none';

const TABLE = 'test-project.bqwarden_audit.events';
let dir: string;
let publicKeys: string[];
let rows: Record<string, unknown>[] = [];
let bq: FakeBigQuery;
let client: BigQuery;

/** What the fake "executes": the verify query's filters, as BigQuery would apply them. */
function runVerifyQuery(q: FakeQuery) {
  assert.match(q.query, /event_time >= TIMESTAMP\(@from_date\)/, 'partition filter present (require_partition_filter)');
  const from = Date.parse(`${q.params.from_date}T00:00:00Z`);
  const to = Date.parse(`${q.params.to_date}T00:00:00Z`) + 86_400_000;
  let out = rows.filter((r) => {
    const t = Date.parse(String(r.event_time));
    return t >= from && t < to && (!q.params.chain_id || r.chain_id === q.params.chain_id);
  });
  if (/COUNT\(\*\)/.test(q.query)) return { schema: [{ name: 'n', type: 'INT64' as const, mode: 'NULLABLE' as const }], rows: [{ n: out.length }] };
  out = [...out].sort((a, b) => String(a.chain_id).localeCompare(String(b.chain_id)) || Number(a.seq) - Number(b.seq));
  return { schema: auditTableSchema(), rows: out };
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'bqw-gcp-verify-'));
  const pubsub = new FakePubSubServer();
  await pubsub.start();
  const sink = new PubSubAuditSink({ topic: 'audit', project: 'test-project', endpoint: pubsub.endpoint });
  const keysDir = join(dir, 'keys');
  const signer = loadOrCreateSigner({ keysDir });
  publicKeys = loadPublicKeysFromDir(keysDir);
  const log = await AuditLog.open({ sink, signer, gatewayVersion: 'test', instance: 'i-1', chainId: 'chain-1' });
  for (let i = 0; i < 20; i++) {
    await log.append({
      event_type: 'mcp_request',
      actor_email: `analyst${i % 3}@bank.example`,
      decision: 'allow',
      mcp_method: 'tools/call',
      rows_returned: i,
      masked_columns: i % 2 ? [{ column: 'ssn', source: 'p.d.c.ssn', classification: 'pii', method: 'redact', rule_id: null }] : [],
    });
  }
  await log.close();
  await pubsub.stop();
  // The BigQuery subscription (use_table_schema + write_metadata): JSON fields -> columns.
  rows = pubsub.messages.map((m) => ({
    ...JSON.parse(m.data.toString('utf8')),
    subscription_name: 'projects/test-project/subscriptions/bqwarden-audit-bigquery',
    message_id: m.messageId,
    publish_time: m.publishTime.toISOString(),
    data: null,
    attributes: JSON.stringify(m.attributes),
  }));
  assert.ok(rows.length >= 22, 'events plus gateway_stop and checkpoints');
  bq = new FakeBigQuery(runVerifyQuery);
  await bq.start();
  client = new BigQuery(bq.clientOptions());
});

after(async () => {
  await bq?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const day = (r: Record<string, unknown>) => String(r.event_time).slice(0, 10);

async function verify(extra: Partial<Parameters<typeof verifyBigQuery>[0]> = {}) {
  const d = day(first(rows, 'row in the BigQuery table'));
  return verifyBigQuery({ table: TABLE, from: d, to: d, publicKeys, bigquery: client, progress: false, ...extra });
}

test('a chain that went through Pub/Sub and BigQuery verifies OK, paged and streamed', async () => {
  const report = await verify();
  assert.equal(report.ok, true, formatReport(report));
  assert.equal(report.events, rows.length);
  assert.ok(rows.length > bq.pageSize * 2, 'several result pages were streamed');
  assert.match(formatReport(report), /OK/);
  const q = bq.queries.at(-1)!;
  assert.match(q.query, /ORDER BY chain_id, seq/);
  assert.doesNotMatch(q.query, /subscription_name|message_id/, 'metadata columns are not fed to the verifier');
});

test('at-least-once duplicates are reported as notices, not breaks', async () => {
  const saved = rows;
  rows = [...rows, { ...rows[5], message_id: 'dup' }];
  try {
    const report = await verify();
    assert.equal(report.ok, true, formatReport(report));
    assert.ok(
      report.notices.some((n) => n.kind === 'duplicate'),
      formatReport(report),
    );
  } finally {
    rows = saved;
  }
});

test('tampering in BigQuery is detected: an edited row, a deleted row', async () => {
  const saved = rows;
  try {
    rows = saved.map((r, i) => (i === 4 ? { ...r, actor_email: 'someone-else@bank.example' } : r));
    let report = await verify();
    assert.equal(report.ok, false);
    assert.ok(
      report.breaks.some((b) => b.kind === 'hash_mismatch' && b.seq === 4),
      formatReport(report),
    );
    rows = saved.filter((_, i) => i !== 7);
    report = await verify();
    assert.ok(
      report.breaks.some((b) => b.kind === 'seq_gap' || b.kind === 'broken_link'),
      formatReport(report),
    );
  } finally {
    rows = saved;
  }
});

test('dates outside the chain find nothing; bad arguments are refused before any query', async () => {
  const report = await verify({ from: '2001-01-01', to: '2001-01-02' });
  assert.equal(report.events, 0);
  const before = bq.queries.length;
  await assert.rejects(verify({ from: '2026-13-01x' }), /YYYY-MM-DD/);
  await assert.rejects(verify({ from: '2026-02-02', to: '2026-01-01' }), /after/);
  await assert.rejects(verify({ table: 'p.d.t`; DROP TABLE x; --' }), /not a BigQuery table id/);
  assert.equal(bq.queries.length, before);
  assert.throws(() => buildVerifyQuery('a.b.c`x', false));
});

test('a failing BigQuery (permission denied) rejects with the API error', async () => {
  bq.failNext = { status: 403, reason: 'accessDenied', message: 'Access Denied: Table test-project:bqwarden_audit.events', count: 1 };
  await assert.rejects(verify(), /Access Denied/);
});

test('catalog provider: COLUMN_FIELD_PATHS (dataset-qualified: dataViewer on the dataset suffices) with policy tags, nested fields, TTL cache', async () => {
  const cat = new FakeBigQuery((q) => {
    assert.match(q.query, /`test-project`\.`bank`\.`INFORMATION_SCHEMA`\.`COLUMN_FIELD_PATHS`/);
    assert.doesNotMatch(q.query, /region-/, 'a region-qualified view would need project-wide metadata rights');
    const names = q.params.names as string[];
    const all = [
      { table_catalog: 'test-project', table_schema: 'bank', table_name: 'customers', column_name: 'id', field_path: 'id', data_type: 'INT64', policy_tags: [] },
      {
        table_catalog: 'test-project',
        table_schema: 'bank',
        table_name: 'customers',
        column_name: 'ssn',
        field_path: 'ssn',
        data_type: 'STRING',
        policy_tags: ['projects/p/locations/us/taxonomies/1/policyTags/ssn'],
      },
      { table_catalog: 'test-project', table_schema: 'bank', table_name: 'customers', column_name: 'address', field_path: 'address', data_type: 'STRUCT<city STRING, zip STRING>', policy_tags: [] },
      { table_catalog: 'test-project', table_schema: 'bank', table_name: 'customers', column_name: 'address', field_path: 'address.city', data_type: 'STRING', policy_tags: [] },
      {
        table_catalog: 'test-project',
        table_schema: 'bank',
        table_name: 'customers',
        column_name: 'address',
        field_path: 'address.zip',
        data_type: 'STRING',
        policy_tags: ['projects/p/locations/us/taxonomies/1/policyTags/zip'],
      },
    ].filter((r) => names.includes(r.table_name));
    return {
      schema: [
        { name: 'table_catalog', type: 'STRING', mode: 'NULLABLE' },
        { name: 'table_schema', type: 'STRING', mode: 'NULLABLE' },
        { name: 'table_name', type: 'STRING', mode: 'NULLABLE' },
        { name: 'column_name', type: 'STRING', mode: 'NULLABLE' },
        { name: 'field_path', type: 'STRING', mode: 'NULLABLE' },
        { name: 'data_type', type: 'STRING', mode: 'NULLABLE' },
        { name: 'policy_tags', type: 'STRING', mode: 'REPEATED' },
      ],
      rows: all,
    };
  });
  await cat.start();
  try {
    let clock = 0;
    const provider = createBigQueryCatalogProvider({ projectId: 'test-project', location: 'US', ttlMs: 1000, now: () => clock, bigquery: new BigQuery(cat.clientOptions()) });
    const ref = (dataset: string, table: string) => ({ fq: `test-project.${dataset}.${table}`, project: 'test-project', dataset, table });
    const t = first(await provider.load([ref('bank', 'customers'), ref('bank', 'missing')]), 'table loaded from the catalog');
    assert.equal(t.fq, 'test-project.bank.customers');
    assert.deepEqual(
      t.columns.map((c) => c.name),
      ['id', 'ssn', 'address'],
    );
    assert.deepEqual(t.columns[1]?.policyTags, ['projects/p/locations/us/taxonomies/1/policyTags/ssn']);
    assert.deepEqual(
      t.columns[2]?.fields?.map((f) => [f.name, f.policyTags ?? []]),
      [
        ['city', []],
        ['zip', ['projects/p/locations/us/taxonomies/1/policyTags/zip']],
      ],
    );
    assert.equal(cat.queries.length, 1);
    assert.equal((await provider.load([ref('bank', 'missing')])).length, 0, 'unknown tables are absent, and that answer is cached');
    await provider.load([ref('bank', 'customers')]);
    assert.equal(cat.queries.length, 1, 'served from cache within the TTL');
    clock = 5000;
    await provider.load([ref('bank', 'customers')]);
    assert.equal(cat.queries.length, 2, 'refetched after the TTL');
    cat.failNext = { status: 403, reason: 'accessDenied', message: 'Access Denied: INFORMATION_SCHEMA', count: 1 };
    clock = 10_000;
    await assert.rejects(provider.load([ref('bank', 'customers')]), /Access Denied/, 'a failed lookup is an error, never an empty catalog');
  } finally {
    await cat.stop();
  }
});

test('field paths rebuild nested columns; orphans are skipped, not invented', () => {
  const cols = columnsFromFieldPaths([
    { field_path: 'a', data_type: 'STRUCT<b STRING>', policy_tags: null },
    { field_path: 'a.b', data_type: 'STRING', policy_tags: ['t'] },
    { field_path: 'x.y', data_type: 'STRING', policy_tags: null },
  ]);
  assert.deepEqual(cols, [{ name: 'a', type: 'STRUCT<b STRING>', fields: [{ name: 'b', type: 'STRING', policyTags: ['t'] }] }]);
});
