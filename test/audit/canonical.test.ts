// Canonical serialisation and hashing, and reproducing the hash from BigQuery-shaped rows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { canonicalize, canonicalEvent, CanonicalError } from '../../src/audit/canonical.js';
import { hashEvent, isHashValid } from '../../src/audit/hash.js';
import { normalizeEvent, NormalizeError } from '../../src/audit/normalize.js';
import { AuditEventSchema, type AuditEvent } from '../../src/audit/event.js';
import { openLog, request, tempData } from './helpers.js';

async function sampleEvent(): Promise<AuditEvent> {
  const t = tempData();
  try {
    const { log } = await openLog(t.audit, t.keys);
    const e = await log.append(request(3, { approval_expires_at: '2026-11-22T02:42:56.123Z', detector_hits: [{ detector: 'ssn', count: 2 }], privileged: true, http_status: 200 }));
    await log.close();
    return e;
  } finally {
    t.cleanup();
  }
}

test('canonical JSON: sorted keys at every depth, no whitespace, key order of the input does not matter', () => {
  assert.equal(canonicalize({ b: 1, a: { d: [true, null], c: 'x"y' } }), '{"a":{"c":"x\\"y","d":[true,null]},"b":1}');
  fc.assert(
    fc.property(fc.dictionary(fc.string(), fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null)), { noNullPrototype: true }), (obj) => {
      const reversed = Object.fromEntries(Object.entries(obj).reverse());
      assert.equal(canonicalize(reversed), canonicalize(obj));
      assert.deepEqual(JSON.parse(canonicalize(obj)), obj);
    }),
  );
});

test('canonical JSON refuses values whose text would not be stable', () => {
  for (const bad of [1.5, NaN, Infinity, 2 ** 60, undefined, 10n, new Date(0), { a: undefined }]) {
    assert.throws(() => canonicalize(bad), CanonicalError, String(bad));
  }
});

test('the hash covers every field but hash; a missing key is an error, not another hash', async () => {
  const e = await sampleEvent();
  assert.equal(isHashValid(e), true);
  assert.equal(hashEvent({ ...e, hash: 'anything' }), e.hash);
  for (const field of ['actor_email', 'seq', 'prev_hash', 'signature', 'masked_columns', 'response_json'] as const) {
    const changed = { ...e, [field]: field === 'seq' ? e.seq + 1 : field === 'masked_columns' ? [] : 'x' };
    assert.notEqual(hashEvent(changed), e.hash, field);
  }
  const { actor_email: _drop, ...missing } = e;
  assert.throws(() => hashEvent(missing));
  assert.equal(canonicalEvent(e), canonicalEvent(JSON.parse(canonicalEvent(e))));
});

test('normalizeEvent reproduces the hash from BigQuery row shapes', async () => {
  const e = await sampleEvent();
  const shapes: Record<string, unknown>[] = [
    // @google-cloud/bigquery default: INT64 as numbers, TIMESTAMP as BigQueryTimestamp {value}
    { ...e, event_time: { value: e.event_time.replace('Z', '000Z') }, approval_expires_at: { value: '2026-11-22T02:42:56.123000Z' } },
    // SQL / console text form and INT64 as strings, empty REPEATED as null, extra subscription columns
    {
      ...e,
      seq: String(e.seq),
      http_status: '200',
      rows_returned: { value: '1' },
      event_time: e.event_time.replace('T', ' ').replace('Z', ' UTC'),
      approval_expires_at: '2026-11-22 02:42:56.123 UTC',
      actor_groups: null,
      target_tables: null,
      detector_hits: [{ detector: 'ssn', count: '2' }],
      privileged: 'true',
      publish_time: '2026-11-22 02:42:57.000 UTC',
      message_id: '123',
    },
    // REST tabledata: TIMESTAMP as float epoch seconds in exponent form
    { ...e, event_time: (Date.parse(e.event_time) / 1000).toExponential(12).replace('e+', 'E'), approval_expires_at: new Date('2026-11-22T02:42:56.123Z') },
  ];
  for (const s of shapes) {
    const n = normalizeEvent(s);
    assert.equal(hashEvent(n), e.hash, JSON.stringify(s).slice(0, 120));
    assert.deepEqual(n, AuditEventSchema.parse(e));
  }
});

test('normalizeEvent refuses what it cannot map exactly', async () => {
  const e = await sampleEvent();
  const bad: [string, unknown][] = [
    ['event_time', '2026-11-22T02:42:56.123456Z'], // sub-ms digits the gateway never writes
    ['event_time', '2026-02-30 00:00:00 UTC'],
    ['event_time', 'yesterday'],
    ['seq', '1.5'],
    ['seq', '9007199254740993'],
    ['privileged', 'yes'],
    ['decision', 'maybe'],
  ];
  for (const [k, v] of bad) assert.throws(() => normalizeEvent({ ...e, [k]: v }), NormalizeError, `${k}=${String(v)}`);
  assert.throws(() => normalizeEvent(null), NormalizeError);
  assert.throws(() => normalizeEvent([]), NormalizeError);
});

test('a version-1 event (before intent_id and sql_executed existed) still parses and its hash still verifies', async () => {
  const e = await sampleEvent();
  // What a version-1 writer stored: none of the later keys, hashed over what it had.
  const v1: Record<string, unknown> = { ...e, schema_version: '1' };
  for (const k of ['intent_id', 'sql_executed', 'sql_executed_sha256']) delete v1[k];
  const { hash: _h, ...rest } = v1;
  v1.hash = createHash('sha256').update(canonicalize(rest), 'utf8').digest('hex');
  const parsed = AuditEventSchema.parse(JSON.parse(JSON.stringify(v1)));
  assert.equal(parsed.sql_executed, null);
  assert.equal(parsed.intent_id, null);
  assert.ok(isHashValid(parsed), 'a version-1 hash verifies without the later fields');
  // Adding one of them later (a forgery of the old record) breaks the hash.
  assert.ok(!isHashValid({ ...parsed, sql_executed: 'SELECT 1' }));
});
