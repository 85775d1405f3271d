// Property: roles only grant. For any two sets of demo roles R ⊆ R', the decision for R' is
// never stricter than for R (deny > approval > mask > allow; per column, a stricter method).
// Checked over real analyses of demo queries and random role sets (fast-check).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import fc from 'fast-check';
import { loadPolicy } from '../../src/policy/engine.js';
import { loadAnalyzer } from '../../src/policy/cases.js';
import type { MaskMethod } from '../../src/masking/types.js';
import type { Decision } from '../../src/policy/types.js';
import type { Analysis } from '../../src/sql/types.js';
import { identity } from './helpers.js';

const RULES = join(import.meta.dirname, '..', '..', 'rules');
const policy = await loadPolicy(RULES);
const analyze = await loadAnalyzer();
const ROLES = ['analyst', 'pii-reader', 'engineer', 'approver', 'examiner', 'ci'];
const SQL = [
  'SELECT customer_id, ssn, email FROM customers',
  'SELECT * FROM customers JOIN accounts USING (customer_id)',
  "SELECT customer_id FROM customers WHERE ssn = '1'",
  'SELECT card_number, amount FROM transactions',
  'SELECT count(*) FROM transactions WHERE card_number LIKE 4',
  'SELECT substr(ssn, 1, 5) AS x FROM customers',
  "SELECT CASE WHEN ssn = '1' THEN json('x') END AS h, count(email) OVER () AS n FROM customers",
  'SELECT upper(card_number) AS c, amount FROM transactions',
  'SELECT a.account_id FROM accounts a JOIN accounts b ON a.account_number = b.account_number',
  "UPDATE accounts SET status = 'x' WHERE account_id = 1",
  'DROP TABLE accounts',
  'CREATE TABLE leak AS SELECT ssn FROM customers',
  'DELETE FROM customers WHERE email = 1',
  'SELECT * FROM unknown_things',
  'SELECT sql FROM sqlite_master',
  'SELECT state, count(*) FROM customers GROUP BY state',
  'SELECT ssn FROM customers LIMIT 1; SELECT 1',
];
const RANK = { allow: 0, mask: 1, approval_required: 2, deny: 3 } as const;
// Keyed by every method, so a new one must be ranked here (a missing rank compared false and passed).
const METHOD_RANK: Record<MaskMethod, number> = { last4: 1, first4: 2, email_domain: 3, year_only: 4, sha256: 5, pseudonym_fpe: 6, pseudonym: 7, redact: 8, nullify: 9 };

function decide(roles: string[], a: Analysis): Decision {
  return policy.decide({ identity: identity('p@bank.example', roles), roles: [...roles].sort(), tool: 'execute_sql', args: { sql: a.sql }, analysis: a });
}

function notStricter(more: Decision, fewer: Decision): string | null {
  if (RANK[more.action] > RANK[fewer.action]) return `${more.action} (${more.ruleIds}) is stricter than ${fewer.action}`;
  if (more.action === 'mask' && fewer.action === 'mask') {
    const f = new Map(fewer.maskPlan!.columns.map((c) => [c.outputIndex, c.method]));
    for (const c of more.maskPlan!.columns) {
      const before = f.get(c.outputIndex);
      if (before === undefined) return `column ${c.outputName} masked only with more roles`;
      if (METHOD_RANK[c.method] > METHOD_RANK[before]) return `column ${c.outputName}: ${c.method} is stricter than ${before}`;
    }
  }
  return null;
}

test('adding roles never makes a decision stricter', { skip: analyze ? false : 'the SQL analyzer (src/sql/analyze.ts) is not available yet' }, () => {
  const opts = policy.analyzeOptions('execute_sql')!;
  const analyses = SQL.map((s) => analyze!(s, opts));
  fc.assert(
    fc.property(fc.subarray(ROLES, { minLength: 1 }), fc.subarray(ROLES), fc.nat({ max: analyses.length - 1 }), (base, extra, i) => {
      const more = [...new Set([...base, ...extra])];
      const a = analyses[i]!; // i is drawn from 0..analyses.length - 1
      const problem = notStricter(decide(more, a), decide(base, a));
      assert.equal(problem, null, `[${base}] → [${more}] on ${SQL[i]}: ${problem}`);
    }),
    { numRuns: 500, seed: 4242 },
  );
});

test('exhaustive: every role set plus any one more role is never stricter', { skip: analyze ? false : 'the SQL analyzer (src/sql/analyze.ts) is not available yet' }, () => {
  const opts = policy.analyzeOptions('execute_sql')!;
  const analyses = SQL.map((s) => analyze!(s, opts));
  let checked = 0;
  for (let mask = 1; mask < 1 << ROLES.length; mask++) {
    const base = ROLES.filter((_, i) => mask & (1 << i));
    for (const add of ROLES.filter((r) => !base.includes(r))) {
      analyses.forEach((a, i) => {
        const problem = notStricter(decide([...base, add], a), decide(base, a));
        assert.equal(problem, null, `[${base}] + ${add} on ${SQL[i]}: ${problem}`);
        checked++;
      });
    }
  }
  assert.ok(checked > 2000);
});
