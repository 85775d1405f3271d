// Masking in the engine: where the projections go, per dialect, and what is refused rather than
// run unmasked. The SQLite side is also proved end to end by the non-interference suite; BigQuery
// has no engine here, so its rewrites are checked for shape: they parse, and every read of a
// masked table is inside its projection. Real BigQuery SQL from ../shared/corpus is run through
// the same checks when the corpus is present.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compilePolicy, loadPolicy, type Policy } from '../../src/policy/engine.js';
import { analyze } from '../../src/sql/analyze.js';
import { StaticCatalog } from '../../src/policy/catalog.js';
import type { Analysis, CatalogTable, SchemaCatalog } from '../../src/sql/types.js';
import type { Decision } from '../../src/policy/types.js';
import { bigqueryAnalystPolicy, identity } from './helpers.js';

const RULES = join(import.meta.dirname, '..', '..', 'rules');
const demo = await loadPolicy(RULES);

function decide(p: Policy, groups: string[], sql: string, catalog?: SchemaCatalog, tool = 'execute_sql'): { d: Decision; a: Analysis } {
  const id = identity('u@bank.example', groups);
  const opts = p.analyzeOptions(tool)!;
  const a = analyze(sql, catalog ? { ...opts, catalog } : opts);
  return { d: p.decide({ identity: id, roles: p.rolesFor(id), tool, args: { sql }, analysis: a, ...(catalog ? { catalog } : {}) }), a };
}

// ── SQLite ──

test('sqlite: one WITH list in front of the statement shadows every masked table it names', () => {
  const { d } = decide(demo, ['analyst'], 'SELECT c.ssn, a.balance FROM customers c JOIN accounts a USING (customer_id)');
  assert.match(
    d.engine!.sql,
    /^WITH "customers" AS \(SELECT "customer_id", .* FROM "main"\."customers" NOT INDEXED\), "accounts" AS \(SELECT .* FROM "main"\."accounts" NOT INDEXED\) SELECT c\.ssn, a\.balance FROM customers c JOIN accounts a USING \(customer_id\)$/,
  );
});

test("sqlite: the caller's own WITH [RECURSIVE] is merged, so both lists share one scope", () => {
  const rec = decide(demo, ['analyst'], 'WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT n, (SELECT ssn FROM customers LIMIT 1) AS s FROM r').d;
  assert.match(rec.engine!.sql, /^WITH RECURSIVE "customers" AS \(.*\), r\(n\) AS \(SELECT 1/);
  const plain = decide(demo, ['analyst'], 'with x as (select ssn from customers) select * from x').d;
  assert.match(plain.engine!.sql, /^with "customers" AS \(.*\), x as \(select ssn from customers\) select \* from x$/);
});

test('sqlite: EXPLAIN, CREATE TABLE … AS and DML get the list where their query starts', () => {
  assert.match(decide(demo, ['analyst'], 'EXPLAIN QUERY PLAN SELECT ssn FROM customers').d.engine!.sql, /^EXPLAIN QUERY PLAN WITH "customers" AS/);
  // Engineers' writes are held for approval; their sources are still read masked.
  const ins = decide(demo, ['engineer'], 'INSERT INTO accounts (account_id, customer_id, routing_number) SELECT 9, customer_id, city FROM customers LIMIT 1').d;
  assert.equal(ins.action, 'approval_required', ins.message);
  assert.match(ins.engine!.sql, /^WITH "accounts" AS \(.*\), "customers" AS \(.*\) INSERT INTO accounts/);
});

test('sqlite: statements that only name a table (DROP, ALTER, CREATE INDEX) run unchanged', () => {
  const d = decide(demo, ['engineer'], 'CREATE INDEX idx_x ON customers (city)').d;
  assert.equal(d.action, 'approval_required', d.message);
  assert.equal(d.engine, undefined);
});

test('sqlite attacks: every way past the projection is refused, not run unmasked', () => {
  for (const sql of [
    'SELECT ssn FROM main.customers',
    'SELECT ssn FROM "main"."customers"',
    'SELECT ssn FROM main./* x */customers',
    'SELECT * FROM temp.customers',
    "SELECT 1 FROM accounts WHERE 'x' IN main.customers",
    'CREATE TRIGGER t AFTER INSERT ON accounts BEGIN SELECT ssn FROM customers; END',
  ]) {
    const { d } = decide(demo, ['engineer'], sql);
    assert.equal(d.action, 'deny', `${sql}: ${d.message}`);
    assert.equal(d.engine, undefined, sql);
  }
  assert.deepEqual(decide(demo, ['analyst'], 'SELECT ssn FROM main.customers').d.ruleIds, ['mask-rewrite']);
});

test('sqlite: a role that may not read a table still cannot, should the analyzer miss the read (an empty projection)', () => {
  // ci may read transactions only; a query naming customers is refused by the table rules …
  assert.equal(decide(demo, ['ci'], 'SELECT count(*) FROM customers').d.action, 'deny');
  // … and a name the analyzer takes for something else still meets an empty table in the engine.
  const { d } = decide(demo, ['ci'], 'SELECT count(*) AS n FROM transactions WHERE merchant IN (SELECT "customers" FROM transactions)');
  if (d.engine) assert.match(d.engine.sql, /"customers" AS \(SELECT NULL AS "customer_id", .* FROM "main"\."customers" WHERE 0\)/);
});

test('sqlite: keyed methods become row handles the gateway resolves; clear and computable columns stay in SQL', () => {
  const { d } = decide(demo, ['engineer'], 'SELECT ssn, email FROM customers');
  const ssn = [...d.engine!.columns.values()].find((c) => c.column === 'ssn')!;
  assert.deepEqual([ssn.method, ssn.form], ['pseudonym', 'handle']);
  assert.match(d.engine!.sql, /CASE WHEN "ssn" IS NULL THEN NULL ELSE '@bqw:[0-9a-f]{10}:0:2:' \|\| rowid \|\| '@' END AS "ssn"/);
  assert.equal(d.engine!.handles?.tables[0]?.fq, 'demo.main.customers');
  assert.deepEqual(
    d.engine!.handles?.tables[0].columns.map((c) => c.column),
    ['ssn'],
  );
});

test('a cleared role and a table with nothing masked run the SQL as sent', () => {
  assert.equal(decide(demo, ['pii-reader'], 'SELECT ssn FROM customers').d.engine, undefined);
  assert.equal(decide(demo, ['analyst'], 'SELECT 1 AS one').d.engine, undefined);
});

// ── BigQuery ──

const BQ_POLICY = bigqueryAnalystPolicy(`
tables: [{ id: tb, tables: ['**'], access: read, effect: allow }]
statements: [{ id: s, classes: [read, write], effect: allow }]
classifications:
  - { id: c-ssn, classification: pii.ssn, names: [ssn] }
  - { id: c-email, classification: pii.email, names: [email] }
  - { id: c-key, classification: bank.key, names: [acct] }
visibility: [{ id: v, roles: [analyst], classifications: { pii.ssn: last4, pii.email: email_domain, bank.key: pseudonym } }]
`);
const bq = compilePolicy([{ name: 'p.yaml', text: BQ_POLICY }]);

function catalogFor(a: Analysis): StaticCatalog {
  const tables = new Map<string, Set<string>>();
  for (const s of a.statements) {
    for (const t of [...s.tablesRead, ...s.tablesWritten]) if (!t.function) tables.set(t.fq, tables.get(t.fq) ?? new Set(['ssn', 'email']));
    for (const c of [...s.uses.map((u) => u.column), ...(s.output ?? []).flatMap((o) => o.sources)]) tables.get(c.table)?.add(c.column);
  }
  return new StaticCatalog([...tables].map(([fq, cols]) => ({ fq, columns: [...cols].filter((c) => c !== '*').map((name) => ({ name, type: 'STRING' })) }) as CatalogTable));
}

/** Every read of a masked table in the rewritten SQL sits right inside one of its projections. */
function assertPlaced(rewritten: string, d: Decision): void {
  const a = analyze(rewritten, { ...bq.analyzeOptions('execute_sql')!, catalog: undefined });
  assert.ok(a.ok, `the rewritten SQL parses: ${a.opaque.map((f) => f.detail).join('; ')}\n${rewritten}`);
  const masked = new Set(d.engine!.tables);
  for (const s of a.statements)
    for (const site of s.tableSites) {
      if (!masked.has(site.fq)) continue;
      const before = rewritten.slice(0, site.range[0]);
      assert.match(before, /\(SELECT (?:(?!\(SELECT ).)* FROM $/s, `a read of ${site.fq} outside its projection:\n${rewritten}`);
    }
}

function bqDecide(sql: string) {
  const a0 = analyze(sql, bq.analyzeOptions('execute_sql')!);
  return decide(bq, ['analyst'], sql, catalogFor(a0));
}

test('bigquery: each read becomes (SELECT masked FROM <the same source>) AS <alias>, time travel and samples included', () => {
  const cases: [string, RegExp][] = [
    [
      'SELECT ssn FROM d.customers',
      /FROM \(SELECT IF\(`ssn` IS NULL, NULL, IF\(CHAR_LENGTH\(`ssn`\) > 4, CONCAT\('XXXXX', SUBSTR\(`ssn`, -4\)\), TO_HEX\(SHA256\(`ssn`\)\)\)\) AS `ssn`, .* FROM d\.customers\) AS `customers`$/,
    ],
    ['SELECT c.email FROM `p.d.customers` AS c WHERE c.ssn LIKE "%1"', /FROM \(SELECT .* FROM `p\.d\.customers`\) AS c WHERE/],
    [
      'SELECT ssn FROM d.customers FOR SYSTEM_TIME AS OF TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 1 HOUR)',
      /FROM \(SELECT .* FROM d\.customers FOR SYSTEM_TIME AS OF TIMESTAMP_SUB\(CURRENT_TIMESTAMP\(\), INTERVAL 1 HOUR\)\) AS `customers`$/,
    ],
    ['SELECT ssn FROM d.customers TABLESAMPLE SYSTEM (10 PERCENT)', /FROM \(SELECT .* FROM d\.customers TABLESAMPLE SYSTEM \(10 PERCENT\)\) AS `customers`$/],
    [
      'WITH x AS (SELECT ssn FROM d.customers) SELECT * FROM x JOIN d.orders o ON o.ssn = x.ssn',
      /WITH x AS \(SELECT ssn FROM \(SELECT .* FROM d\.customers\) AS `customers`\) SELECT \* FROM x JOIN \(SELECT .* FROM d\.orders\) o ON/,
    ],
    [
      'SELECT (SELECT MAX(ssn) FROM d.customers c2 WHERE c2.id = c.id) FROM d.customers c',
      /\(SELECT MAX\(ssn\) FROM \(SELECT .* FROM d\.customers\) c2 WHERE c2\.id = c\.id\) FROM \(SELECT .* FROM d\.customers\) c$/,
    ],
    ['SELECT ssn FROM d.a UNION ALL SELECT ssn FROM d.b', /FROM \(SELECT .* FROM d\.a\) AS `a` UNION ALL SELECT ssn FROM \(SELECT .* FROM d\.b\) AS `b`$/],
  ];
  for (const [sql, re] of cases) {
    const { d } = bqDecide(sql);
    assert.notEqual(d.action, 'deny', `${sql}: ${d.message}`);
    assert.match(d.engine!.sql, re, sql);
    assertPlaced(d.engine!.sql, d);
  }
});

test('bigquery: pseudonyms need a keyset to be computed in the engine; without one the column keeps the narrow rule', () => {
  const { d } = bqDecide('SELECT acct FROM d.t');
  const acct = [...d.engine!.columns.values()].find((c) => c.column === 'acct')!;
  assert.equal(acct.form, 'narrow');
  assert.match(d.engine!.sql, /, `acct` FROM d\.t\)/);
  assert.equal(d.maskPlan?.columns[0]?.method, 'pseudonym');
  // Narrow: a computed value of it is refused (rule derived-masked), a filter too.
  assert.ok(bqDecide('SELECT UPPER(acct) AS u FROM d.t').d.ruleIds.includes('derived-masked'));
  assert.ok(bqDecide("SELECT id FROM d.t WHERE acct = 'x'").d.ruleIds.includes('inference-guard'));
});

test('bigquery: with a KMS-wrapped keyset the engine computes keyed pseudonyms itself (no narrow rule)', () => {
  const kms = 'gcp-kms://projects/p/locations/us/keyRings/bqwarden/cryptoKeys/pseudonyms';
  const withKeyset = compilePolicy([
    {
      name: 'p.yaml',
      text: BQ_POLICY.replace(
        'tools: { execute_sql: { kind: sql, sqlArgument: sql } }',
        `tools: { execute_sql: { kind: sql, sqlArgument: sql } }\n    pseudonymKeyset: { kmsKeyUri: '${kms}', wrappedKeyset: 'CiQAbcd+/w==' }`,
      ),
    },
  ]);
  const sql = "SELECT UPPER(acct) AS u FROM d.t WHERE acct = 'x'";
  const a0 = analyze(sql, withKeyset.analyzeOptions('execute_sql')!);
  const { d } = decide(withKeyset, ['analyst'], sql, catalogFor(a0));
  assert.notEqual(d.action, 'deny', d.message);
  const acct = [...d.engine!.columns.values()].find((c) => c.column === 'acct')!;
  assert.equal(acct.form, 'expr');
  assert.ok(
    d.engine!.sql.includes(`CONCAT('tok_', TO_HEX(SUBSTR(SHA256(DETERMINISTIC_ENCRYPT(KEYS.KEYSET_CHAIN('${kms}', FROM_BASE64('CiQAbcd+/w==')), \`acct\`, 'bqwarden')), 1, 16)))`),
    d.engine!.sql,
  );
  // A keyset URI that is not a KMS key is a load error, not a silent narrow rule.
  assert.throws(
    () =>
      compilePolicy([
        {
          name: 'p.yaml',
          text: BQ_POLICY.replace(
            'tools: { execute_sql: { kind: sql, sqlArgument: sql } }',
            "tools: { execute_sql: { kind: sql, sqlArgument: sql } }\n    pseudonymKeyset: { kmsKeyUri: 'https://x', wrappedKeyset: 'AA==' }",
          ),
        },
      ]),
    /kmsKeyUri/,
  );
});

test('bigquery attacks: names the rewriter cannot place are refused', () => {
  for (const sql of ['WITH customers AS (SELECT 1 AS x) SELECT ssn FROM d.customers', 'SELECT customers FROM d.customers', 'SELECT x.ssn FROM d.orders AS customers, d.customers AS x']) {
    const { d } = bqDecide(sql);
    assert.equal(d.action, 'deny', `${sql}: ${d.message}`);
    assert.deepEqual(d.ruleIds, ['mask-rewrite'], sql);
  }
  // A table-qualified column stays fine: it names the projection.
  assert.notEqual(bqDecide('SELECT customers.ssn FROM d.customers').d.action, 'deny');
});

const corpus = join(fileURLToPath(import.meta.url), '..', '..', '..', '..', 'shared', 'corpus', 'bigquery');
for (const folder of ['spider2', 'sqlfluff']) {
  const dir = join(corpus, folder);
  test(`bigquery corpus ${folder}: every rewrite parses and keeps masked reads inside projections`, { skip: existsSync(dir) ? false : `corpus not found at ${dir} (../shared absent)` }, () => {
    let rewritten = 0;
    let refused = 0;
    let other = 0;
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.sql'))) {
      const sql = readFileSync(join(dir, f), 'utf8');
      const { d, a } = bqDecide(sql);
      if (d.ruleIds.includes('mask-rewrite')) refused++;
      else if (!a.ok || !d.engine) other++;
      else {
        rewritten++;
        assertPlaced(d.engine.sql, d);
      }
    }
    console.log(
      `# bigquery corpus ${folder}: ${rewritten} rewritten and checked, ${refused} refused by the rewriter, ${other} not rewritten (did not parse, denied for another reason, or no masked table)`,
    );
    assert.ok(rewritten > 0);
  });
}
