import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { runCli } from '../helpers/cli.js';

const root = join(fileURLToPath(import.meta.url), '..', '..', '..');

async function run(args: string[], input?: string) {
  const r = await runCli(['sql', 'analyze', ...args], { cwd: root, input: input ?? '' });
  return { status: r.code, stdout: r.stdout, stderr: r.stderr };
}

test('sql analyze prints a readable summary by default: classes, tables, lineage, clauses; fingerprints read >= and SUM(', async () => {
  const r = await run(['SELECT c.name, SUM(a.balance) AS total FROM `p.d.customers` c JOIN `p.d.accounts` a ON a.customer_id = c.id WHERE a.balance >= 100 GROUP BY c.name']);
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  assert.ok(lines.length < 20, `a screenful, not a dump: ${lines.length} lines`);
  assert.match(
    r.stdout,
    /^fingerprint: SELECT c\.name, SUM\(a\.balance\) AS total FROM `p\.d\.customers` c JOIN `p\.d\.accounts` a ON a\.customer_id = c\.id WHERE a\.balance >= \? GROUP BY c\.name$/m,
  );
  assert.match(r.stdout, /^statement 1: read \(select\)$/m);
  assert.match(r.stdout, /^  reads: +p\.d\.customers, p\.d\.accounts$/m);
  assert.match(r.stdout, /^    total ← computed from p\.d\.accounts\.balance$/m);
  assert.match(r.stdout, /^    where: p\.d\.accounts\.balance$/m);
  assert.doesNotMatch(r.stdout, /> =|SUM \(/);
});

test('sql analyze --json prints the whole analysis for an argument and for stdin, with a catalog', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bqw-cli-'));
  try {
    writeFileSync(join(dir, 'c.yaml'), 'tables:\n  - fq: demo.main.customers\n    columns: [ { name: ssn, type: TEXT }, { name: name, type: TEXT } ]\n');
    const r = await run(['--json', '--dialect', 'sqlite', '--default-project', 'demo', '--default-dataset', 'main', '--catalog', dir, 'SELECT * FROM customers']);
    assert.equal(r.status, 0, r.stderr);
    const a = JSON.parse(r.stdout);
    assert.deepEqual(
      a.statements[0].output.map((o: { name: string }) => o.name),
      ['ssn', 'name'],
    );
    const s = await run(['--json', '--default-project', 'p', '--default-dataset', 'd'], 'DELETE FROM t WHERE TRUE');
    assert.equal(s.status, 0, s.stderr);
    assert.equal(JSON.parse(s.stdout).statements[0].class, 'write');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sql analyze exits non-zero on a parse error and on a bad dialect', async () => {
  const r = await run(['--json', 'SELEC 1']);
  assert.equal(r.status, 1);
  assert.equal(JSON.parse(r.stdout).opaque[0].kind, 'parse_error');
  const h = await run(['SELEC 1']);
  assert.equal(h.status, 1);
  assert.match(h.stdout, /did NOT parse/);
  assert.equal((await run(['--dialect', 'oracle', 'SELECT 1'])).status, 2);
});

test('sql analyze from another folder: --catalog alone is the checkout catalog; an unreadable --file exits 2 with its reason', async () => {
  const away = mkdtempSync(join(tmpdir(), 'bqw-sql-cli-'));
  try {
    const r = await runCli(['sql', 'analyze', '--json', '--dialect', 'sqlite', '--default-project', 'demo', '--default-dataset', 'main', '--catalog'], { cwd: away, input: 'SELECT * FROM customers' });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout).statements[0].output.map((o: { name: string }) => o.name);
    assert.ok(out.includes('ssn'), `the * expanded from the catalog: ${out.join(', ')}`);
    const missing = await runCli(['sql', 'analyze', '--file', join(away, 'nope.sql')], { cwd: away });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot read .*nope\.sql: ENOENT/);
  } finally {
    rmSync(away, { recursive: true, force: true });
  }
});
