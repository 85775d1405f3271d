import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyMasking, WITHHELD_TEXT } from '../../src/masking/apply.js';
import { at, first } from '../helpers/present.js';
import { col, firstRow, options, plan, rowsOf, textAt, toolbox, KEY_B } from './helpers.js';

const opts = options();
const NAMES = ['customer_id', 'full_name', 'ssn', 'email', 'account_number', 'date_of_birth', 'city', 'note'];
const PLAN = plan([col(1, 'full_name', 'pseudonym'), col(2, 'ssn', 'last4'), col(3, 'email', 'email_domain'), col(4, 'account_number', 'pseudonym_fpe'), col(5, 'date_of_birth', 'year_only')], NAMES);
const ROW = {
  customer_id: 7,
  full_name: 'Alice Smith',
  ssn: '123-45-6789',
  email: 'alice@bank.com',
  account_number: 123456789012,
  date_of_birth: '1980-03-15',
  city: 'Springfield',
  note: 'vip',
};

test('Toolbox shape (one JSON row per text item): plan columns masked, others untouched', () => {
  const { result, report } = applyMasking(toolbox([ROW, { ...ROW, customer_id: 8, ssn: null }]), PLAN, opts);
  const rows = rowsOf(result);
  const a = at(rows, 0, 'masked row');
  const b = at(rows, 1, 'masked row');
  assert.equal(a.customer_id, 7);
  assert.match(a.full_name as string, /^tok_/);
  assert.equal(a.ssn, 'XXXXX6789');
  assert.equal(a.email, 'XXXXX@bank.com');
  assert.match(a.account_number as string, /^\d{12}$/);
  assert.notEqual(a.account_number, '123456789012');
  assert.equal(a.date_of_birth, '1980-XX-XX');
  assert.equal(a.city, 'Springfield');
  assert.equal(b.ssn, null, 'NULL stays NULL');
  assert.equal(b.full_name, a.full_name, 'pseudonyms join across rows');
  assert.equal(report.rows, 2);
  assert.deepEqual(report.notes, []);
  assert.deepEqual(
    report.maskedColumns.map((c) => [c.column, c.method, c.rule_id, c.source]),
    [
      ['full_name', 'pseudonym', 'rule.full_name', 'demo.main.customers.full_name'],
      ['ssn', 'last4', 'rule.ssn', 'demo.main.customers.ssn'],
      ['email', 'email_domain', 'rule.email', 'demo.main.customers.email'],
      ['account_number', 'pseudonym_fpe', 'rule.account_number', 'demo.main.customers.account_number'],
      ['date_of_birth', 'year_only', 'rule.date_of_birth', 'demo.main.customers.date_of_birth'],
    ],
  );
});

test('no clear-text sensitive value survives anywhere in the output (serialised check)', () => {
  const { result } = applyMasking(toolbox([ROW]), PLAN, opts);
  const text = JSON.stringify(result);
  for (const secret of ['Alice Smith', '123-45-6789', 'alice@', '123456789012', '03-15']) assert.ok(!text.includes(secret), secret);
});

test('the input is never mutated', () => {
  const input = toolbox([ROW]);
  const snapshot = structuredClone(input);
  const sc = { structuredContent: { rows: [structuredClone(ROW)] } };
  const scSnap = structuredClone(sc);
  applyMasking(input, PLAN, opts);
  applyMasking(sc, PLAN, opts);
  assert.deepEqual(input, snapshot);
  assert.deepEqual(sc, scSnap);
});

test('pseudonyms are deterministic across calls and differ across keys', () => {
  const one = firstRow(applyMasking(toolbox([ROW]), PLAN, opts).result);
  const two = firstRow(applyMasking(toolbox([ROW]), PLAN, options()).result);
  const other = firstRow(applyMasking(toolbox([ROW]), PLAN, options({}, KEY_B)).result);
  assert.equal(one.full_name, two.full_name);
  assert.equal(one.account_number, two.account_number);
  assert.notEqual(one.full_name, other.full_name);
  assert.notEqual(one.account_number, other.account_number);
});

test('names match case-insensitively', () => {
  const p = plan([col(0, 'SSN', 'redact')], ['SSN']);
  const r = firstRow(applyMasking(toolbox([{ ssn: '123-45-6789' }]), p, opts).result);
  assert.equal(r.ssn, 'XXXXX');
});

test('duplicate output names collapse to one key: the strictest plan applies', () => {
  // SELECT ssn AS customer_id, customer_id FROM customers → {"customer_id": …} (one key)
  const p = plan([col(0, 'customer_id', 'last4', 'ssn', 'rule.ssn')], ['customer_id', 'customer_id']);
  const masked = firstRow(applyMasking(toolbox([{ customer_id: '123-45-6789' }]), p, opts).result);
  assert.equal(masked.customer_id, 'XXXXX6789');
  const p2 = plan([col(0, 'x', 'last4'), col(1, 'x', 'nullify')], ['x', 'x']);
  const m2 = applyMasking(toolbox([{ x: '123-45-6789' }]), p2, opts);
  assert.equal(firstRow(m2.result).x, null);
  assert.deepEqual(
    m2.report.maskedColumns.map((c) => c.method),
    ['nullify', 'nullify'],
  );
});

test('duplicate keys in the JSON text (BigQuery ordered rows): the value JSON keeps is masked, the other never released', () => {
  const p = plan([col(0, 'a', 'redact')], ['a', 'a']);
  const res = { content: [{ type: 'text', text: '{"a":"123-45-6789","a":"Alice"}' }] };
  const text = textAt(applyMasking(res, p, opts).result);
  assert.equal(text, '{"a":"XXXXX"}');
});

test('aliases: a sensitive column renamed in SQL is masked by its output name', () => {
  const p = plan([col(0, 'x', 'redact', 'ssn')], ['x', 'id']);
  const r = firstRow(applyMasking(toolbox([{ x: '123-45-6789', id: 1 }]), p, opts).result);
  assert.deepEqual(r, { x: 'XXXXX', id: 1 });
});

test('shape mismatch (unknown key): every value masked with the strictest fallback, reason noted', () => {
  const { result, report } = applyMasking(toolbox([{ customer_id: 7, 'upper(ssn)': '123-45-6789', city: 'X' }]), PLAN, opts);
  const r = firstRow(result);
  assert.deepEqual(r, { customer_id: 'XXXXX', 'upper(ssn)': 'XXXXX', city: 'XXXXX' });
  assert.ok(
    report.notes.some((n) => /masked column\(s\) 'full_name', 'ssn'.* missing from the result/.test(n)),
    report.notes.join(),
  );
  assert.ok(report.maskedColumns.some((c) => c.column === 'upper(ssn)' && c.method === 'redact' && c.rule_id === 'rule.fallback'));
});

test('shape mismatch without outputColumns: only plan names are known, detectors still run', () => {
  const p = plan([col(0, 'ssn', 'redact')], null);
  const r = firstRow(applyMasking(toolbox([{ ssn: '123-45-6789', other: 'SSN 123-45-6780' }]), p, opts).result);
  assert.deepEqual(r, { ssn: 'XXXXX', other: 'SSN [REDACTED:ssn]' });
});

test('positional rows (arrays of arrays) by index; wrong width → fallback', () => {
  const p = plan([col(1, 'ssn', 'last4')], ['id', 'ssn']);
  const ok = applyMasking(
    {
      content: [
        {
          type: 'text',
          text: JSON.stringify([
            [1, '123-45-6789'],
            [2, null],
          ]),
        },
      ],
    },
    p,
    opts,
  );
  assert.deepEqual(JSON.parse(textAt(ok.result)), [
    [1, 'XXXXX6789'],
    [2, null],
  ]);
  assert.equal(ok.report.rows, 2);
  const bad = applyMasking({ content: [{ type: 'text', text: JSON.stringify([['123-45-6789', 1, 'x']]) }] }, p, opts);
  assert.deepEqual(JSON.parse(textAt(bad.result)), [['XXXXX', 'XXXXX', 'XXXXX']]);
  assert.match(first(bad.report.notes, 'report note'), /row has 3 values, analysis expected 2/);
});

test('one text item holding a JSON array of row objects', () => {
  const res = { content: [{ type: 'text', text: JSON.stringify([ROW, ROW]) }] };
  const { result, report } = applyMasking(res, PLAN, opts);
  const rows = JSON.parse(textAt(result));
  assert.equal(rows[1].ssn, 'XXXXX6789');
  assert.equal(report.rows, 2);
});

test('structuredContent: rows, wrapper objects, and the text mirror are all masked', () => {
  const res = { content: [{ type: 'text', text: JSON.stringify({ rows: [ROW] }) }], structuredContent: { rows: [ROW], totalRows: 1 } };
  const { result } = applyMasking(res, PLAN, opts);
  const sc = result.structuredContent as { rows: Record<string, unknown>[]; totalRows: number };
  assert.equal(first(sc.rows, 'structuredContent row').ssn, 'XXXXX6789');
  assert.equal(sc.totalRows, 1);
  assert.equal(JSON.parse(textAt(result)).rows[0].ssn, 'XXXXX6789');
});

test('BigQuery REST shape {schema.fields, rows[].f[].v}', () => {
  const res = {
    structuredContent: {
      schema: { fields: [{ name: 'customer_id' }, { name: 'ssn' }] },
      rows: [{ f: [{ v: '1' }, { v: '123-45-6789' }] }, { f: [{ v: '2' }, { v: null }] }],
    },
  };
  const p = plan([col(1, 'ssn', 'last4')], ['customer_id', 'ssn']);
  const { result, report } = applyMasking(res, p, opts);
  const sc = result.structuredContent as { rows: { f: { v: unknown }[] }[] };
  assert.equal(sc.rows[0]?.f[1]?.v, 'XXXXX6789');
  assert.equal(sc.rows[0]?.f[0]?.v, '1');
  assert.equal(sc.rows[1]?.f[1]?.v, null);
  assert.equal(report.rows, 2);
});

test('BigQuery REST nested RECORD and REPEATED cells keep their f/v wrapping', () => {
  const res = {
    structuredContent: {
      schema: { fields: [{ name: 'addr' }, { name: 'phones' }] },
      rows: [{ f: [{ v: { f: [{ v: '1 Main St' }, { v: '10001' }] } }, { v: [{ v: '415-555-2671' }, { v: '415-555-2672' }] }] }],
    },
  };
  const p = plan([col(0, 'addr', 'last4'), col(1, 'phones', 'last4')], ['addr', 'phones']);
  const sc = applyMasking(res, p, opts).result.structuredContent as { rows: { f: { v: any }[] }[] };
  assert.deepEqual(sc.rows[0]?.f[0]?.v, { f: [{ v: 'XXXXXn St' }, { v: 'XXXXX0001' }] });
  assert.deepEqual(sc.rows[0]?.f[1]?.v, [{ v: 'XXXXX2671' }, { v: 'XXXXX2672' }]);
  const redacted = applyMasking(res, plan([col(1, 'phones', 'redact')], ['addr', 'phones']), opts).result.structuredContent as { rows: { f: { v: any }[] }[] };
  assert.deepEqual(redacted.rows[0]?.f[1]?.v, []);
});

test('nested STRUCT and ARRAY values are masked leaf by leaf; nested detectors run in unmasked columns', () => {
  const p = plan([col(1, 'addr', 'redact')], ['id', 'addr', 'tags']);
  const row = {
    id: 1,
    addr: { street: '1 Main', zip: 10001, lines: ['a', 'b'] },
    tags: [
      { k: 'ssn', v: '123-45-6789' },
      { k: 'n', v: 5 },
    ],
  };
  const r = firstRow(applyMasking(toolbox([row]), p, opts).result);
  const addr = r.addr as Record<string, unknown>;
  assert.deepEqual(Object.values(addr), ['XXXXX', 'XXXXX', []]);
  assert.ok(
    Object.keys(addr).every((k) => /^tok_/.test(k)),
    'keys inside masked values are tokenised',
  );
  assert.deepEqual(r.tags, [
    { k: 'ssn', v: '[REDACTED:ssn]' },
    { k: 'n', v: 5 },
  ]);
});

test('keys of a masked JSON value are tokenised: json_group_object(full_name, balance) leaks no names', () => {
  const p = plan([col(0, 'j', 'redact', 'full_name')], ['j']);
  const rows = [{ j: { 'Alice Smith': 10.5, 'Bob Jones': 3 } }, { j: { 'Alice Smith': 1 } }];
  const out = rowsOf(applyMasking(toolbox(rows), p, opts).result);
  const text = JSON.stringify(out);
  assert.ok(!text.includes('Alice') && !text.includes('Bob'), text);
  const token = (i: number) => first(Object.keys(at(out, i, 'masked row').j as object), `token key of row ${i}`);
  assert.equal(token(0), token(1), 'same key → same token across rows');
});

test('JSON column keys carrying data are run through detectors', () => {
  const p = plan([col(0, 'payload', 'pseudonym')], ['payload', 'meta']);
  const row = { payload: { '123-45-6789': 'x' }, meta: { 'jane@bank.com': 1 } };
  const out = JSON.stringify(rowsOf(applyMasking(toolbox([row]), p, opts).result));
  assert.ok(!out.includes('123-45-6789') && !out.includes('jane@bank.com'), out);
});

test('big integers keep every digit; a card stored as INTEGER is caught by the number detector', () => {
  const res = { content: [{ type: 'text', text: '{"id":12345678901234567890,"n":4111111111111111,"amount":1.50}' }] };
  const p = plan([], ['id', 'n', 'amount']);
  const text = textAt(applyMasking(res, p, opts).result);
  assert.equal(text, '{"id":12345678901234567890,"n":"[REDACTED:card]","amount":1.50}');
});

test('planted values in unmasked columns: detectors replace just the match', () => {
  const p = plan([col(1, 'ssn', 'redact')], ['id', 'ssn', 'note']);
  const r = firstRow(applyMasking(toolbox([{ id: 1, ssn: 'x', note: 'card 4111-1111-1111-1111 and mail bob@x.org ok' }]), p, opts).result);
  assert.equal(r.note, 'card [REDACTED:card] and mail [REDACTED:email] ok');
});

test('detectors are not run over plan-masked output (FPE keeps its format)', () => {
  const p = plan([col(0, 'ssn', 'pseudonym_fpe')], ['ssn']);
  const { result, report } = applyMasking(toolbox([{ ssn: '123-45-6789' }]), p, opts);
  assert.match(firstRow(result).ssn as string, /^\d{3}-\d{2}-\d{4}$/);
  assert.deepEqual(report.detectorHits, []);
});

test('detector hits are counted per detector; plan.detectors=false turns them off', () => {
  const rows = [{ note: '123-45-6789 and 234-56-7890' }, { note: 'x@y.com' }];
  const on = applyMasking(toolbox(rows), plan([], ['note']), opts).report;
  assert.deepEqual(on.detectorHits, [
    { detector: 'ssn', count: 2 },
    { detector: 'email', count: 1 },
  ]);
  const off = applyMasking(toolbox(rows), plan([], ['note'], { detectors: false }), opts);
  assert.deepEqual(off.report.detectorHits, []);
  assert.equal(firstRow(off.result).note, '123-45-6789 and 234-56-7890');
});

test('detectorAction pseudonym: matches become tokens that join with lineage pseudonyms', () => {
  const o = options({ detectorAction: 'pseudonym' });
  const r = firstRow(applyMasking(toolbox([{ ssn: '123-45-6789', note: 'dup of 123-45-6789' }]), plan([col(0, 'ssn', 'pseudonym')], ['ssn', 'note']), o).result);
  assert.match(r.note as string, /^dup of tok_/);
  assert.equal((r.note as string).slice(7), r.ssn);
});

test('error results: text echoing data is withheld when the query can return sensitive columns', () => {
  const res = { content: [{ type: 'text', text: 'Bad int64 value: Alice Smith' }], isError: true };
  const { result, report } = applyMasking(res, PLAN, opts);
  assert.deepEqual(result, { content: [{ type: 'text', text: WITHHELD_TEXT }], isError: true });
  assert.match(first(report.notes, 'report note'), /withheld/);
  // no sensitive lineage: the error stays readable (detectors only)
  const plain = applyMasking({ content: [{ type: 'text', text: 'no such column: foo; ssn 123-45-6789' }], isError: true }, plan([], null), opts);
  assert.equal(textAt(plain.result), 'no such column: foo; ssn [REDACTED:ssn]');
  // configurable: detectors only
  const lax = applyMasking(res, PLAN, options({ unmappedText: 'detectors' }));
  assert.equal(textAt(lax.result), 'Bad int64 value: Alice Smith');
});

test('Toolbox status lines are kept', () => {
  for (const t of ['The query returned 0 rows.', 'Query executed successfully and returned no content.']) {
    const r = applyMasking({ content: [{ type: 'text', text: t }] }, PLAN, opts);
    assert.equal(textAt(r.result), t);
  }
});

test('markdown table: columns mapped by header', () => {
  const md = '| customer_id | ssn | city |\n|---|---|---|\n| 1 | 123-45-6789 | Springfield |\n| 2 | NULL | Shelbyville |';
  const p = plan([col(1, 'ssn', 'last4')], ['customer_id', 'ssn', 'city']);
  const { result, report } = applyMasking({ content: [{ type: 'text', text: md }] }, p, opts);
  assert.equal(textAt(result), '| customer_id | ssn | city |\n|---|---|---|\n| 1 | XXXXX6789 | Springfield |\n| 2 | NULL | Shelbyville |');
  assert.equal(report.rows, 2);
});

test('CSV text: quoted fields, header mapping; unknown header → not a table, withheld', () => {
  const csv = 'customer_id,ssn,city\n1,123-45-6789,"Springfield, IL"\n2,987-65-4321,X';
  const p = plan([col(1, 'ssn', 'redact')], ['customer_id', 'ssn', 'city']);
  const out = textAt(applyMasking({ content: [{ type: 'text', text: csv }] }, p, opts).result);
  assert.equal(out, 'customer_id,ssn,city\n1,XXXXX,"Springfield, IL"\n2,XXXXX,X');
  const odd = 'Bad value: Alice Smith, row 1\nsecond line, x';
  const o2 = applyMasking({ content: [{ type: 'text', text: odd }] }, p, opts);
  assert.equal(textAt(o2.result), WITHHELD_TEXT);
});

test('TSV text', () => {
  const tsv = 'id\tssn\n1\t123-45-6789';
  const p = plan([col(1, 'ssn', 'last4')], ['id', 'ssn']);
  assert.equal(textAt(applyMasking({ content: [{ type: 'text', text: tsv }] }, p, opts).result), 'id\tssn\n1\tXXXXX6789');
});

test('embedded resources with text are masked like text items; blobs, images and unknown items are withheld', () => {
  const res = {
    content: [
      { type: 'resource', resource: { uri: 'bq://result/1', mimeType: 'application/json', text: JSON.stringify([ROW]) } },
      { type: 'resource', resource: { uri: 'bq://result/2', blob: 'AAAA' } },
      { type: 'image', data: 'AAAA', mimeType: 'image/png' },
      { type: 'weird', text: '123-45-6789' },
      { type: 'resource_link', uri: 'bq://x', name: 'owner jane@bank.com' },
    ],
  };
  const { result, report } = applyMasking(res, PLAN, opts);
  const c = (i: number): Record<string, any> => at(result.content as Record<string, any>[], i, 'content item');
  assert.equal(JSON.parse(c(0).resource.text)[0].ssn, 'XXXXX6789');
  assert.equal(c(0).resource.uri, 'bq://result/1');
  assert.match(c(1).text, /resource blob content withheld/);
  assert.match(c(2).text, /image content withheld/);
  assert.match(c(3).text, /weird content withheld/);
  assert.equal(c(4).name, 'owner [REDACTED:email]');
  assert.equal(report.notes.filter((n) => /withheld/.test(n)).length, 3);
});

test('unknown top-level result fields are dropped; _meta is kept through detectors', () => {
  const { result, report } = applyMasking({ content: [], _meta: { who: 'x@y.com' }, leak: '123-45-6789' }, PLAN, opts);
  assert.deepEqual(result, { content: [], _meta: { who: '[REDACTED:email]' } });
  assert.match(first(report.notes, 'report note'), /'leak' removed/);
});

test('a bare scalar result under a sensitive plan gets the fallback', () => {
  const { result } = applyMasking({ content: [{ type: 'text', text: '"Alice Smith"' }] }, PLAN, opts);
  assert.equal(textAt(result), JSON.stringify(WITHHELD_TEXT));
  const n = applyMasking({ content: [{ type: 'text', text: '123456789' }] }, PLAN, opts);
  assert.equal(textAt(n.result), '"XXXXX"');
});

test('rows count: null when there are no rows, 0 for an empty array', () => {
  assert.equal(applyMasking({ content: [{ type: 'text', text: 'Query executed successfully and returned no content.' }] }, PLAN, opts).report.rows, null);
  assert.equal(applyMasking({ content: [{ type: 'text', text: 'The query returned 0 rows.' }] }, PLAN, opts).report.rows, 0);
  assert.equal(applyMasking({ content: [{ type: 'text', text: '[]' }] }, PLAN, opts).report.rows, 0);
});

test('prototype keys stay data', () => {
  const res = { content: [{ type: 'text', text: '{"__proto__":{"polluted":"123-45-6789"},"ssn":"1"}' }] };
  const { result } = applyMasking(res, plan([col(1, 'ssn', 'redact')], ['__proto__', 'ssn']), opts);
  const text = textAt(result);
  assert.equal(text, '{"__proto__":{"polluted":"[REDACTED:ssn]"},"ssn":"XXXXX"}');
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

test('a row mistaken for a wrapper cannot leak its text fields', () => {
  // keys the analysis did not foresee, plus an array of objects: looks like a wrapper
  const res = { structuredContent: { weird: 'Alice Smith', rows: [{ ssn: '123-45-6789' }], totalRows: 1 } };
  const { result } = applyMasking(res, PLAN, opts);
  const text = JSON.stringify(result);
  assert.ok(!text.includes('Alice Smith') && !text.includes('123-45-6789'), text);
  // with no sensitive lineage, wrapper text stays readable
  const plain = applyMasking({ structuredContent: { message: 'ok', rows: [{ a: 1 }] } }, plan([], ['a']), opts);
  assert.deepEqual(plain.result.structuredContent, { message: 'ok', rows: [{ a: 1 }] });
});

test('maskText (error messages for audit/logs) and redactDetected (request params)', async () => {
  const { maskText, redactDetected } = await import('../../src/masking/apply.js');
  assert.equal(maskText('Bad int64 value: Alice Smith', PLAN, opts).text, WITHHELD_TEXT);
  assert.equal(maskText('ssn 123-45-6789 rejected', plan([], null), opts).text, 'ssn [REDACTED:ssn] rejected');
  const r = redactDetected({ sql: "SELECT 1 WHERE ssn = '123-45-6789'", n: 4111111111111111 }, opts);
  assert.deepEqual(r.value, { sql: "SELECT 1 WHERE ssn = '[REDACTED:ssn]'", n: '[REDACTED:card]' });
  assert.deepEqual(r.detectorHits, [
    { detector: 'ssn', count: 1 },
    { detector: 'card', count: 1 },
  ]);
});

test('DETECTORS_ONLY_PLAN: allowed calls still get the detectors, nothing else changes', async () => {
  const { DETECTORS_ONLY_PLAN } = await import('../../src/masking/apply.js');
  const { result, report } = applyMasking(toolbox([{ id: 1, note: 'ssn 123-45-6789' }]), DETECTORS_ONLY_PLAN, opts);
  assert.deepEqual(rowsOf(result), [{ id: 1, note: 'ssn [REDACTED:ssn]' }]);
  assert.deepEqual(report.maskedColumns, []);
});

test('without outputColumns: a masked column missing from the rows (engine named it differently) → fallback', () => {
  // analysis called it "ssn"; SQLite calls it "ssn || ''"
  const p = plan([col(0, 'ssn', 'last4')], null);
  const { result, report } = applyMasking(toolbox([{ "ssn || ''": '123-45-6789', id: 1 }]), p, opts);
  assert.deepEqual(rowsOf(result), [{ "ssn || ''": 'XXXXX', id: 'XXXXX' }]);
  assert.match(first(report.notes, 'report note'), /masked column\(s\) 'ssn' missing from the result/);
});
