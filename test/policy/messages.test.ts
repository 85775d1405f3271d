// Every refusal tells the caller what they can do instead, and names each rule once: the
// messages of every policy test case, every bypass attack and a set of refused statements, for
// every demo role, judged on their text (issue 16: "(rule x (rule x)", denials with no way out).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadPolicy } from '../../src/policy/engine.js';
import { evaluateCase, loadAnalyzer, loadCases } from '../../src/policy/cases.js';
import { ATTACKS } from '../e2e/attacks.js';

const RULES = join(import.meta.dirname, '..', '..', 'rules');
const ROLES = ['analyst', 'pii-reader', 'engineer', 'approver', 'examiner', 'ci', 'nobody'];
const REFUSED = [
  'GRANT SELECT ON customers TO bob',
  'DROP TABLE customers',
  'DELETE FROM transactions WHERE txn_id = 1',
  "UPDATE customers SET email = 'x' WHERE ssn = '1'",
  'INSERT INTO accounts (account_number) SELECT ssn FROM customers',
  'SELECT * FROM sqlite_master',
  'SELECT * FROM no_such_table',
  'SELEC broken',
  'SELECT ssn FROM main.customers',
  'SELECT 1; SELECT ssn FROM customers',
  'ATTACH DATABASE "x.db" AS x',
  'PRAGMA table_info(customers)',
  '',
];

/** Each rule id the decision names appears once in its message, and text follows the last citation. */
function judge(message: string, ruleIds: string[], where: string): void {
  for (const id of ruleIds) {
    const n = message.split(id).length - 1;
    assert.ok(n <= 1, `${where}: rule ${id} printed ${n} times: ${message}`);
  }
  assert.doesNotMatch(message, /\(rule [^)]*\(rule /, `${where}: nested rule citation: ${message}`);
  const last = message.lastIndexOf('(rule ');
  const after = last < 0 ? message : message.slice(message.indexOf(')', last) + 1);
  assert.ok(/[A-Za-z]{3,}.*[A-Za-z]{3,}/.test(after.replace(/^[.;,:\s]+/, '')), `${where}: no "what you can do instead" after the rule citation: ${message}`);
}

test('every denial says what the caller can do instead and names each rule once', async () => {
  const policy = await loadPolicy(RULES);
  const analyze = await loadAnalyzer();
  let judged = 0;
  for (const c of await loadCases(join(RULES, 'tests'))) {
    const o = evaluateCase(policy, c, analyze);
    if (o.decision.action !== 'deny') continue;
    judge(o.decision.message, o.decision.ruleIds, `case ${c.file}:${c.line} ${c.name}`);
    judged++;
  }
  for (const role of ROLES) {
    for (const [name, sql] of [...ATTACKS, ...REFUSED.map((s) => [s, s] as [string, string])]) {
      const o = evaluateCase(policy, { user: 'x@bank.example', groups: [role], tool: 'execute_sql', sql }, analyze);
      if (o.decision.action !== 'deny') continue;
      judge(o.decision.message, o.decision.ruleIds, `${role}: ${name}`);
      judged++;
    }
    for (const method of ['resources/list', 'prompts/get', 'tools/call', 'completion/complete']) {
      const m = policy.methodAllowed(
        policy.rolesFor({ subject: 'x', email: 'x@bank.example', issuer: 'i', groups: [role], roles: [], actorType: 'human', authMethod: 'dev', expiresAt: null, name: null }),
        method,
      );
      if (m.allowed) continue;
      judge(m.message, [m.ruleId], `${role}: ${method}`);
      judged++;
    }
    const tool = evaluateCase(policy, { user: 'x@bank.example', groups: [role], tool: 'drop_everything', args: {} }, analyze);
    judge(tool.decision.message, tool.decision.ruleIds, `${role}: unknown tool`);
    judged++;
  }
  assert.ok(judged > 150, `judged ${judged} denials`);
});

test('a statement refusal offers what the role may run, with the approval it needs', async () => {
  const policy = await loadPolicy(RULES);
  const analyze = await loadAnalyzer();
  const analyst = evaluateCase(policy, { user: 'a@bank.example', groups: ['analyst'], tool: 'execute_sql', sql: 'DELETE FROM transactions WHERE txn_id = 1' }, analyze);
  assert.equal(analyst.decision.action, 'deny');
  assert.match(analyst.decision.message, /may not write demo\.main\.transactions: no table rule grants it \(rule default-deny\)\. You may read it\. You may run SELECT directly\.$/);
  const engineer = evaluateCase(policy, { user: 'e@bank.example', groups: ['engineer'], tool: 'execute_sql', sql: 'BEGIN TRANSACTION' }, analyze);
  assert.equal(engineer.decision.action, 'deny');
  assert.match(
    engineer.decision.message,
    /may not run transaction statements \(start_transaction\): a rule blocks them \(rule block-privileged\)\. You may run SELECT directly; INSERT, UPDATE, DELETE, MERGE and CREATE after 1 approval from approver; TRUNCATE and DROP \/ ALTER \/ CREATE OR REPLACE after 2 approvals from approver\.$/,
  );
});
