// The BigQuery rewrite, checked by an oracle that cannot be fooled the way our parser can:
// Google's ZetaSQL analyzer resolves each rewritten statement as BigQuery would, and on its
// resolved tree every scan of a masked table must be wrapped by its masking projection, and no
// hidden column may be referenced outside it (test/helpers/zetasql.ts). Statements come from a
// fast-check grammar over a small BigQuery schema (every way BigQuery lets you name a table,
// joins, subqueries, CTEs, set operations, windows and QUALIFY, structs, time travel) and from
// hand-written attacks. Skips, and says so, when the ZetaSQL server is not installed.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compilePolicy } from '../../src/policy/engine.js';
import { analyze } from '../../src/sql/analyze.js';
import type { CatalogTable } from '../../src/sql/types.js';
import { startZetaOracle, ZETASQL_DIR, type ZetaOracle } from '../helpers/zetasql.js';
import { bigqueryAnalystPolicy, identity } from './helpers.js';

const TABLES: CatalogTable[] = [
  {
    fq: 'p.d.customers',
    columns: [
      { name: 'id', type: 'INT64' },
      { name: 'ssn', type: 'STRING' },
      { name: 'email', type: 'STRING' },
      { name: 'segment', type: 'STRING' },
      { name: 'dob', type: 'DATE' },
      { name: 'created', type: 'TIMESTAMP' },
      {
        name: 'profile',
        type: 'RECORD',
        fields: [
          { name: 'city', type: 'STRING' },
          { name: 'phone', type: 'STRING' },
        ],
      },
    ],
  },
  {
    fq: 'p.d.accounts',
    columns: [
      { name: 'id', type: 'INT64' },
      { name: 'customer_id', type: 'INT64' },
      { name: 'acct', type: 'STRING' },
      { name: 'balance', type: 'NUMERIC' },
      { name: 'opened', type: 'DATE' },
    ],
  },
  {
    fq: 'p.d.events',
    columns: [
      { name: 'id', type: 'INT64' },
      { name: 'customer_id', type: 'INT64' },
      { name: 'kind', type: 'STRING' },
      { name: 'amount', type: 'FLOAT64' },
      { name: 'at', type: 'TIMESTAMP' },
    ],
  },
];
const catalogYaml = `tables:\n${TABLES.map((t) => `  - fq: ${t.fq}\n    columns: ${JSON.stringify(t.columns)}`).join('\n')}\n`;
const policy = compilePolicy(
  [
    {
      name: 'p.yaml',
      text: bigqueryAnalystPolicy(
        `
tables: [{ id: tb, tables: ['p.d.*'], access: read, effect: allow }]
statements: [{ id: s, classes: [read], effect: allow }]
classifications:
  - { id: c-ssn, classification: pii.ssn, names: [ssn] }
  - { id: c-email, classification: pii.email, names: [email] }
  - { id: c-dob, classification: pii.dob, names: [dob] }
  - { id: c-phone, classification: pii.phone, names: [phone] }
  - { id: c-acct, classification: bank.account, names: [acct] }
visibility: [{ id: v, roles: [analyst], classifications: { pii.ssn: last4, pii.email: email_domain, pii.dob: year_only, pii.phone: redact, bank.account: pseudonym } }]
`,
        `pseudonymKeyset: { kmsKeyUri: 'gcp-kms://projects/p/locations/us/keyRings/r/cryptoKeys/k', wrappedKeyset: 'CiQAbcd+/w==' }`,
      ),
    },
  ],
  [{ name: 'catalog/c.yaml', text: catalogYaml }],
);

type Table = 'customers' | 'accounts' | 'events';
const TABLE_NAMES: Table[] = ['customers', 'accounts', 'events'];
const COLS: Record<Table, string[]> = {
  customers: ['id', 'ssn', 'email', 'segment', 'dob', 'created', 'profile.city', 'profile.phone'],
  accounts: ['id', 'customer_id', 'acct', 'balance', 'opened'],
  events: ['id', 'customer_id', 'kind', 'amount', 'at'],
};
const NAMES: Record<Table, [string, ...string[]]> = {
  customers: ['d.customers', '`p.d.customers`', 'p.d.customers', '`d`.customers', '`d.customers`', '`p`.d.customers'],
  accounts: ['d.accounts', '`p.d.accounts`', 'p.d.accounts'],
  events: ['d.events', '`p.d.events`'],
};
const GUESS = ['123-45-6789', '6789', 'ann@bank.example', '1980-03-15', 'X', '%1%'];

const tableArb = fc.constantFrom(...TABLE_NAMES);
const lit = fc.oneof(
  fc.constantFrom(...GUESS).map((g) => `'${g}'`),
  fc.integer({ min: 0, max: 99 }).map(String),
);
function expr(alias: string, table: Table): fc.Arbitrary<string> {
  const col = fc.constantFrom(...COLS[table]).map((c) => `${alias}.${c}`);
  const str = col.map((c) => `CAST(${c} AS STRING)`);
  return fc.oneof(
    { weight: 4, arbitrary: col },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom('UPPER', 'LOWER', 'LENGTH', 'REVERSE', 'TRIM', 'TO_HEX(SHA256'), str).map(([f, c]) => (f.includes('(') ? `${f}(${c}))` : `${f}(${c})`)) },
    { weight: 1, arbitrary: fc.tuple(str, fc.integer({ min: -5, max: 5 }), fc.integer({ min: 1, max: 6 })).map(([c, a, b]) => `SUBSTR(${c}, ${a === 0 ? 1 : a}, ${b})`) },
    { weight: 1, arbitrary: fc.tuple(str, lit).map(([c, l]) => `CONCAT(${c}, CAST(${l} AS STRING))`) },
    { weight: 1, arbitrary: fc.tuple(str, lit).map(([c, l]) => `IF(STARTS_WITH(${c}, CAST(${l} AS STRING)), 1, 0)`) },
    { weight: 1, arbitrary: str.map((c) => `COALESCE(${c}, 'none')`) },
  );
}
function pred(alias: string, table: Table): fc.Arbitrary<string> {
  const str = fc.constantFrom(...COLS[table]).map((c) => `CAST(${alias}.${c} AS STRING)`);
  return fc.oneof(
    fc.tuple(str, fc.constantFrom('=', '<', '>', '!='), lit).map(([c, op, l]) => `${c} ${op} CAST(${l} AS STRING)`),
    fc.tuple(str, lit).map(([c, l]) => `${c} LIKE CAST(${l} AS STRING)`),
    str.map((c) => `${c} IS NULL`),
    fc.tuple(str, fc.constantFrom(...TABLE_NAMES)).map(([c, t]) => `${c} IN (SELECT CAST(id AS STRING) FROM ${NAMES[t][0]})`),
  );
}
const from = fc.tuple(tableArb, fc.nat()).map(([t, i]) => ({ t, name: NAMES[t][i % NAMES[t].length]! /* i % length is in range */ }));
const simple = from.chain(({ t, name }) =>
  fc
    .tuple(fc.array(expr('x', t), { minLength: 1, maxLength: 3 }), fc.option(pred('x', t), { nil: undefined }), fc.boolean())
    .map(([items, where, order]) => `SELECT ${items.map((e, i) => `${e} AS c${i}`).join(', ')} FROM ${name} AS x${where ? ` WHERE ${where}` : ''}${order ? ' ORDER BY 1' : ''} LIMIT 10`),
);
const grouped = from.chain(({ t, name }) => fc.tuple(expr('x', t), expr('x', t)).map(([g, v]) => `SELECT ${g} AS g, COUNT(*) AS n, MAX(${v}) AS m FROM ${name} x GROUP BY g HAVING COUNT(*) > 0`));
const joined = fc
  .tuple(fc.constantFrom(...NAMES.customers), fc.constantFrom(...NAMES.accounts), expr('c', 'customers'), expr('a', 'accounts'), fc.constantFrom('JOIN', 'LEFT JOIN'))
  .map(([cn, an, e1, e2, j]) => `SELECT ${e1} AS l, ${e2} AS r FROM ${cn} c ${j} ${an} a ON a.customer_id = c.id`);
const subq = fc
  .tuple(fc.constantFrom(...NAMES.customers), fc.constantFrom(...NAMES.customers), pred('c2', 'customers'))
  .map(([n1, n2, p]) => `SELECT c.id, (SELECT MAX(c2.ssn) FROM ${n2} c2 WHERE c2.id = c.id AND ${p}) AS s FROM ${n1} c WHERE EXISTS (SELECT 1 FROM ${n2} c3 WHERE c3.email = c.email)`);
const cte = fc.tuple(simple, fc.constantFrom(...NAMES.accounts)).map(([inner, an]) => `WITH w AS (${inner.replace(/ LIMIT 10$/, '')}) SELECT w.*, (SELECT COUNT(*) FROM ${an}) AS k FROM w`);
const setop = fc
  .tuple(fc.constantFrom(...NAMES.customers), fc.constantFrom(...NAMES.accounts), fc.constantFrom('UNION ALL', 'UNION DISTINCT', 'EXCEPT DISTINCT', 'INTERSECT DISTINCT'))
  .map(([cn, an, op]) => `SELECT CAST(ssn AS STRING) AS v FROM ${cn} ${op} SELECT acct FROM ${an}`);
const windowed = fc
  .tuple(fc.constantFrom(...NAMES.customers), fc.constantFrom('ssn', 'email', 'dob', 'segment'))
  .map(([cn, o]) => `SELECT id, ROW_NUMBER() OVER (PARTITION BY segment ORDER BY ${o}) AS r FROM ${cn} WHERE TRUE QUALIFY r = 1`);
const structs = fc.constantFrom(...NAMES.customers).map((cn) => `SELECT c.profile.city, c.profile.phone, c.profile FROM ${cn} c`);
const except = fc.constantFrom(...NAMES.customers).map((cn) => `SELECT * EXCEPT (segment) FROM ${cn}`);
// * EXCEPT … REPLACE (the sql-parser-cst patch): a masked column moved under another name or computed.
const exceptReplace = fc
  .tuple(fc.constantFrom(...NAMES.customers), fc.constantFrom('ssn', 'UPPER(ssn)', 'CONCAT(email, segment)', 'CAST(dob AS STRING)'), fc.constantFrom('segment', 'email', 'ssn'), fc.boolean())
  .map(([cn, e, target, drop]) => `SELECT * ${drop && target !== 'ssn' ? 'EXCEPT (ssn) ' : ''}REPLACE (${e} AS ${target}) FROM ${cn} c`);
const travel = fc.constantFrom(...NAMES.customers).map((cn) => `SELECT ssn FROM ${cn} FOR SYSTEM_TIME AS OF TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 1 HOUR)`);
const QUERY = fc.oneof(
  { weight: 5, arbitrary: simple },
  { weight: 2, arbitrary: grouped },
  { weight: 2, arbitrary: joined },
  { weight: 2, arbitrary: subq },
  { weight: 2, arbitrary: cte },
  setop,
  windowed,
  structs,
  except,
  exceptReplace,
  travel,
);

const ATTACKS = [
  'SELECT ssn FROM `p.d.customers` WHERE ssn = "123-45-6789"',
  'SELECT (SELECT STRING_AGG(ssn) FROM d.customers) AS all_ssns',
  'SELECT * FROM d.customers c JOIN `p.d.customers` c2 ON c.ssn = c2.ssn',
  'SELECT customers.ssn FROM d.customers',
  'SELECT t.ssn FROM (SELECT * FROM p.d.customers) t',
  'SELECT ARRAY(SELECT ssn FROM d.customers LIMIT 3) AS a',
  'SELECT email FROM d.customers WHERE id IN (SELECT customer_id FROM d.accounts WHERE acct = "x")',
  'SELECT * REPLACE (ssn AS email) FROM d.customers',
  'SELECT * EXCEPT (ssn) REPLACE (ssn AS segment) FROM `p.d.customers`',
];

const oracle: ZetaOracle | null = await startZetaOracle();
after(() => oracle?.stop());

function skipReason(): string | false {
  return oracle ? false : `ZetaSQL not installed (${ZETASQL_DIR}; .ci/run installs it: npm install --prefix .tmp/zetasql @fivetrandevelopers/zetasql): BigQuery oracle skipped`;
}

async function judge(sql: string) {
  const id = identity('a@bank.example', ['analyst']);
  const d = policy.decide({ identity: id, roles: policy.rolesFor(id), tool: 'execute_sql', args: { sql }, analysis: analyze(sql, policy.analyzeOptions('execute_sql')!) });
  if (d.action === 'deny' || !d.engine) return { d, verdict: null };
  const hidden = new Map<string, Set<string>>();
  for (const c of d.engine.columns.values()) if (c.form !== 'narrow') hidden.set(c.table, (hidden.get(c.table) ?? new Set()).add(c.column));
  return { d, verdict: await oracle!.check(d.engine.sql, TABLES, hidden) };
}

test('ZetaSQL oracle: generated BigQuery queries, rewritten, read masked tables only through their projections', { skip: skipReason() }, async (t) => {
  if (!oracle) return t.skip(skipReason() || '');
  const queries = fc.sample(QUERY, { numRuns: Number(process.env.BQWARDEN_ZETA_QUERIES ?? 600), seed: 1211 });
  let checked = 0;
  let denied = 0;
  let unmasked = 0;
  let unanalysable = 0;
  const violations: string[] = [];
  for (const sql of [...ATTACKS, ...queries]) {
    const { d, verdict } = await judge(sql);
    if (!verdict) {
      if (d.action === 'deny') denied++;
      else unmasked++;
      if (process.env.BQWARDEN_ZETA_DEBUG && d.action === 'deny') console.log(`# refused: ${d.ruleIds.join(',')} ${d.message.slice(0, 160)}`);
      continue;
    }
    if (!verdict.analysable) {
      unanalysable++;
      if (process.env.BQWARDEN_ZETA_DEBUG) console.log(`# not analysable: ${verdict.error}\n#   ${sql}`);
      continue;
    }
    checked++;
    if (verdict.violations.length) violations.push(`${sql}\n    → ${d.engine!.sql}\n    ${verdict.violations.join('; ')}`);
  }
  console.log(
    `# ZetaSQL oracle: ${checked} rewritten statements resolved and checked, ${unmasked} read no masked table, ${denied} refused by policy, ${unanalysable} not analysable by ZetaSQL, ${violations.length} violations`,
  );
  assert.deepEqual(violations, []);
  assert.ok(checked >= queries.length * 0.5, `only ${checked} of ${queries.length} could be checked`);
});

test('ZetaSQL oracle: the oracle itself catches an unmasked read and a projection that is not ours', { skip: skipReason() }, async (t) => {
  if (!oracle) return t.skip(skipReason() || '');
  const hidden = new Map([['p.d.customers', new Set(['ssn'])]]);
  const bare = await oracle.check('SELECT id FROM d.customers WHERE ssn = "1"', TABLES, hidden);
  assert.ok(bare.violations.length > 0, JSON.stringify(bare));
  const fake = await oracle.check('SELECT ssn FROM (SELECT id, UPPER(ssn) AS ssn FROM d.customers)', TABLES, hidden);
  assert.ok(
    fake.violations.some((v) => /does not mask ssn/.test(v)),
    JSON.stringify(fake),
  );
});
