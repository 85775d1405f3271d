// Value-shape oracles: a transformed value of a masked column must come back the same whatever
// the hidden value is. Redaction keeps NULL as NULL and keeps the type (0 for numbers, '' for
// text), so `CASE WHEN ssn = '…' THEN 1 END` would say which row holds the guessed SSN. Runs
// the real analyzer, the real policy and the real masking method on both possible values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadPolicy } from '../../src/policy/engine.js';
import { analyze } from '../../src/sql/analyze.js';
import { maskValue, decodeKey } from '../../src/masking/index.js';
import type { MaskMethod } from '../../src/masking/types.js';
import { identity } from './helpers.js';

const RULES = join(import.meta.dirname, '..', '..', 'rules');
const policy = await loadPolicy(RULES);
const key = decodeKey('t', 'x'.repeat(64));

function methodFor(groups: string[], sql: string, column: string): MaskMethod | null {
  const id = identity('mallory@bank.example', groups);
  const roles = policy.rolesFor(id);
  const opts = policy.analyzeOptions('execute_sql');
  assert.ok(opts, 'execute_sql is a SQL tool');
  const d = policy.decide({ identity: id, roles, tool: 'execute_sql', args: { sql }, analysis: analyze(sql, opts) });
  assert.equal(d.action, 'mask', `${sql}: ${d.message}`);
  return d.maskPlan?.columns.find((c) => c.outputName === column)?.method ?? null;
}

// [sql, output column, the two values the engine could return for a hit and a miss]
const SHAPES: [string, string, unknown, unknown][] = [
  ["SELECT customer_id, CASE WHEN ssn = '123-45-6789' THEN 1 END AS h FROM customers", 'h', 1, null],
  ["SELECT customer_id, nullif(substr(ssn, 1, 1), '1') AS h FROM customers", 'h', null, '2'],
  ["SELECT customer_id, CASE WHEN ssn LIKE '1%' THEN 1 ELSE 'x' END AS h FROM customers", 'h', 1, 'x'],
  ["SELECT customer_id, CASE WHEN ssn LIKE '1%' THEN '2020-01-01' ELSE 'x' END AS h FROM customers", 'h', '2020-01-01', 'x'],
  ["SELECT customer_id, iif(ssn LIKE '1%', NULL, 1) AS h FROM customers", 'h', null, 1],
  ["SELECT customer_id, json_array(CASE WHEN ssn LIKE '1%' THEN 1 END) AS h FROM customers", 'h', '[1]', '[null]'],
  ["SELECT customer_id, account_number > 5000 AS h FROM accounts", 'h', 1, 0],
];

for (const [sql, column, hit, miss] of SHAPES) {
  for (const groups of [['analyst'], ['engineer']]) {
    test(`${groups[0]}: a hit and a miss look the same after masking: ${sql}`, () => {
      const method = methodFor(groups, sql, column);
      assert.ok(method, `${column} is masked`);
      assert.deepEqual(maskValue(method, hit as never, key), maskValue(method, miss as never, key), `${method} tells ${JSON.stringify(hit)} from ${JSON.stringify(miss)}`);
    });
  }
}

test('the oracle check can fail: redaction keeps NULL-ness and type apart', () => {
  assert.notDeepEqual(maskValue('redact', 1, key), maskValue('redact', null, key));
  assert.notDeepEqual(maskValue('redact', 1, key), maskValue('redact', 'x', key));
});

test('a column passed through unchanged keeps the role method (only derived values are nullified)', () => {
  assert.equal(methodFor(['analyst'], 'SELECT ssn FROM customers', 'ssn'), 'last4');
  assert.equal(methodFor(['analyst'], 'SELECT x FROM (SELECT ssn AS x FROM customers)', 'x'), 'last4');
});
