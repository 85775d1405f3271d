// Approval state shared across gateway instances through BigQuery. Each instance writes its own
// chain with the real audit writer and the Pub/Sub sink into the gRPC fake; the "BigQuery table"
// is whatever the topic holds at query time (what the BigQuery subscription loads), served
// through the real BigQuery client by the REST fake, so rows come back in BigQuery's encoding
// and go through normalizeEvent.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BigQuery } from '@google-cloud/bigquery';
import { AuditLog } from '../../src/audit/log.js';
import { loadOrCreateSigner } from '../../src/audit/checkpoint.js';
import { hashValidEvent } from '../../src/audit/hash.js';
import type { AuditEvent } from '../../src/audit/event.js';
import { PubSubAuditSink } from '../../src/sinks/pubsub.js';
import { auditTableSchema } from '../../src/gcp/audit-schema.js';
import { GcpConfigSchema } from '../../src/gcp/config.js';
import { approvalSourceFromConfig, buildApprovalQuery, createBigQueryApprovalSource, foldOrder, type BigQueryApprovalSource } from '../../src/gcp/approval-source.js';
import { createApprovals, memoryStatementStore, type StatementStore } from '../../src/approvals/index.js';
import { FakePubSubServer } from '../fixtures/pubsub-server.js';
import { FakeBigQuery, type FakeQuery } from './bigquery-fake.js';
import { fakeSql, held, policyView, reviewer, silent } from '../approvals/helpers.js';

process.env.METADATA_SERVER_DETECTION = 'none';

const TABLE = 'test-project.bqwarden_audit_views.approval_events';
const DELETE = "DELETE FROM accounts WHERE account_id = 'A-7001'";

let dir: string;
let pubsub: FakePubSubServer;
let bq: FakeBigQuery;
let client: BigQuery;
/** Applied to the table's rows before the query filters: duplicates, tampering. */
let rewrite: (rows: Record<string, unknown>[]) => Record<string, unknown>[] = (r) => r;

/** The table as the BigQuery subscription would have loaded it from the topic so far. */
function tableRows(): Record<string, unknown>[] {
  return rewrite(
    pubsub.messages.map((m) => ({
      ...JSON.parse(m.data.toString('utf8')),
      subscription_name: 'projects/test-project/subscriptions/bq',
      message_id: m.messageId,
      publish_time: m.publishTime.toISOString(),
      data: null,
      attributes: JSON.stringify(m.attributes),
    })),
  );
}

/** What BigQuery would execute: the partition filter and the event_type filter. */
function runApprovalQuery(q: FakeQuery) {
  assert.match(q.query, /WHERE event_time >= TIMESTAMP\(@since\) AND event_type IN UNNEST\(@event_types\)/);
  const since = Date.parse(String(q.params.since));
  const types = q.params.event_types as string[];
  const rows = tableRows()
    .filter((r) => Date.parse(String(r.event_time)) >= since && types.includes(String(r.event_type)))
    .sort((a, b) => String(a.event_time).localeCompare(String(b.event_time)) || String(a.chain_id).localeCompare(String(b.chain_id)) || Number(a.seq) - Number(b.seq));
  return { schema: auditTableSchema(), rows };
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'bqw-gcp-approvals-'));
  pubsub = new FakePubSubServer();
  await pubsub.start();
  bq = new FakeBigQuery(runApprovalQuery);
  await bq.start();
  client = new BigQuery(bq.clientOptions());
});

after(async () => {
  await bq?.stop();
  await pubsub?.stop();
  rmSync(dir, { recursive: true, force: true });
});

interface Instance {
  source: BigQueryApprovalSource;
  approvals: Awaited<ReturnType<typeof createApprovals>>;
  stop(): Promise<void>;
}

/** One gateway instance: its own chain through Pub/Sub, approval state from BigQuery. */
async function instance(name: string, statements: StatementStore): Promise<Instance> {
  const sink = new PubSubAuditSink({ topic: 'audit', project: 'test-project', endpoint: pubsub.endpoint });
  const audit = await AuditLog.open({ sink, signer: loadOrCreateSigner({ keysDir: join(dir, 'keys') }), gatewayVersion: 'test', instance: name });
  await audit.append({ event_type: 'gateway_start', gateway_instance: name });
  // No timer: the test drives polls with refresh(), so nothing depends on timing.
  const source = createBigQueryApprovalSource({ table: TABLE, bigquery: client, pollIntervalMs: 0, cacheTtlMs: 0 });
  const approvals = await createApprovals({ audit, source, policy: policyView, sql: fakeSql, publicUrl: 'http://127.0.0.1:8080', config: { sweepSeconds: 3600 }, log: silent, statements });
  return {
    source,
    approvals,
    async stop() {
      await approvals.close();
      source.close();
      await audit.close();
    },
  };
}

test('an approval granted through instance B is seen by instance A, runs once there, and a new instance C rebuilds it as used', async (t) => {
  pubsub.messages.length = 0;
  // The exact statement text must be shared too (see docs/gcp.md); here one store stands for it.
  const statements = memoryStatementStore();
  const a = await instance('gw-a', statements);
  t.after(() => a.stop());
  const pending = await a.approvals.gate.check(held('eve@bank.example', DELETE));
  assert.equal(pending.status, 'pending');
  const id = pending.approvalId;

  const b = await instance('gw-b', statements);
  t.after(() => b.stop());
  assert.equal(b.approvals.service.get(id)?.status, 'pending', 'B rebuilt the request A holds from BigQuery');
  await b.approvals.service.approve(id, reviewer('bob@bank.example'), 'checked with the branch');
  assert.equal(b.approvals.service.get(id)?.status, 'approved');

  assert.equal(a.approvals.service.get(id)?.status, 'pending', 'A has not polled yet');
  assert.ok((await a.source.refresh({ force: true })) >= 1);
  const onA = a.approvals.service.get(id)!;
  assert.equal(onA.status, 'approved', 'A folded the grant B wrote');
  assert.deepEqual(
    onA.approvals.map((v) => v.actor.display),
    ['bob@bank.example'],
  );

  const call = held('eve@bank.example', DELETE);
  const run = await a.approvals.gate.check(call);
  assert.equal(run.status, 'approved');
  assert.equal(run.approvalId, id);
  await a.approvals.gate.executed(call, id, 'success');

  await b.source.refresh({ force: true });
  assert.equal(b.approvals.service.get(id)?.status, 'executed', 'B learns the approval was used');

  const c = await instance('gw-c', statements);
  t.after(() => c.stop());
  const rebuilt = c.approvals.service.get(id)!;
  assert.equal(rebuilt.status, 'executed');
  assert.equal(rebuilt.execution?.outcome, 'success');
  const again = await c.approvals.gate.check(held('eve@bank.example', DELETE));
  assert.equal(again.status, 'executed', 'a used approval does not run twice: a re-run hears it already ran');
  assert.equal(again.approvalId, id);
  const asked = await c.approvals.gate.check(held('eve@bank.example', DELETE, { justification: 'run it again: the sync restored the row' }));
  assert.equal(asked.status, 'pending', 'a new justification opens a new request');
  assert.notEqual(asked.approvalId, id);
  assert.deepEqual(c.approvals.service.state.anomalies, []);
});

test('load: partition-filtered on the lookback window, approval events only, duplicates folded once', async () => {
  pubsub.messages.length = 0;
  const statements = memoryStatementStore();
  const a = await instance('gw-dup', statements);
  const p1 = await a.approvals.gate.check(held('eve@bank.example', DELETE));
  await a.approvals.service.approve(p1.approvalId, reviewer('bob@bank.example'), 'ok');
  await a.stop();
  rewrite = (rows) => [...rows, ...rows.map((r) => ({ ...r, message_id: `${String(r.message_id)}-redelivered` }))];
  try {
    let clock = Date.now();
    const source = createBigQueryApprovalSource({ table: TABLE, bigquery: client, pollIntervalMs: 0, now: () => clock });
    const before = bq.queries.length;
    const events: AuditEvent[] = [];
    for await (const e of source.load()) events.push(e);
    assert.equal(bq.queries.length, before + 1);
    const q = bq.queries.at(-1)!;
    assert.equal(Date.parse(String(q.params.since)), clock - 8 * 86_400_000, 'default lookback: 8 days');
    assert.deepEqual((q.params.event_types as string[]).sort(), ['approval_executed', 'approval_expired', 'approval_granted', 'approval_rejected', 'approval_requested']);
    assert.deepEqual(
      events.map((e) => e.event_type),
      ['approval_requested', 'approval_granted'],
      'one copy of each, no gateway_start/checkpoints',
    );
    assert.equal(new Set(events.map((e) => e.event_id)).size, 2);
    // A subscriber gets only what it has not seen, even though each poll re-reads the overlap.
    const got: AuditEvent[] = [];
    source.subscribe!((e) => got.push(e));
    clock += 1000;
    assert.equal(await source.refresh({ force: true }), 0);
    assert.deepEqual(got, []);
    source.close();
  } finally {
    rewrite = (r) => r;
  }
});

test('fail closed: an edited row or two different events under one id stop the rebuild, naming the event', async () => {
  pubsub.messages.length = 0;
  const statements = memoryStatementStore();
  const a = await instance('gw-tamper', statements);
  const p = await a.approvals.gate.check(held('eve@bank.example', DELETE));
  await a.approvals.service.reject(p.approvalId, reviewer('bob@bank.example'), 'wrong account');
  await a.stop();
  const rejected = tableRows().find((r) => r.event_type === 'approval_rejected')!;

  // Someone with write access deletes the rejection's effect by turning it into a failed vote.
  rewrite = (rows) => rows.map((r) => (r.event_id === rejected.event_id ? { ...r, outcome: 'failure' } : r));
  try {
    const source = createBigQueryApprovalSource({ table: TABLE, bigquery: client, pollIntervalMs: 0 });
    await assert.rejects(
      createApprovals({ audit: { append: async () => assert.fail('nothing is written') }, source, policy: policyView, config: {}, log: silent, statements, publicUrl: 'http://x' }),
      (err: Error) => err.name === 'ApprovalSourceError' && err.message.includes(String(rejected.event_id)) && /does not match its hash/.test(err.message),
    );
    // A second, self-consistent event reusing the id (hash recomputed) is not a duplicate.
    rewrite = (rows) => {
      const forged = { ...(rows.find((r) => r.event_id === rejected.event_id) as Record<string, unknown>), decision_reason: 'other' } as unknown as AuditEvent;
      forged.hash = hashValidEvent(forged);
      return [...rows, forged as unknown as Record<string, unknown>];
    };
    await assert.rejects(async () => {
      for await (const _ of createBigQueryApprovalSource({ table: TABLE, bigquery: client, pollIntervalMs: 0 }).load());
    }, /two different events with event_id/);
  } finally {
    rewrite = (r) => r;
  }
});

test('a failed poll rejects, marks the source unhealthy, changes nothing, and the next poll recovers', async () => {
  pubsub.messages.length = 0;
  const source = createBigQueryApprovalSource({ table: TABLE, bigquery: client, pollIntervalMs: 0 });
  for await (const _ of source.load());
  assert.equal(source.isHealthy(), true);
  bq.failNext = { status: 403, reason: 'accessDenied', message: 'Access Denied: Table test-project:bqwarden_audit_views.approval_events', count: 1 };
  await assert.rejects(source.refresh({ force: true }), /Access Denied/);
  assert.equal(source.isHealthy(), false);
  assert.match(String(source.lastError?.message), /cannot be followed/);
  assert.equal(await source.refresh({ force: true }), 0);
  assert.equal(source.isHealthy(), true);
  source.close();
});

test('polls are cached for the TTL and shared by concurrent callers', async () => {
  pubsub.messages.length = 0;
  let clock = Date.now();
  const source = createBigQueryApprovalSource({ table: TABLE, bigquery: client, pollIntervalMs: 0, cacheTtlMs: 2000, now: () => clock });
  for await (const _ of source.load());
  const n = bq.queries.length;
  await source.refresh();
  assert.equal(bq.queries.length, n, 'within the TTL of the load: no query');
  clock += 2500;
  await Promise.all([source.refresh(), source.refresh(), source.refresh()]);
  assert.equal(bq.queries.length, n + 1, 'one query for three concurrent callers');
  const since = Date.parse(String(bq.queries.at(-1)!.params.since));
  assert.equal(since, clock - 15 * 60_000, 'a poll re-reads the 15-minute overlap, not the whole lookback');
  await source.refresh({ force: true });
  assert.equal(bq.queries.length, n + 2);
  source.close();
});

test('fold order puts requests first within a batch, so clock skew cannot orphan a vote', () => {
  const ev = (type: AuditEvent['event_type'], time: string, chain: string, seq: number) => ({ event_type: type, event_time: time, chain_id: chain, seq }) as AuditEvent;
  const grant = ev('approval_granted', '2026-01-01T00:00:00.000Z', 'b', 3);
  const request = ev('approval_requested', '2026-01-01T00:00:00.004Z', 'a', 9);
  const claim = ev('approval_executed', '2026-01-01T00:00:01.000Z', 'a', 10);
  assert.deepEqual(foldOrder([claim, grant, request]), [request, grant, claim]);
});

test('config: the gateway refuses to start on Pub/Sub without a table to rebuild approvals from; bad table ids are refused', () => {
  const none = GcpConfigSchema.parse({});
  assert.throws(() => approvalSourceFromConfig(none), /gcp\.approvals\.table/);
  const cfg = GcpConfigSchema.parse({ approvals: { table: TABLE, pollIntervalMs: 0 } });
  const s = approvalSourceFromConfig(cfg, { bigquery: client });
  assert.equal(s.name, `bigquery:${TABLE}`);
  s.close();
  assert.equal(approvalSourceFromConfig(GcpConfigSchema.parse({ bigquery: { auditTable: 'p.d.t' } }), { bigquery: client }).name, 'bigquery:p.d.t');
  assert.throws(() => createBigQueryApprovalSource({ table: 'p.d.t`; DELETE FROM x; --' }), /not a BigQuery table id/);
  assert.throws(() => createBigQueryApprovalSource({ table: TABLE, lookbackDays: 0 }), /lookbackDays/);
  assert.match(buildApprovalQuery(TABLE), /FROM `test-project`\.`bqwarden_audit_views`\.`approval_events`/);
});
