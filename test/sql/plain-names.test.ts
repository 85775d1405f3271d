// A backquoted dotted name (`a.b`) parses as a path, which has no `.name`. Where the grammar wants
// one plain name (an alias in the select list, in FROM, in pipe AS), the analyzer read that
// undefined: in the select list and pipe AS it crashed (caught, so the query failed closed, with
// "Cannot read properties of undefined" as the only reason); in BigQuery's FROM it went on
// silently, as if the table had no alias (`FROM customers AS \`x.y\`` was analysed as plain
// `customers`, its rewrite site carried no alias). It must be refused, naming what it refuses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyze } from '../../src/sql/index.js';

test('a dotted quoted name used as an alias is refused as unsupported, naming the construct', () => {
  for (const sql of ['SELECT x.y `p.d.t`', 'SELECT ssn AS `a.b` FROM customers', 'SELECT 1 FROM customers AS `x.y`', 'FROM customers |> AS `a.b`']) {
    const a = analyze(sql, { dialect: 'bigquery', defaultProject: 'p', defaultDataset: 'd' });
    const flags = [...a.opaque, ...a.statements.flatMap((s) => s.opaque)];
    const refusal = flags.find((f) => f.kind === 'unsupported');
    assert.ok(refusal, `${sql}: refused as unsupported`);
    assert.match(refusal.detail, /where one plain name is expected/, sql);
    assert.doesNotMatch(refusal.detail, /undefined/, sql);
  }
});

test('plain and quoted single-part aliases still resolve', () => {
  const a = analyze('SELECT c.ssn AS `s` FROM customers AS `c`', { dialect: 'bigquery', defaultProject: 'p', defaultDataset: 'd' });
  assert.deepEqual(a.opaque, []);
  assert.deepEqual(
    a.statements[0]?.output?.map((o) => o.name),
    ['s'],
  );
});
