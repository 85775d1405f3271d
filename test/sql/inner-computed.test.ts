// Values computed in inner select lists are recorded as `other` uses (see innerComputedUse in
// src/sql/select.ts). The attack itself (SQLite failing only on a hit) is shown in
// test/policy/oracles.test.ts; the per-query expectations are in oracles.ts. Here: the
// ordering that keeps policy's refusal message specific, and what stays out of the uses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyze } from '../../src/sql/analyze.js';
import { columnKey } from '../../src/sql/types.js';
import { createStaticCatalog } from '../../src/sql/catalog.js';
import { short, sqliteCatalog, sqliteTables } from './helpers.js';

const opts = { dialect: 'sqlite' as const, defaultProject: 'demo', defaultDataset: 'main', catalog: sqliteCatalog };
const uses = (sql: string, o = opts) => analyze(sql, o).statements.flatMap((s) => s.uses.map((u) => `${u.clause}:${short(columnKey(u.column))}`));

test('the catch-all `other` use comes after the specific clause, so a refusal names the WHERE', () => {
  const got = uses("SELECT count(*) AS n FROM (SELECT CASE WHEN ssn LIKE '1%' THEN 1 END AS f FROM customers) WHERE f = 1");
  assert.deepEqual(got, ['where:customers.ssn', 'other:customers.ssn']);
});

test('a use already recorded in `other` is not repeated', () => {
  const got = uses('SELECT customer_id FROM (SELECT customer_id, upper(ssn) AS a, lower(ssn) AS b FROM customers WHERE length(ssn) > 0 OR ssn IN (SELECT upper(ssn) FROM customers))');
  assert.equal(got.filter((u) => u === 'other:customers.ssn').length, 1, got.join(', '));
});

test("computations inside a catalog view are the view owner's, not the caller's", () => {
  const catalog = createStaticCatalog([
    ...sqliteTables,
    {
      fq: 'demo.main.v',
      columns: [
        { name: 'customer_id', type: 'INTEGER' },
        { name: 'h', type: 'TEXT' },
      ],
      viewSql: "SELECT customer_id, CASE WHEN ssn = '1' THEN 'x' END AS h FROM customers",
    },
  ]);
  const got = uses('SELECT customer_id FROM (SELECT customer_id FROM v)', { ...opts, catalog });
  assert.ok(!got.includes('other:customers.ssn'), got.join(', '));
  // The caller computing on a view column is the caller's own evaluation.
  const own = uses('SELECT customer_id FROM (SELECT customer_id, upper(h) AS u FROM v)', { ...opts, catalog });
  assert.ok(own.includes('other:customers.ssn'), own.join(', '));
});

test('INSERT … SELECT and CTAS keep their `select` copy uses; an inner computation adds `other`', () => {
  const ins = uses('INSERT INTO accounts (account_id) SELECT customer_id FROM (SELECT customer_id, upper(email) AS e FROM customers)');
  assert.ok(ins.includes('select:customers.customer_id'), ins.join(', '));
  assert.ok(ins.includes('other:customers.email'), ins.join(', '));
  assert.ok(!ins.includes('other:customers.customer_id'), ins.join(', '));
  const top = uses('INSERT INTO accounts (account_id) SELECT length(ssn) FROM customers');
  assert.deepEqual(
    top.filter((u) => u.endsWith('ssn')),
    ['select:customers.ssn'],
  );
});
