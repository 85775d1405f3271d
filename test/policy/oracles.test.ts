// Computed values of masked columns: the attack first. Each query below answers a guess about a
// hidden SSN / email / account number through the *shape* of its result — an error on a match
// and NULLs otherwise, or NULL-or-not, or a type change — never through the value itself. The
// channel is shown to be real on SQLite (sql.js, the demo bank). Then the real analyzer and the
// real policy rewrite it for every role that sees the column masked, and the rewritten query,
// run on the same SQLite data, answers a hit exactly as it answers a miss: the engine only ever
// computes on masked values. A role that sees the column in clear runs the query unchanged.
//
// Where the engine cannot mask (dialects bqwarden does not rewrite), computed values of masked
// columns stay refused (rule derived-masked); those cases run against a PostgreSQL-dialect copy of
// the demo policy at the end of this file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readdirSync, readFileSync } from 'node:fs';
import { compilePolicy, loadPolicy, type Policy } from '../../src/policy/engine.js';
import { analyze } from '../../src/sql/analyze.js';
import { maskValue, decodeKey } from '../../src/masking/index.js';
import type { Decision } from '../../src/policy/types.js';
import { bankDatabase, generateBank } from '../../src/demo/dataset.js';
import { first } from '../helpers/present.js';
import { identity } from './helpers.js';

const RULES = join(import.meta.dirname, '..', '..', 'rules');
const policy = await loadPolicy(RULES);
const key = decodeKey('t', 'x'.repeat(64));
const BANK = generateBank(20261122, 40);
const CUSTOMER = first(BANK.customers, 'demo bank customer');
const HIT = CUSTOMER.ssn;
const MISS = '899-99-9999';
const HIT_EMAIL = first(CUSTOMER.email.split('@'), 'local part of the demo email');
const HIT_ACCOUNT = first(BANK.accounts, 'demo bank account').account_number;

function decide(p: Policy, groups: string[], sql: string): Decision {
  const id = identity('mallory@bank.example', groups);
  const opts = p.analyzeOptions('execute_sql');
  assert.ok(opts, 'execute_sql is a SQL tool');
  return p.decide({ identity: id, roles: p.rolesFor(id), tool: 'execute_sql', args: { sql }, analysis: analyze(sql, opts) });
}

// An index on a masked column: rows must not come back in the hidden value's order either.
const DB = await bankDatabase(BANK, 'CREATE INDEX customers_ssn ON customers(ssn); CREATE INDEX accounts_number ON accounts(account_number);');
/** What the engine hands back for a query: rows, or the fact that it failed. Row handles carry a
 * per-query prefix (the queries differ by the guess), which is not part of the answer. */
function run(sql: string): string {
  try {
    return JSON.stringify(DB.exec(sql).map((r) => r.values)).replace(/@bqw:[0-9a-f]+:/g, '@bqw:N:');
  } catch (err) {
    return `error: ${(err as Error).message}`;
  }
}

// [what, query for a guess]: each answers "does the guess exist?" without returning the value.
const CHANNELS: [string, (guess: string) => string][] = [
  ['error channel: json() of bad text on a match', (g) => `SELECT CASE WHEN ssn = '${g}' THEN json('x') END AS h FROM customers`],
  ['error channel: inside an aggregate', (g) => `SELECT max(CASE WHEN ssn = '${g}' THEN json('x') END) AS h FROM customers`],
  ['error channel: through a scalar subquery', (g) => `SELECT (SELECT max(CASE WHEN ssn = '${g}' THEN json('x') END) FROM customers) AS h`],
  ['error channel: through a CTE', (g) => `WITH t AS (SELECT customer_id, CASE WHEN ssn = '${g}' THEN json('x') END AS h FROM customers) SELECT customer_id, h FROM t`],
  ['error channel: a failing function argument', (g) => `SELECT customer_id, substr('x', 1, CASE WHEN ssn = '${g}' THEN 1e999 END) AS h FROM customers`],
  ['error channel: on the account number', (g) => `SELECT account_id, CASE WHEN account_number = ${g === HIT ? HIT_ACCOUNT : 1000000001} THEN json('x') END AS h FROM accounts`],
  ['NULL pattern: CASE flag', (g) => `SELECT customer_id, CASE WHEN ssn = '${g}' THEN 1 END AS h FROM customers ORDER BY customer_id`],
  ['NULL pattern: nullif', (g) => `SELECT customer_id, nullif(ssn, '${g}') IS NULL AS h FROM customers ORDER BY customer_id`],
  ['type pattern: CASE with two types', (g) => `SELECT customer_id, CASE WHEN ssn = '${g}' THEN 1 ELSE 'x' END AS h FROM customers ORDER BY customer_id`],
  ['aggregate: count of matches', (g) => `SELECT count(CASE WHEN ssn = '${g}' THEN 1 END) AS n FROM customers`],
  ['aggregate: total of a comparison', (g) => `SELECT total(ssn = '${g}') AS n FROM customers`],
  ['email: error on a guessed local part', (g) => `SELECT CASE WHEN email LIKE '${g === HIT ? HIT_EMAIL : 'zed'}@%' THEN json('x') END AS h FROM customers`],
];

for (const [what, q] of CHANNELS) {
  test(`attack is real on SQLite, and answers nothing once masked in the engine: ${what}`, () => {
    // json() rejects 'x' only on SQLite builds with JSON; the demo's upstream is such a build.
    assert.notEqual(run(q(HIT)), run(q(MISS)), `${what}: a hit and a miss already look the same on SQLite, so this case proves nothing`);
    for (const groups of [['analyst'], ['engineer'], ['approver'], ['analyst', 'engineer'], ['analyst', 'ci']]) {
      const hit = decide(policy, groups, q(HIT));
      const miss = decide(policy, groups, q(MISS));
      for (const d of [hit, miss]) {
        assert.equal(d.action, 'mask', `${groups}: ${d.message}`);
        assert.ok(d.engine?.changed, `${groups}: the query must run rewritten`);
      }
      assert.equal(run(hit.engine!.sql), run(miss.engine!.sql), `${groups}: the rewritten query still tells a hit from a miss`);
    }
    for (const guess of [HIT, MISS]) {
      const clear = decide(policy, ['pii-reader'], q(guess));
      assert.equal(clear.action, 'allow', clear.message);
      assert.equal(clear.engine, undefined, 'a cleared role runs the SQL unchanged');
    }
  });
}

test('a column passed through unchanged keeps the role method (only computed values are refused)', () => {
  for (const sql of ['SELECT ssn FROM customers', 'SELECT x FROM (SELECT ssn AS x FROM customers)', 'WITH t AS (SELECT ssn FROM customers) SELECT ssn FROM t']) {
    const d = decide(policy, ['analyst'], sql);
    assert.equal(d.action, 'mask', d.message);
    assert.equal(d.maskPlan?.columns[0]?.method, 'last4');
  }
  const eng = decide(policy, ['engineer'], 'SELECT ssn FROM customers');
  assert.equal(eng.maskPlan?.columns[0]?.method, 'pseudonym');
});

test('computed values of clear or unclassified columns are not affected', () => {
  const d = decide(policy, ['analyst'], "SELECT upper(state) AS s, count(*) OVER () AS n, routing_number || '' AS r FROM customers JOIN accounts USING (customer_id)");
  assert.equal(d.action, 'allow', d.message);
});

// ── computed values in inner select lists ──
// A computed value in an inner select list that never reaches the outer output is still
// evaluated by SQLite when the subquery is materialised (GROUP BY, MATERIALIZED CTE); in the
// engine it is evaluated on the masked value, so a hit and a miss fail (or not) alike.
const HIDDEN: [string, (guess: string) => string][] = [
  ['inner GROUP BY', (g) => `SELECT customer_id FROM (SELECT customer_id, CASE WHEN ssn = '${g}' THEN json('x') END AS h FROM customers GROUP BY customer_id)`],
  ['MATERIALIZED CTE', (g) => `WITH t AS MATERIALIZED (SELECT customer_id, CASE WHEN ssn = '${g}' THEN json('x') END AS h FROM customers) SELECT customer_id FROM t`],
];
for (const [what, q] of HIDDEN) {
  test(`unused computed column in a materialised subquery (${what})`, () => {
    assert.notEqual(run(q(HIT)), run(q(MISS)), 'the channel is real on SQLite');
    const hit = decide(policy, ['analyst'], q(HIT));
    const miss = decide(policy, ['analyst'], q(MISS));
    assert.equal(run(hit.engine!.sql), run(miss.engine!.sql));
  });
}

// ── where the engine cannot mask: the narrow rules ──
/** The demo policy with its upstream declared PostgreSQL, a dialect bqwarden does not rewrite. */
function narrowPolicy(edit: (name: string, text: string) => string = (_n, t) => t, extra: { name: string; text: string }[] = []): Policy {
  const files = readdirSync(RULES)
    .filter((n) => n.endsWith('.yaml'))
    .map((name) => ({ name, text: edit(name, readFileSync(join(RULES, name), 'utf8')) }))
    .concat(extra);
  const up = files.find((f) => f.name === 'upstreams.yaml');
  assert.ok(up && up.text.includes('kind: toolbox-sqlite'));
  // Any other Toolbox source (the generic kind), speaking PostgreSQL.
  up.text = up.text.replace('kind: toolbox-sqlite', 'kind: toolbox-sql\n    dialect: postgresql');
  const catalog = readdirSync(join(RULES, 'catalog')).map((n) => ({ name: `catalog/${n}`, text: readFileSync(join(RULES, 'catalog', n), 'utf8') }));
  return compilePolicy(files, catalog);
}
const narrow = narrowPolicy();

test('narrow rules: computed values of masked columns are refused where the engine cannot mask', () => {
  for (const [what, q] of CHANNELS) {
    for (const groups of [['analyst'], ['engineer'], ['analyst', 'ci']]) {
      const d = decide(narrow, groups, q(HIT));
      assert.equal(d.action, 'deny', `${what} ${groups}: ${d.message}`);
      assert.ok(d.ruleIds.includes('derived-masked') || d.ruleIds.includes('inference-guard'), `${what} ${groups}: ${d.ruleIds}`);
      assert.equal(d.engine, undefined);
    }
  }
});

test('narrow rules: the refusal says which column, source, classification, role and rule, and what to do instead', () => {
  const d = decide(narrow, ['analyst'], `SELECT CASE WHEN ssn = '${HIT}' THEN json('x') END AS h FROM customers`);
  assert.deepEqual(d.ruleIds, ['derived-masked', 'mask-pii-analyst']);
  assert.match(d.message, /^h derives from demo\.main\.customers\.ssn \(pii\.ssn\), which role analyst sees masked \(last4\)/);
  assert.match(d.message, /errors and NULL patterns can reveal the hidden value \(rule derived-masked/);
  assert.match(d.message, /bqwarden does not mask inside postgresql queries.* Compute on columns you see in clear, or ask for a role that sees pii\.ssn in clear$/);
  assert.doesNotMatch(d.message, new RegExp(HIT), 'decision messages go into audit');
});

test('narrow rules: count(ssn) is refused too (the analyzer cannot tell it from count(CASE WHEN ssn = guess THEN 1 END))', () => {
  assert.ok(decide(narrow, ['analyst'], 'SELECT count(ssn) AS n FROM customers').ruleIds.includes('derived-masked'));
  assert.equal(decide(narrow, ['analyst'], 'SELECT count(*) AS n, count(customer_id) AS k FROM customers').action, 'allow');
});

test('narrow rules, derived: nullify opts one classification into NULLs instead of a refusal; the others stay denied', () => {
  const p = narrowPolicy((name, text) => (name === 'data.yaml' ? text.replace('    classification: pii.email\n', '    classification: pii.email\n    derived: nullify\n') : text));
  const d = decide(p, ['analyst'], "SELECT customer_id, CASE WHEN email LIKE 'ann@%' THEN 1 END AS h FROM customers");
  assert.equal(d.action, 'mask', d.message);
  assert.deepEqual(
    d.maskPlan?.columns.map((c) => [c.outputName, c.method]),
    [['h', 'nullify']],
  );
  // A NULL in every row: the value shape no longer tells a hit from a miss …
  assert.deepEqual(maskValue('nullify', 1, key), maskValue('nullify', null, key));
  // … while redaction would (NULL stays NULL, 1 becomes XXXXX): why computed values never got redact.
  assert.notDeepEqual(maskValue('redact', 1, key), maskValue('redact', null, key));
  // SSNs keep the default.
  assert.ok(decide(p, ['analyst'], "SELECT CASE WHEN ssn = '1' THEN 1 END AS h FROM customers").ruleIds.includes('derived-masked'));
  // Direct columns are unaffected by the option.
  assert.equal(decide(p, ['analyst'], 'SELECT email FROM customers').maskPlan?.columns[0]?.method, 'email_domain');
});

test('narrow rules, derived: nullify needs every definition of the classification to opt in (a second definition keeps deny)', () => {
  const optIn = (name: string, text: string) => (name === 'data.yaml' ? text.replace('    classification: pii.email\n', '    classification: pii.email\n    derived: nullify\n') : text);
  const p = narrowPolicy(optIn);
  const strict = narrowPolicy(optIn, [{ name: 'zz-extra.yaml', text: 'classifications:\n  - { id: cls-email-extra, classification: pii.email, names: [contact_email] }\n' }]);
  const sql = "SELECT CASE WHEN email LIKE 'a%' THEN 1 END AS h FROM customers";
  assert.equal(decide(p, ['analyst'], sql).action, 'mask');
  assert.ok(decide(strict, ['analyst'], sql).ruleIds.includes('derived-masked'));
});

test('an unknown value for derived is a load error, not a silent default', () => {
  const files = readdirSync(RULES)
    .filter((n) => n.endsWith('.yaml'))
    .map((name) => ({ name, text: readFileSync(join(RULES, name), 'utf8').replace('    classification: pii.email\n', '    classification: pii.email\n    derived: redact\n') }));
  assert.throws(() => compilePolicy(files), /derived/);
});
