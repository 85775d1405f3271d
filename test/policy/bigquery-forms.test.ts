// BigQuery forms the patched parser accepts (docs/sql.md, *Parser coverage*): `* EXCEPT … REPLACE
// …`, pipe syntax and ML.PREDICT, as attacks on masking. Each must be masked in the engine by the
// rewrite (and planned for the second line under the name the value arrives with) or refused
// with a named rule; never run unmasked. A value computed from a masked column is computed in
// the engine from the masked value, and reported as derived.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compilePolicy } from '../../src/policy/engine.js';
import { analyze } from '../../src/sql/analyze.js';
import { StaticCatalog } from '../../src/policy/catalog.js';
import type { Decision } from '../../src/policy/types.js';
import { bigqueryAnalystPolicy, identity } from './helpers.js';

const policy = compilePolicy([
  {
    name: 'p.yaml',
    text: bigqueryAnalystPolicy(`
tables: [{ id: tb, tables: ['p.d.*'], access: read, effect: allow }]
statements: [{ id: s, classes: [read], effect: allow }]
classifications:
  - { id: c-ssn, classification: pii.ssn, names: [ssn] }
  - { id: c-email, classification: pii.email, names: [email] }
visibility: [{ id: v, roles: [analyst], classifications: { pii.ssn: last4, pii.email: email_domain } }]
`),
  },
]);
const catalog = new StaticCatalog([
  { fq: 'p.d.customers', columns: ['id', 'full_name', 'ssn', 'email', 'segment'].map((name) => ({ name, type: 'STRING' })) },
  { fq: 'p.d.accounts', columns: ['id', 'customer_id', 'balance'].map((name) => ({ name, type: 'STRING' })) },
]);

function decide(sql: string): Decision {
  const id = identity('a@bank.example', ['analyst']);
  const analysis = analyze(sql, { ...policy.analyzeOptions('execute_sql')!, catalog });
  return policy.decide({ identity: id, roles: policy.rolesFor(id), tool: 'execute_sql', args: { sql }, analysis, catalog });
}

const SSN_MASK = /IF\(`ssn` IS NULL, NULL, IF\(CHAR_LENGTH\(`ssn`\) > 4, CONCAT\('XXXXX', SUBSTR\(`ssn`, -4\)\), TO_HEX\(SHA256\(`ssn`\)\)\)\) AS `ssn`/;

/** The value of output `name` is computed from the engine-masked `source`. */
function derived(d: Decision, name: string, source: string): void {
  assert.notEqual(d.action, 'deny', d.message);
  const x = d.maskPlan?.derived?.find((c) => c.outputName === name);
  assert.ok(
    x?.from.some((f) => f.source.endsWith(source)),
    `${name} not reported as derived from ${source}: ${JSON.stringify(d.maskPlan?.derived)}`,
  );
  assert.match(d.engine!.sql, SSN_MASK);
}

/** The response plan masks output `name` with `method` because of `source`. */
function planned(d: Decision, name: string, method: string, source: string): void {
  const m = d.maskPlan?.columns.find((c) => c.outputName === name);
  assert.ok(m, `no mask planned for ${name}: ${JSON.stringify(d.maskPlan?.columns)}`);
  assert.equal(m.method, method, name);
  assert.ok(
    m.sources.some((s) => s.endsWith(source)),
    `${name} masked because of ${m.sources}`,
  );
}

test('* REPLACE (ssn AS full_name): the engine reads ssn masked, and full_name is masked as the ssn it now holds', () => {
  const d = decide('SELECT * REPLACE (ssn AS full_name) FROM d.customers');
  assert.notEqual(d.action, 'deny', d.message);
  assert.match(d.engine!.sql, /^SELECT \* REPLACE \(ssn AS full_name\) FROM \(SELECT /);
  assert.match(d.engine!.sql, SSN_MASK);
  planned(d, 'full_name', 'last4', 'customers.ssn');
  planned(d, 'ssn', 'last4', 'customers.ssn');
});

test('* EXCEPT (ssn) REPLACE (ssn AS segment): a dropped column brought back under another name is still masked', () => {
  const d = decide('SELECT * EXCEPT (ssn) REPLACE (ssn AS segment) FROM d.customers');
  assert.notEqual(d.action, 'deny', d.message);
  assert.match(d.engine!.sql, SSN_MASK);
  planned(d, 'segment', 'last4', 'customers.ssn');
  assert.equal(
    d.maskPlan!.columns.some((c) => c.outputName === 'ssn'),
    false,
    'ssn itself is excepted',
  );
  // A REPLACE computed from a masked column is computed from the masked value, as in a select list.
  derived(decide('SELECT * REPLACE (UPPER(ssn) AS full_name) FROM d.customers'), 'full_name', 'customers.ssn');
});

test('pipe syntax: the FROM of a pipe query is wrapped like any other read; |> SELECT ssn is masked', () => {
  const d = decide('FROM d.customers |> WHERE segment = "retail" |> SELECT id, ssn');
  assert.notEqual(d.action, 'deny', d.message);
  assert.match(d.engine!.sql, /^FROM \(SELECT .* FROM d\.customers\) AS `customers` \|> WHERE segment = "retail" \|> SELECT id, ssn$/);
  assert.match(d.engine!.sql, SSN_MASK);
  planned(d, 'ssn', 'last4', 'customers.ssn');
  // Range variables survive DROP: the original ssn under another name is still ssn.
  const dropped = decide('FROM d.customers AS c |> DROP ssn |> SELECT c.ssn AS x');
  planned(dropped, 'x', 'last4', 'customers.ssn');
  // SET and RENAME move the value, and the mask moves with it.
  planned(decide('FROM d.customers |> SET full_name = ssn |> SELECT full_name'), 'full_name', 'last4', 'customers.ssn');
  planned(decide('FROM d.customers |> RENAME ssn AS s |> AS t |> SELECT t.s'), 's', 'last4', 'customers.ssn');
  // A pipe query nested in a standard one, and a join inside the pipe: every read wrapped.
  const joined = decide('SELECT * FROM (FROM d.customers c |> JOIN d.accounts a ON a.customer_id = c.id |> SELECT c.email, a.balance)');
  assert.notEqual(joined.action, 'deny', joined.message);
  assert.match(joined.engine!.sql, /FROM \(SELECT .* FROM d\.customers\) c \|> JOIN /);
  planned(joined, 'email', 'email_domain', 'customers.email');
});

test('pipe syntax attacks: AGGREGATE, EXTEND and predicates over a masked column', () => {
  // An aggregate of a masked column is computed in the engine from the masked value.
  derived(decide('FROM d.customers |> AGGREGATE MAX(ssn) AS m GROUP BY segment'), 'm', 'customers.ssn');
  // Grouping by ssn groups the masked values; the group key comes back masked.
  const grouped = decide('FROM d.customers |> AGGREGATE COUNT(*) AS n GROUP BY ssn');
  assert.match(grouped.engine!.sql, SSN_MASK);
  planned(grouped, 'ssn', 'last4', 'customers.ssn');
  // A guess compared in WHERE, or inside a value dropped before the result (an error channel),
  // meets the masked value in the engine, never the clear one.
  for (const sql of ["FROM d.customers |> WHERE ssn = '123-45-6789' |> SELECT id", "FROM d.customers |> EXTEND IF(ssn = '123-45-6789', ERROR('hit'), 1) AS h |> DROP h |> SELECT id"]) {
    const d = decide(sql);
    assert.notEqual(d.action, 'deny', d.message);
    assert.match(d.engine!.sql, /^FROM \(SELECT .* FROM d\.customers\) AS `customers` \|> /, sql);
    assert.match(d.engine!.sql, SSN_MASK, sql);
  }
  // Rows sampled, pivoted or passed to a function the analyzer cannot see: masked or refused.
  const sampled = decide('FROM d.customers |> TABLESAMPLE SYSTEM (10 PERCENT) |> SELECT ssn');
  assert.match(sampled.engine!.sql, /^FROM \(SELECT .* FROM d\.customers\) AS `customers` \|> TABLESAMPLE/);
  planned(sampled, 'ssn', 'last4', 'customers.ssn');
  const called = decide('FROM d.customers |> CALL d.tvf(1)');
  assert.equal(called.action, 'deny');
  assert.match(called.message, /pipe operator CALL: not modelled/);
  // The masked table's name as a pipe range variable hides where the table is read: refused.
  const renamed = decide('FROM d.customers AS c |> AS customers |> SELECT customers.ssn');
  assert.equal(renamed.action, 'deny', renamed.message);
  assert.deepEqual(renamed.ruleIds, ['mask-rewrite']);
});

test('ML.PREDICT: TABLE t becomes a masked query argument; the model output is judged from its inputs', () => {
  const d = decide('SELECT id, ssn, predicted_segment FROM ML.PREDICT(MODEL d.churn, TABLE d.customers)');
  // predicted_segment is computed by the model from every input column, ssn among them, which
  // the model reads masked.
  derived(d, 'predicted_segment', 'customers.ssn');
  const pass = decide('SELECT id, ssn FROM ML.PREDICT(MODEL d.churn, TABLE d.customers)');
  assert.notEqual(pass.action, 'deny', pass.message);
  assert.match(pass.engine!.sql, /^SELECT id, ssn FROM ML\.PREDICT\(MODEL d\.churn, \(SELECT .* FROM d\.customers\)\)$/);
  assert.match(pass.engine!.sql, SSN_MASK);
  planned(pass, 'ssn', 'last4', 'customers.ssn');
  const sub = decide('SELECT id, email FROM ML.PREDICT(MODEL d.churn, (SELECT id, email FROM d.customers))');
  assert.match(sub.engine!.sql, /ML\.PREDICT\(MODEL d\.churn, \(SELECT id, email FROM \(SELECT .* FROM d\.customers\) AS `customers`\)\)$/);
  planned(sub, 'email', 'email_domain', 'customers.email');
  // SELECT * cannot list the model's columns: refused with the reason, not guessed.
  const star = decide('SELECT * FROM ML.PREDICT(MODEL d.churn, TABLE d.customers)');
  assert.equal(star.action, 'deny');
  assert.match(star.message, /ML\.PREDICT: its output columns depend on the model/);
  // The model is a read the table rules judge: one outside the allowed datasets is refused.
  assert.equal(decide('SELECT id FROM ML.PREDICT(MODEL other.m, (SELECT id FROM d.accounts))').action, 'deny');
});
