// Runs every case in rules/tests/*.yaml as its own node:test case, through the real SQL
// analyzer, exactly as `bqwarden policy test` does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadPolicy } from '../../src/policy/engine.js';
import { checkCase, evaluateCase, loadAnalyzer, loadCases, type PolicyCase } from '../../src/policy/cases.js';

const RULES = join(import.meta.dirname, '..', '..', 'rules');
const policy = await loadPolicy(RULES);
const cases = await loadCases(join(RULES, 'tests'));
const analyze = await loadAnalyzer();
const needsAnalyzer = (c: PolicyCase) => !c.method && !c.capability && (c.sql !== undefined || policy.toolShape(c.tool)?.kind === 'sql');

test(`rules/tests holds at least 80 cases covering every demo role (${cases.length})`, () => {
  assert.ok(cases.length >= 80);
  for (const role of ['analyst', 'pii-reader', 'engineer', 'approver', 'examiner', 'ci'])
    assert.ok(
      cases.some((c) => c.groups.includes(role)),
      role,
    );
  for (const action of ['allow', 'mask', 'deny', 'approval_required'])
    assert.ok(
      cases.some((c) => c.expect.action === action),
      action,
    );
});

for (const c of cases) {
  const skip = needsAnalyzer(c) && !analyze ? 'the SQL analyzer (src/sql/analyze.ts) is not available yet' : false;
  test(`${c.file}:${c.line} ${c.name}`, { skip }, () => {
    const out = evaluateCase(policy, c, analyze);
    const fails = checkCase(c, out);
    assert.deepEqual(fails, [], `${fails.join('\n')}\ndecision: ${JSON.stringify(out.decision)}`);
  });
}

test('a case with a wrong expectation is reported (the runner can fail)', () => {
  const c: PolicyCase = { name: 'x', user: 'u@b', groups: ['analyst'], tool: 'list_tables', args: {}, file: 'x', line: 1, expect: { action: 'deny', rules: ['nope'], masked: { a: 'last4' } } };
  const fails = checkCase(c, evaluateCase(policy, c, analyze));
  assert.equal(fails.length, 3, fails.join('\n'));
});
