// One contract, two stores: the same cases run against the local JSONL store (a temp directory
// written by the real audit log) and the BigQuery audit table (the same events as the rows the
// BigQuery subscription loads, read through the real @google-cloud/bigquery client from the
// local REST server). Approvals, verify, replay, report and the console rely on exactly these
// answers, whichever store the gateway was configured with.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BigQuery } from '@google-cloud/bigquery';
import type { AuditEvent } from '../../src/audit/event.js';
import { loadPublicKeysFromDir } from '../../src/audit/checkpoint.js';
import { AuditReadError, type AuditStore, type ReadIssue, type RecordRef } from '../../src/audit/store.js';
import { JsonlAuditStore } from '../../src/audit/store-jsonl.js';
import { formatReport, verifyStore } from '../../src/audit/verify.js';
import { auditTableSchema } from '../../src/gcp/audit-schema.js';
import { BigQueryAuditStore } from '../../src/gcp/audit-store.js';
import { JsonlSink } from '../../src/sinks/jsonl.js';
import { chainHeadsResult, FakeBigQuery, type FakeQuery } from '../gcp/bigquery-fake.js';
import { chainFiles, openLog, readLinesOf, request, tempData, writeLinesOf } from './helpers.js';

process.env.METADATA_SERVER_DETECTION = 'none';

const TABLE = 'test-project.bqwarden_audit.events';
const DAY_MS = 86_400_000;
const t = tempData();
let events: AuditEvent[] = [];
let rows: Record<string, unknown>[] = [];
let publicKeys: string[];
let bq: FakeBigQuery;
let client: BigQuery;

/** What BigQuery does with the store's queries: the partition filter, the other filters, chain order, the GROUP BY of heads. */
function runQuery(q: FakeQuery) {
  const p = q.params;
  const time = (r: Record<string, unknown>) => Date.parse(String(r.event_time));
  const day = (d: unknown) => Date.parse(`${String(d)}T00:00:00Z`);
  assert.match(q.query, /WHERE event_time >= (TIMESTAMP\(@(since|from_date)\)|TIMESTAMP_ADD\(TIMESTAMP\(@to_date\), INTERVAL 1 DAY\))/, 'partition filter present');
  assert.doesNotMatch(q.query, /subscription_name|message_id/, 'metadata columns are never read');
  const grouped = /GROUP BY chain_id/.test(q.query);
  let out = rows.filter((r) => {
    if (p.since !== undefined && time(r) < Date.parse(String(p.since))) return false;
    if (p.until !== undefined && time(r) > Date.parse(String(p.until))) return false;
    if (p.from_date !== undefined && time(r) < day(p.from_date)) return false;
    if (p.to_date !== undefined && !grouped && time(r) >= day(p.to_date) + DAY_MS) return false;
    if (p.to_date !== undefined && grouped && time(r) < day(p.to_date) + DAY_MS) return false;
    if (p.chain_id !== undefined && r.chain_id !== p.chain_id) return false;
    if (p.session_id !== undefined && r.session_id !== p.session_id) return false;
    if (p.event_types !== undefined && !(p.event_types as string[]).includes(String(r.event_type))) return false;
    if (p.chains !== undefined && !(p.chains as string[]).includes(String(r.chain_id))) return false;
    return true;
  });
  if (grouped) return chainHeadsResult(out);
  out = [...out].sort((a, b) => String(a.chain_id).localeCompare(String(b.chain_id)) || Number(a.seq) - Number(b.seq));
  return { schema: auditTableSchema(), rows: out };
}

const stores: Record<'jsonl' | 'bigquery', () => AuditStore> = {
  jsonl: () => new JsonlAuditStore(t.audit),
  bigquery: () => new BigQueryAuditStore({ table: TABLE, bigquery: client }),
};

async function all<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

const ids = (es: { event: AuditEvent }[]) => es.map((e) => e.event.event_id);

before(async () => {
  // Two chains (two gateway processes, one after the other), every 5 hours over three days, with an approval flow.
  let clock = Date.parse('2026-05-01T10:00:00.000Z');
  for (const chainId of ['chain-a', 'chain-b']) {
    const sink = await JsonlSink.open({ dir: t.audit, chainId });
    const { log } = await openLog(t.audit, t.keys, { now: () => clock, sink, instance: chainId });
    for (let i = 0; i < 8; i++) {
      clock += 5 * 3_600_000;
      await log.append(request(i, { request_id: `${chainId}-${i}` }));
      if (i === 3) await log.append({ event_type: 'approval_requested', approval_id: `ap-${chainId}`, session_id: 'sess-0', decision: 'approval_required', outcome: 'pending' });
      if (i === 5) await log.append({ event_type: 'approval_granted', approval_id: `ap-${chainId}`, actor_email: 'boss@bank.example', decision: 'allow' });
    }
    await log.close();
  }
  publicKeys = loadPublicKeysFromDir(t.keys);
  events = [];
  for (const f of chainFiles(t.audit)) for (const l of readLinesOf(f)) events.push(JSON.parse(l) as AuditEvent);
  // What the BigQuery subscription (use_table_schema + write_metadata) loads: the event's fields plus metadata columns.
  rows = events.map((e, i) => ({ ...e, subscription_name: 'projects/test-project/subscriptions/audit-bq', message_id: String(i), publish_time: e.event_time, data: null, attributes: '{}' }));
  bq = new FakeBigQuery(runQuery);
  await bq.start();
  client = new BigQuery(bq.clientOptions());
});

after(async () => {
  await bq.stop();
  t.cleanup();
});

for (const [kind, open] of Object.entries(stores)) {
  test(`${kind}: range streams every event in chain order (chain id, then seq), the same events as written`, async () => {
    const got = await all(open().range());
    assert.deepEqual(
      got.map((r) => [r.event.chain_id, r.event.seq, r.event.hash]),
      events.map((e) => [e.chain_id, e.seq, e.hash]),
    );
    assert.ok(
      got.every((r) => r.loc.file !== undefined || r.loc.ref !== undefined),
      'every event says where it is',
    );
    assert.equal(new Set(got.map((r) => r.event.chain_id)).size, 2);
  });

  test(`${kind}: range filters by time window, chain, session and event type`, async () => {
    const store = open();
    const from = new Date('2026-05-02T00:00:00.000Z');
    const to = new Date('2026-05-02T12:00:00.000Z');
    const window = await all(store.range({ from, to }));
    assert.deepEqual(
      ids(window),
      events.filter((e) => e.event_time >= from.toISOString() && e.event_time <= to.toISOString()).map((e) => e.event_id),
    );
    assert.ok(window.length > 0);
    const chainB = await all(store.range({ chainId: 'chain-b' }));
    assert.deepEqual(
      ids(chainB),
      events.filter((e) => e.chain_id === 'chain-b').map((e) => e.event_id),
    );
    const sess = await all(store.range({ sessionId: 'sess-1' }));
    assert.deepEqual(
      ids(sess),
      events.filter((e) => e.session_id === 'sess-1').map((e) => e.event_id),
    );
    assert.equal(sess.length, 6);
    const starts = await all(store.range({ eventTypes: ['gateway_stop'] }));
    assert.deepEqual(
      starts.map((r) => r.event.chain_id),
      ['chain-a', 'chain-b'],
    );
    assert.deepEqual(await all(store.range({ eventTypes: [] })), []);
    assert.deepEqual(await all(store.range({ chainId: 'no-such-chain' })), []);
  });

  test(`${kind}: byDay holds the events of the UTC days, inclusive`, async () => {
    const got = await all(open().byDay('2026-05-02', '2026-05-03'));
    const want = events.filter((e) => e.event_time >= '2026-05-02T00:00:00.000Z' && e.event_time < '2026-05-04T00:00:00.000Z');
    assert.deepEqual(ids(got), ids(want.map((event) => ({ event }))));
    assert.ok(got.length > 0 && got.length < events.length);
    assert.deepEqual(await all(open().byDay('2001-01-01', '2001-01-02')), []);
  });

  test(`${kind}: approvalEvents yields the approval_* events at or after the time given`, async () => {
    const store = open();
    const every = await all(store.approvalEvents());
    assert.deepEqual(every.map((e) => `${e.event_type}:${e.approval_id}`).sort(), [
      'approval_granted:ap-chain-a',
      'approval_granted:ap-chain-b',
      'approval_requested:ap-chain-a',
      'approval_requested:ap-chain-b',
    ]);
    const grantB = every.find((e) => e.event_type === 'approval_granted' && e.chain_id === 'chain-b');
    assert.ok(grantB);
    const later = await all(store.approvalEvents(new Date(grantB.event_time)));
    assert.deepEqual(
      later.map((e) => e.event_id),
      [grantB.event_id],
    );
  });

  test(`${kind}: heads name each chain's newest event, and what lies after a day`, async () => {
    const store = open();
    const heads = await store.heads();
    const last = (c: string) => events.filter((e) => e.chain_id === c).at(-1);
    assert.deepEqual(
      heads.map((h) => [h.chain_id, h.seq, h.event_time, h.events]),
      ['chain-a', 'chain-b'].map((c) => [c, last(c)?.seq, last(c)?.event_time, events.filter((e) => e.chain_id === c).length]),
    );
    const afterDay = '2026-05-02';
    const after = await store.heads({ afterDay, chainIds: ['chain-a', 'chain-b'] });
    const later = events.filter((e) => e.event_time >= '2026-05-03T00:00:00.000Z');
    assert.deepEqual(
      after.map((h) => [h.chain_id, h.events]),
      [...new Set(later.map((e) => e.chain_id))].map((c) => [c, later.filter((e) => e.chain_id === c).length]),
    );
    assert.deepEqual(await store.heads({ chainIds: [] }), []);
  });

  test(`${kind}: records feed the verifier: both chains verify with the pinned key, a day window as a partial chain`, async () => {
    const store = open();
    const report = await verifyStore(store, { publicKeys, requireSealed: true });
    assert.ok(report.ok, formatReport(report));
    assert.equal(report.events, events.length);
    assert.deepEqual(
      report.chains.map((c) => [c.chain_id, c.sealed]),
      [
        ['chain-a', true],
        ['chain-b', true],
      ],
    );
    const window = await verifyStore(store, { publicKeys, partial: true, days: { from: '2026-05-02', to: '2026-05-02' } });
    assert.ok(window.ok, formatReport(window));
    assert.ok(window.events > 0 && window.events < events.length);
    // Trust is the pins': without the signing key every checkpoint is an unknown key.
    const untrusted = await verifyStore(store, { publicKeys: [] });
    assert.ok(untrusted.breaks.some((b) => b.kind === 'unknown_key'));
  });
}

for (const [kind, open] of Object.entries(stores)) {
  test(`${kind}: follow hands over every record once, then only what is new; readRecord reads one back validated`, async () => {
    const store = open();
    const seen: { text: string; ref: RecordRef; line: number }[] = [];
    const issues: string[] = [];
    const sink = {
      record: (text: string, part: string, offset: number, length: number, line: number) => seen.push({ text, ref: { part, offset, length }, line }),
      issue: (part: string, line: number, reason: string) => issues.push(`${part}:${line}: ${reason}`),
    };
    const state = await store.follow(null, sink);
    assert.deepEqual(issues, []);
    assert.deepEqual(seen.map((r) => (JSON.parse(r.text) as AuditEvent).event_id).sort(), events.map((e) => e.event_id).sort());
    const pick = seen[7];
    assert.ok(pick);
    const back = await store.readRecord(pick.ref);
    assert.equal(back.event_id, (JSON.parse(pick.text) as AuditEvent).event_id);
    assert.equal(back.hash, events.find((e) => e.event_id === back.event_id)?.hash);
    seen.length = 0;
    await store.follow(state, sink);
    assert.deepEqual(seen, [], 'nothing new: nothing handed over again');
    await assert.rejects(store.readRecord({ ...pick.ref, offset: pick.ref.offset + 100_000 }));
  });
}

/** Damages the first event of chain-a (first line of its first file, first row in chain order) in a copy of the store. */
function damaged(): { jsonl: JsonlAuditStore; bigquery: BigQueryAuditStore; cleanup: () => void } {
  const copy = mkdtempSync(join(tmpdir(), 'bqw-store-contract-'));
  cpSync(t.audit, copy, { recursive: true });
  const file = chainFiles(copy)[0];
  assert.ok(file);
  const lines = readLinesOf(file);
  const [line, ...rest] = lines;
  assert.ok(line);
  const bad = { ...(JSON.parse(line) as Record<string, unknown>), event_type: 'not_an_event_type' };
  writeLinesOf(file, [JSON.stringify(bad), ...rest]);
  const saved = rows;
  rows = rows.map((r, i) => (i === 0 ? { ...r, event_type: 'not_an_event_type' } : r));
  return {
    jsonl: new JsonlAuditStore(copy),
    bigquery: new BigQueryAuditStore({ table: TABLE, bigquery: client }),
    cleanup: () => {
      rows = saved;
      rmSync(copy, { recursive: true, force: true });
    },
  };
}

test('both stores: a record that is not an audit event stops every read (naming where it is) unless onInvalid takes it; records() hands it to the verifier', async () => {
  const d = damaged();
  try {
    for (const store of [d.jsonl, d.bigquery]) {
      await assert.rejects(all(store.range()), (err: Error) => err instanceof AuditReadError && /not an audit event: event_type/.test(err.message) && err.issue?.line === 1, store.name);
      // The damaged record is no approval event: approval reads skip it (decided from the type alone).
      assert.equal((await all(store.approvalEvents())).length, 4, store.name);
      const issues: ReadIssue[] = [];
      const rest = await all(store.range({}, { onInvalid: (i) => issues.push(i) }));
      assert.equal(rest.length, events.length - 1, store.name);
      assert.equal(issues.length, 1, store.name);
      const report = await verifyStore(store, { publicKeys });
      assert.ok(!report.ok, store.name);
      assert.ok(
        report.breaks.some((b) => b.kind === 'malformed'),
        formatReport(report),
      );
    }
    // The messages name the line of the file, the row of the table.
    await assert.rejects(all(d.jsonl.range()), /chain-a-\d+\.jsonl:1: not an audit event/);
    await assert.rejects(all(d.bigquery.range()), /test-project\.bqwarden_audit\.events row 1 \(event_id [0-9a-f-]+\) is not an audit event/);
  } finally {
    d.cleanup();
  }
});

test('both stores: an unreachable store fails closed with its own reason', async () => {
  await assert.rejects(all(new JsonlAuditStore(`${t.audit}-missing`).range()), /audit directory .*-missing does not exist/);
  bq.failNext = { status: 403, reason: 'accessDenied', message: 'Access Denied: Table test-project:bqwarden_audit.events', count: 1 };
  await assert.rejects(all(stores.bigquery().range()), (err: Error) => err instanceof AuditReadError && /query on test-project\.bqwarden_audit\.events failed: .*Access Denied/.test(err.message));
  assert.throws(() => new BigQueryAuditStore({ table: 'p.d.t`; DROP TABLE x; --' }), /not a BigQuery table id/);
});
