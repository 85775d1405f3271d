import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyze, createStaticCatalog, loadStaticCatalog, tablesOf, analyzeCached } from '../../src/sql/index.js';
import { at, first } from '../helpers/present.js';

test('loadStaticCatalog reads YAML and analyze expands views from it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bqw-cat-'));
  try {
    writeFileSync(
      join(dir, 'bank.yaml'),
      `tables:
  - fq: demo.main.customers
    columns:
      - { name: SSN, type: STRING, policy_tags: [pii_ssn] }
      - { name: address, type: STRUCT, fields: [ { name: city, type: STRING } ] }
  - fq: demo.main.v
    columns: [ { name: s, type: STRING } ]
    view_sql: SELECT ssn AS s FROM customers
`,
    );
    const tables = loadStaticCatalog(dir);
    const table = first(tables, 'catalog table');
    const ssn = at(table.columns, 0, 'catalog column');
    assert.equal(ssn.name, 'ssn');
    assert.deepEqual(ssn.policyTags, ['pii_ssn']);
    assert.equal(at(table.columns, 1, 'catalog column').fields?.[0]?.name, 'city');
    const a = analyze('SELECT s FROM v', { dialect: 'sqlite', defaultProject: 'demo', defaultDataset: 'main', catalog: createStaticCatalog(tables) });
    const statement = first(a.statements, 'analysed statement');
    const src = first(statement.output!, 'output column')
      .sources.map((s) => `${s.table}.${s.column}`)
      .sort();
    assert.deepEqual(src, ['demo.main.customers.ssn', 'demo.main.v.s']);
    assert.ok(statement.tablesRead.find((t) => t.fq === 'demo.main.v')?.view);
    writeFileSync(join(dir, 'bad.yaml'), 'tables:\n  - fq: notqualified\n');
    assert.throws(() => loadStaticCatalog(dir), /bad\.yaml.*fq/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a self-referencing view fails closed instead of looping', () => {
  const cat = createStaticCatalog([{ fq: 'p.d.v', columns: [{ name: 'a', type: 'INT64' }], viewSql: 'SELECT a FROM p.d.v' }]);
  const a = analyze('SELECT a FROM v', { dialect: 'bigquery', defaultProject: 'p', defaultDataset: 'd', catalog: cat });
  assert.ok(a.opaque.some((f) => f.kind === 'unsupported'));
});

test('missing defaults: unqualified names are flagged unknown_table with "?" parts', () => {
  const a = analyze('SELECT ssn FROM customers', { dialect: 'bigquery' });
  const t = first(first(a.statements, 'analysed statement').tablesRead, 'table read');
  assert.equal(t.fq, '?.?.customers');
  assert.equal(t.project, null);
  assert.ok(a.opaque.some((f) => f.kind === 'unknown_table'));
  const b = analyze('SELECT ssn FROM p.d.customers', { dialect: 'bigquery' });
  assert.deepEqual(b.opaque, []);
});

test('tablesOf lists read and written tables, not CTEs', () => {
  const t = tablesOf('WITH x AS (SELECT * FROM a) INSERT INTO b SELECT * FROM x', { dialect: 'bigquery', defaultProject: 'p', defaultDataset: 'd' });
  assert.deepEqual(t.map((x) => x.fq).sort(), ['p.d.a', 'p.d.b']);
});

test('analyzeCached returns the same analysis for the same text and options', () => {
  const o = { dialect: 'bigquery' as const, defaultProject: 'p', defaultDataset: 'd' };
  assert.equal(analyzeCached('SELECT 1', o), analyzeCached('SELECT 1', o));
  assert.notEqual(analyzeCached('SELECT 1', o), analyzeCached('SELECT 1', { ...o, defaultDataset: 'e' }));
});
