// The upstream kinds' result readers (src/upstreams/result-shapes.ts) and the port masking reads
// them through (MaskingOptions.shapes): masking recognises an upstream's status line or wrapped
// rows only because a kind says so, and without the readers the same answers fail closed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyMasking, WITHHELD_TEXT } from '../../src/masking/apply.js';
import type { UpstreamShapes } from '../../src/masking/upstream-shapes.js';
import { UPSTREAM_SHAPES } from '../../src/upstreams/result-shapes.js';
import { col, options, plan } from '../masking/helpers.js';

const SENSITIVE = plan([col(1, 'ssn', 'last4')], ['id', 'ssn']);
const texts = (r: Record<string, unknown>) => (r.content as { text: string }[]).map((c) => c.text);

test("each kind's status lines are status; a status line with anything after it is not", () => {
  assert.equal(UPSTREAM_SHAPES.statusText('The query returned 0 rows.'), 'no-rows');
  assert.equal(UPSTREAM_SHAPES.statusText('Query executed successfully and returned no content.'), 'status');
  assert.equal(UPSTREAM_SHAPES.statusText('error processing request: unable to execute query: SQL logic error: no such table: nope (1)'), 'status');
  assert.equal(UPSTREAM_SHAPES.statusText('The query returned 0 rows. Alice Smith'), null);
  assert.equal(UPSTREAM_SHAPES.statusText('error processing request: unable to execute query: Bad int64 value: Alice Smith'), null);
});

test('BigQuery REST rows: recognised, named by schema, unwrapped and rewrapped', () => {
  const rest = { schema: { fields: [{ name: 'id' }, { name: 'ssn' }] }, rows: [{ f: [{ v: '1' }, { v: '123-45-6789' }] }] };
  const r = UPSTREAM_SHAPES.wrappedRows;
  assert.ok(r.is(rest));
  assert.ok(!r.is({ rows: [] }));
  assert.ok(!r.is({ rows: [{ id: 1 }] }));
  assert.deepEqual(r.columnNames(rest), ['id', 'ssn']);
  assert.equal(r.columnNames({ rows: rest.rows }), null);
  const record = { f: [{ v: 'a' }, { v: [{ v: 'b' }] }] };
  assert.deepEqual(r.unwrap(record), ['a', ['b']]);
  assert.deepEqual(r.rewrap(record, ['x', ['y']]), { f: [{ v: 'x' }, { v: [{ v: 'y' }] }] });
});

test('masking reads upstream shapes only through the port: without readers the same answers fail closed', () => {
  const none: UpstreamShapes = {
    statusText: () => null,
    wrappedRows: { is: () => false, columnNames: () => null, unwrap: (v) => v, rewrap: (_o, m) => m },
  };
  const status = { content: [{ type: 'text', text: 'The query returned 0 rows.' }] };
  const withKinds = applyMasking(status, SENSITIVE, options());
  assert.deepEqual(texts(withKinds.result), ['The query returned 0 rows.']);
  assert.equal(withKinds.report.rows, 0);
  const blind = applyMasking(status, SENSITIVE, { ...options(), shapes: none });
  assert.deepEqual(texts(blind.result), [WITHHELD_TEXT]);
  assert.equal(blind.report.rows, null);

  const rest = { structuredContent: { schema: { fields: [{ name: 'id' }, { name: 'ssn' }] }, rows: [{ f: [{ v: '1' }, { v: '123-45-6789' }] }] } };
  const read = applyMasking(rest, SENSITIVE, options()).result.structuredContent as { rows: { f: { v: string }[] }[] };
  assert.equal(read.rows[0]?.f[1]?.v, 'XXXXX6789');
  const unread = JSON.stringify(applyMasking(rest, SENSITIVE, { ...options(), shapes: none }).result);
  assert.ok(!unread.includes('123-45-6789'), unread);
});
