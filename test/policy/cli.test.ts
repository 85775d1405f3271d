// The CLI as an operator runs it: check, explain, test (exit codes and output).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdtempSync, writeFileSync, rmSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { runCli } from '../helpers/cli.js';

const ROOT = join(import.meta.dirname, '..', '..');
const RULES = join(ROOT, 'rules');

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return runCli(['policy', ...args], { cwd: ROOT });
}

test('policy check prints the version; the same files print the same version', async () => {
  const a = await cli('check', '--dir', RULES);
  assert.equal(a.code, 0, a.stderr);
  const v = /version:\s+([0-9a-f]{64})/.exec(a.stdout)?.[1];
  assert.ok(v, a.stdout);
  const b = await cli('check', '--dir', RULES);
  assert.ok(b.stdout.includes(v));
});

test('policy check exits non-zero with file:line and a hint on a broken policy', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bqw-cli-'));
  try {
    cpSync(join(RULES, 'roles.yaml'), join(dir, 'roles.yaml'));
    writeFileSync(join(dir, 'bad.yaml'), 'tools:\n  - id: t\n    roles: [analsyt]\n    tools: [execute_sql]\n    effect: allow\n');
    const r = await cli('check', '--dir', dir);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /bad\.yaml:3/);
    assert.match(r.stderr, /did you mean analyst/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('policy explain shows roles, rules with locations, masked columns', async () => {
  const r = await cli('explain', '--dir', RULES, '--user', 'alice@bank.example', '--groups', 'analyst', '--sql', 'SELECT ssn, email FROM customers');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /roles:\s+analyst/);
  assert.match(r.stdout, /decision:\s+MASK/);
  assert.match(r.stdout, /mask-pii-analyst\s+\(data\.yaml:\d+\)/);
  assert.match(r.stdout, /ssn: last4/);
  // The rewritten SQL is what explain shows: the engine masks ssn before WHERE sees it.
  assert.match(r.stdout, /executed SQL \(what the gateway forwards\):\n\s+WITH "customers" AS \(SELECT .*'XXXXX' \|\| substr\(CAST\("ssn" AS TEXT\), -4\)/);
  const d = await cli('explain', '--dir', RULES, '--groups', 'analyst', '--sql', "SELECT 1 FROM customers WHERE ssn = '1'", '--json');
  const j = JSON.parse(d.stdout);
  assert.equal(j.decision.action, 'mask');
  assert.match(j.decision.engine.sql, /^WITH "customers" AS \(SELECT /);
  assert.deepEqual(
    j.decision.engine.columns.filter((c: { column: string }) => c.column === 'ssn').map((c: { method: string; form: string }) => [c.method, c.form]),
    [['last4', 'expr']],
  );
  const q = await cli('explain', '--dir', RULES, '--groups', 'analyst', '--sql', 'SELECT ssn FROM main.customers', '--json');
  assert.deepEqual(JSON.parse(q.stdout).decision.ruleIds, ['mask-rewrite']);
});

test('policy test runs rules/tests and fails on a wrong case', async () => {
  const ok = await cli('test', '--dir', RULES);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.match(ok.stdout, /(\d+)\/\1 policy cases passed/);
  const dir = mkdtempSync(join(tmpdir(), 'bqw-cli-'));
  try {
    writeFileSync(join(dir, 'x.yaml'), 'cases:\n  - name: wrong\n    groups: [analyst]\n    sql: SELECT ssn FROM customers\n    expect: { action: allow }\n');
    const bad = await cli('test', '--dir', RULES, '--cases', dir);
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, /FAIL x\.yaml:2 wrong/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('policy explain reads the SQL as its upstream does, or as --dialect says; --upstream picks the upstream', async () => {
  const sql = 'SELECT name FROM `acme-prod.core.customers`';
  const asBigQuery = await cli('explain', '--dir', RULES, '--groups', 'analyst', '--dialect', 'bigquery', '--sql', sql);
  assert.equal(asBigQuery.code, 0, asBigQuery.stderr);
  assert.match(asBigQuery.stdout, /^dialect:\s+bigquery \(upstream demo-sqlite\)$/m);
  assert.match(asBigQuery.stdout, /^tables:\s+acme-prod\.core\.customers$/m, 'a backticked BigQuery name stays itself');
  assert.doesNotMatch(asBigQuery.stdout, /demo\.main\.acme-prod/);
  const j = JSON.parse((await cli('explain', '--dir', RULES, '--groups', 'analyst', '--upstream', 'demo-sqlite', '--sql', 'SELECT 1', '--json')).stdout);
  assert.equal(j.dialect, 'sqlite');
  assert.equal(j.upstream, 'demo-sqlite');
  const bad = await cli('explain', '--dir', RULES, '--groups', 'analyst', '--upstream', 'nope', '--sql', 'SELECT 1');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /no upstream nope in the policy; upstreams: demo-sqlite/);
  assert.equal((await cli('explain', '--dir', RULES, '--dialect', 'oracle', '--sql', 'SELECT 1')).code, 2);
});

test('policy explain resolves names in the project a managed-endpoint call names (--args projectId)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bqw-cli-managed-'));
  try {
    cpSync(join(RULES, 'examples', 'bigquery-bank.yaml'), join(dir, 'bank.yaml'));
    cpSync(join(RULES, 'examples', 'bigquery-managed.yaml'), join(dir, 'managed.yaml'));
    const explain = (args: object) =>
      cli('explain', '--dir', dir, '--user', 'u@acme-bank.com', '--groups', 'gcp-fraud-analysts@acme-bank.com', '--tool', 'execute_sql_readonly', '--args', JSON.stringify(args), '--json');
    const home = JSON.parse((await explain({ query: 'SELECT 1 FROM core_banking.accounts' })).stdout);
    assert.equal(home.decision.action, 'allow', JSON.stringify(home.decision));
    const away = JSON.parse((await explain({ projectId: 'acme-bank-dev', query: 'SELECT 1 FROM core_banking.accounts' })).stdout);
    assert.equal(away.decision.action, 'deny');
    assert.match(away.decision.message, /acme-bank-dev\.core_banking\.accounts/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
