// Policy decision cost per request, on analyses of the demo queries. Baseline: the SQL
// analysis of the same statement (the stage right before decide in the pipeline), measured in
// the same run; the ratio says how much of the per-request budget policy adds on top.
// Also: a cold decision (fresh policy, no memoised lookups) and a full policy load.
import { join } from 'node:path';
import { loadPolicy } from '../src/policy/engine.js';
import { analyze } from '../src/sql/analyze.js';
import type { Identity } from '../src/identity/types.js';

const RULES = join(import.meta.dirname, '..', 'rules');
const N = Number(process.env.BENCH_N ?? 5000);

const QUERIES: [string, string, string[]][] = [
  ['simple masked select', 'SELECT customer_id, ssn, email FROM customers LIMIT 10', ['analyst']],
  ['SELECT * over a join', 'SELECT * FROM customers c JOIN accounts a USING (customer_id) LIMIT 10', ['analyst']],
  ['inference deny', "SELECT customer_id FROM customers WHERE ssn = '123-45-6789'", ['analyst']],
  ['aggregate, clear', 'SELECT state, count(*) AS n, avg(balance) FROM customers c JOIN accounts a ON a.customer_id = c.customer_id GROUP BY state', ['analyst']],
  ['write needing approval', "UPDATE accounts SET status = 'frozen' WHERE account_id = 7", ['engineer']],
  ['two roles, clear', 'SELECT ssn, email, date_of_birth FROM customers', ['analyst', 'pii-reader']],
];

function ident(groups: string[]): Identity {
  return { subject: 'bench', email: 'bench@bank.example', issuer: 'bench', groups, roles: [], actorType: 'human', authMethod: 'dev', expiresAt: null, name: null };
}

function time(fn: () => unknown, n: number): number {
  for (let i = 0; i < Math.min(500, n); i++) fn();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn();
  return Number(process.hrtime.bigint() - t0) / 1000 / n;
}

const t0 = process.hrtime.bigint();
const policy = await loadPolicy(RULES);
const loadMs = Number(process.hrtime.bigint() - t0) / 1e6;
const opts = policy.analyzeOptions('execute_sql')!;

console.log(`policy decide (n=${N}; baseline = analyze() of the same SQL)`);
console.log(`  ${'query'.padEnd(28)} ${'analyze µs'.padStart(11)} ${'decide µs'.padStart(10)} ${'cold µs'.padStart(9)} ${'decide/analyze'.padStart(15)}`);
for (const [label, sql, groups] of QUERIES) {
  const a = analyze(sql, opts);
  const id = ident(groups);
  const input = { identity: id, roles: policy.rolesFor(id), tool: 'execute_sql', args: { sql }, analysis: a };
  const cold = await loadPolicy(RULES);
  const c0 = process.hrtime.bigint();
  cold.decide(input);
  const coldUs = Number(process.hrtime.bigint() - c0) / 1000;
  const base = time(() => analyze(sql, opts), Math.max(200, Math.floor(N / 10)));
  const us = time(() => policy.decide(input), N);
  console.log(`  ${label.padEnd(28)} ${base.toFixed(1).padStart(11)} ${us.toFixed(2).padStart(10)} ${coldUs.toFixed(0).padStart(9)} ${(us / base).toFixed(3).padStart(15)}`);
}
const id = ident(['analyst']);
const roles = policy.rolesFor(id);
console.log(`  rolesFor                     ${time(() => policy.rolesFor(id), N).toFixed(2)} µs`);
console.log(`  methodAllowed                ${time(() => policy.methodAllowed(roles, 'tools/call'), N).toFixed(2)} µs`);
console.log(`  loadPolicy(rules/)           ${loadMs.toFixed(1)} ms (first load, incl. module warm-up)`);
console.log(
  `  loadPolicy(rules/) warm      ${(
    (time(() => undefined, 1),
    await (async () => {
      const s = process.hrtime.bigint();
      for (let i = 0; i < 20; i++) await loadPolicy(RULES);
      return Number(process.hrtime.bigint() - s) / 1e6 / 20;
    })())
  ).toFixed(1)} ms`,
);

// Masking in the engine: what the rewrite (placing the masking projections, issue 11) costs on
// top of the analysis it starts from, per query (goal: ≤ 0.2 ms). Same queries, same run.
{
  const { readPolicySources, parsePolicyFiles, parseCatalogFiles } = await import('../src/policy/load.js');
  const { CompiledPolicy } = await import('../src/policy/compiled.js');
  const { StaticCatalog } = await import('../src/policy/catalog.js');
  const { planEngineMasking } = await import('../src/policy/engine-masks.js');
  const src = await readPolicySources(RULES);
  const compiled = new CompiledPolicy(parsePolicyFiles(src.policy).merged);
  const catalog = new StaticCatalog(parseCatalogFiles(src.catalog).catalog);
  const REWRITES: [string, string, string[]][] = [
    ['one masked table', "SELECT customer_id, ssn, email FROM customers WHERE ssn LIKE '%1234' LIMIT 10", ['analyst']],
    ['join, two masked tables', 'SELECT c.state, sum(a.balance) FROM customers c JOIN accounts a ON a.customer_id = c.customer_id GROUP BY c.state', ['analyst']],
    ['row handles (keyed)', 'SELECT ssn, account_number FROM customers JOIN accounts USING (customer_id)', ['engineer']],
    ['CTE + subquery', 'WITH t AS (SELECT customer_id, email FROM customers) SELECT (SELECT count(*) FROM accounts a WHERE a.customer_id = t.customer_id) AS n, email FROM t', ['analyst']],
  ];
  console.log(`\nmasking rewrite (n=${N}; baseline = analyze() of the same SQL)`);
  console.log(`  ${'query'.padEnd(28)} ${'analyze µs'.padStart(11)} ${'rewrite µs'.padStart(11)} ${'rewrite/analyze'.padStart(16)}`);
  for (const [label, sql, roles] of REWRITES) {
    const a = analyze(sql, opts);
    const up = { dialect: 'sqlite' as const, defaultProject: 'demo', defaultDataset: 'main' };
    const r = planEngineMasking(compiled, roles, a, catalog, true, up);
    if (!r.ok || !r.masking.changed) throw new Error(`${label}: expected a rewrite`);
    const base = time(() => analyze(sql, opts), Math.max(200, Math.floor(N / 10)));
    const us = time(() => planEngineMasking(compiled, roles, a, catalog, true, up), N);
    console.log(`  ${label.padEnd(28)} ${base.toFixed(1).padStart(11)} ${us.toFixed(1).padStart(11)} ${(us / base).toFixed(3).padStart(16)}`);
  }
}
