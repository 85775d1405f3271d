// The BigQuery table schema and the Pub/Sub topic schema are generated from the audit event
// zod schema; these tests fail when the checked-in files are stale or a mapping is wrong.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { z } from 'zod';
import { AuditEventSchema } from '../../src/audit/event.js';
import { auditTableSchema, auditTopicProto, eventTableFields, METADATA_COLUMN_NAMES, type BigQueryField } from '../../src/gcp/audit-schema.js';
import { staleGenerated } from '../../src/gcp/generate.js';
import { lookerStudioUrl, parseTableId } from '../../src/gcp/looker.js';
import { fakeChain } from './events.js';
import { only } from '../helpers/present.js';

const require = createRequire(import.meta.url);

const byName = (fields: BigQueryField[]) => new Map(fields.map((f) => [f.name, f]));

test('checked-in generated schema files match the audit event schema (run `npm run schema`)', async () => {
  assert.deepEqual(await staleGenerated(), []);
});

test('every event field becomes a column with the right BigQuery type and mode', () => {
  const cols = byName(auditTableSchema());
  for (const key of Object.keys(AuditEventSchema.shape)) assert.ok(cols.has(key), `missing column ${key}`);
  const expect: Record<string, [string, string]> = {
    event_id: ['STRING', 'REQUIRED'],
    event_time: ['TIMESTAMP', 'REQUIRED'],
    approval_expires_at: ['TIMESTAMP', 'NULLABLE'],
    seq: ['INT64', 'REQUIRED'],
    http_status: ['INT64', 'NULLABLE'],
    privileged: ['BOOL', 'REQUIRED'],
    actor_email: ['STRING', 'NULLABLE'],
    actor_groups: ['STRING', 'REPEATED'],
    event_type: ['STRING', 'REQUIRED'],
    masked_columns: ['RECORD', 'REPEATED'],
    detector_hits: ['RECORD', 'REPEATED'],
    publish_time: ['TIMESTAMP', 'NULLABLE'],
  };
  for (const [name, [type, mode]] of Object.entries(expect)) {
    assert.deepEqual([cols.get(name)?.type, cols.get(name)?.mode], [type, mode], name);
  }
  const masked = byName(cols.get('masked_columns')!.fields!);
  assert.deepEqual([masked.get('rule_id')?.type, masked.get('rule_id')?.mode], ['STRING', 'NULLABLE']);
  assert.deepEqual([masked.get('column')?.mode], ['REQUIRED']);
  assert.equal(byName(cols.get('detector_hits')!.fields!).get('count')?.type, 'INT64');
  for (const m of METADATA_COLUMN_NAMES) assert.equal(cols.get(m)?.mode, 'NULLABLE', `metadata column ${m}`);
  assert.ok(cols.get('event_time')!.description, 'descriptions come from the side map');
});

test('the generator refuses shapes BigQuery cannot hold instead of guessing', () => {
  assert.throws(() => eventTableFields(z.object({ a: z.union([z.string(), z.number()]) })), /union|mixed/);
  assert.throws(() => eventTableFields(z.object({ a: z.array(z.string()).nullable() })), /nullable array/);
  assert.throws(() => eventTableFields(z.object({ a: z.array(z.array(z.string())) })), /items/);
  assert.throws(() => auditTableSchema(z.object({ message_id: z.string() })), /metadata column/);
});

test('the topic schema is valid proto3 that accepts a real event published as JSON', () => {
  const protobuf = require('protobufjs') as typeof import('protobufjs');
  const root = protobuf.parse(auditTopicProto(), { keepCase: true }).root;
  const type = root.lookupType('bqwarden.audit.v1.AuditEvent');
  const protoFields = Object.keys(type.fields).sort();
  assert.deepEqual(protoFields, Object.keys(AuditEventSchema.shape).sort(), 'proto fields are exactly the event fields');
  const ev = only(fakeChain('c', 1), 'event of a one-event chain');
  const withNulls = JSON.parse(JSON.stringify(ev)) as Record<string, unknown>;
  assert.equal(withNulls.actor_subject, null, 'events carry explicit nulls');
  const nonNull = Object.fromEntries(Object.entries(withNulls).filter(([, v]) => v !== null));
  assert.equal(type.verify(nonNull), null);
  const msg = type.fromObject(nonNull);
  const back = type.toObject(msg, { longs: Number, arrays: true });
  assert.equal(back.event_id, ev.event_id);
  assert.equal(back.masked_columns[0].classification, 'pii');
  assert.equal(type.verify({ ...nonNull, seq: 'x' }) !== null, true, 'wrong types are rejected');
});

test('Looker Studio link binds the template to the audit table', () => {
  const url = new URL(lookerStudioUrl({ templateReportId: 'tpl', ...parseTableId('my-proj.audit_ds.events') }));
  assert.equal(url.origin + url.pathname, 'https://lookerstudio.google.com/reporting/create');
  assert.equal(url.searchParams.get('c.reportId'), 'tpl');
  assert.equal(url.searchParams.get('ds.audit.connector'), 'bigQuery');
  assert.equal(url.searchParams.get('ds.audit.projectId'), 'my-proj');
  assert.equal(url.searchParams.get('ds.audit.datasetId'), 'audit_ds');
  assert.equal(url.searchParams.get('ds.audit.tableId'), 'events');
  assert.throws(() => parseTableId('not a table'), /not a BigQuery table id/);
  assert.deepEqual(parseTableId('example.com:proj.ds.t'), { projectId: 'example.com:proj', datasetId: 'ds', tableId: 't' });
});
