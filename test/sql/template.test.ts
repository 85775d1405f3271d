// The template cache reuses one analysis for queries that differ only in literals. That is only
// sound if the reused analysis equals what analysing the new text would give: checked here on
// thousands of generated SQLite queries, the hand-written cases and (when present) the shared
// BigQuery corpora, each with its literals replaced by others of different length and value.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { analyze } from '../../src/sql/analyze.js';
import { createAnalysisCache } from '../../src/sql/cache.js';
import { rebase, sqlTemplate } from '../../src/sql/template.js';
import { tokenize } from '../../src/sql/lexer.js';
import type { Analysis, AnalyzeOptions, Dialect } from '../../src/sql/types.js';
import { QUERY, generate } from '../noninterference/grammar.js';
import { cases } from './cases.js';
import { bqCatalog, sqliteCatalog } from './helpers.js';
import { first } from '../helpers/present.js';

function optsFor(dialect: Dialect): AnalyzeOptions {
  return dialect === 'sqlite' ? { dialect, defaultProject: 'demo', defaultDataset: 'main', catalog: sqliteCatalog } : { dialect, defaultProject: 'p', defaultDataset: 'd', catalog: bqCatalog };
}

/** The same SQL with every literal the template takes out replaced by another value. */
function otherLiterals(sql: string, dialect: Dialect, rnd: () => number): string {
  const tpl = sqlTemplate(sql, dialect);
  if (!tpl) return sql;
  const parts = tpl.key.split('\u0000');
  let out = '';
  let i = 0;
  for (const t of tokenize(sql, dialect)) {
    if (t.kind === 'space' || t.kind === 'comment') {
      out += t.text;
      continue;
    }
    const placeholder = parts[i++]?.startsWith('\u0001');
    if (!placeholder) out += t.text;
    else if (t.kind === 'number') out += String(Math.floor(rnd() * 100000) / (rnd() < 0.3 ? 100 : 1));
    else if (t.kind === 'string' && !/^[rRbB]*('''|""")/.test(t.text)) {
      const q = t.text.match(/^[rRbB]*(['"])/)![1]!;
      const prefix = t.text.slice(0, t.text.indexOf(q));
      out += `${prefix}${q}${'zq'.repeat(Math.floor(rnd() * 6))}${q}`;
    } else out += t.text;
  }
  return out;
}

/** An analysis as policy reads it; opaque details are prose and may quote the other text. */
function comparable(a: Analysis): unknown {
  return { ...a, opaque: a.opaque.map((f) => [f.kind, f.statement]), statements: a.statements.map((s) => ({ ...s, opaque: s.opaque.map((f) => [f.kind, f.statement]) })) };
}

function check(sqls: string[], dialect: Dialect, label: string, seed = 7): void {
  const opts = optsFor(dialect);
  let rnd = seed;
  const next = () => (rnd = (rnd * 1103515245 + 12345) % 2147483648) / 2147483648;
  let rebased = 0;
  let differentText = 0;
  for (const sql of sqls) {
    const variant = otherLiterals(sql, dialect, next);
    if (variant === sql) continue;
    differentText++;
    const [from, to] = [sqlTemplate(sql, dialect), sqlTemplate(variant, dialect)];
    assert.ok(from && to && from.key === to.key, `same template: ${sql} / ${variant}`);
    const base = analyze(sql, opts);
    const r = base.ok ? rebase(base, from, to, variant) : null;
    if (!r) continue;
    rebased++;
    assert.deepEqual(comparable(r), comparable(analyze(variant, opts)), `reused analysis differs from a fresh one:\n  cached: ${sql}\n  new:    ${variant}`);
  }
  console.log(`# template reuse (${label}): ${rebased} of ${differentText} queries with other literals reused an analysis, each equal to a fresh one`);
  assert.ok(rebased >= differentText * 0.5, `only ${rebased} of ${differentText} could reuse an analysis`);
}

test('generated SQLite queries: a reused analysis equals a fresh one for other literals', () => {
  check(generate(QUERY, 1500, 99), 'sqlite', 'generated sqlite');
});

test('hand-written analyzer cases: a reused analysis equals a fresh one for other literals', () => {
  for (const d of ['sqlite', 'bigquery'] as const)
    check(
      cases.filter((k) => (k.d ?? 'bigquery') === d && !k.nocat).map((k) => k.sql),
      d,
      `cases ${d}`,
    );
});

test('literals that shape the analysis stay in the template', () => {
  const key = (s: string, d: Dialect = 'sqlite') => sqlTemplate(s, d)?.key;
  // ORDER BY / GROUP BY ordinals name columns.
  assert.notEqual(key('SELECT a, ssn FROM t ORDER BY 1'), key('SELECT a, ssn FROM t ORDER BY 2'));
  assert.notEqual(key('SELECT a, ssn FROM t GROUP BY 2, 1'), key('SELECT a, ssn FROM t GROUP BY 1, 2'));
  assert.equal(key('SELECT a FROM t WHERE b = 1 LIMIT 5'), key('SELECT a FROM t WHERE b = 22 LIMIT 7'));
  // SQLite "x" may be a column.
  assert.notEqual(key('SELECT "ssn" FROM t'), key('SELECT "city" FROM t'));
  assert.equal(key('SELECT "ssn" FROM t', 'bigquery'), key('SELECT "city" FROM t', 'bigquery'));
  // PIVOT values and EXTERNAL_QUERY connections: no template.
  assert.equal(key("SELECT * FROM t PIVOT (sum(x) FOR y IN ('a', 'b'))", 'bigquery'), undefined);
  assert.equal(key("SELECT * FROM EXTERNAL_QUERY('conn', 'SELECT 1')", 'bigquery'), undefined);
});

test('names SQLite invents from an expression text are never reused for other literals', () => {
  const a = analyze("SELECT * FROM (SELECT 'x', 'x' FROM t)", optsFor('sqlite'));
  assert.equal(a.templateSafe, false);
  const cache = createAnalysisCache();
  const o = optsFor('sqlite');
  cache.get("SELECT * FROM (SELECT 'x', 'x')", o);
  const b = cache.get("SELECT * FROM (SELECT 'x', 'y')", o);
  assert.deepEqual(
    first(b.statements, 'analysed statement').output?.map((c) => c.name),
    ["'x'", "'y'"],
  );
});

test('the cache answers by text, then by template, and parses only what is new', () => {
  const cache = createAnalysisCache();
  const o = optsFor('sqlite');
  cache.get("SELECT ssn FROM customers WHERE customer_id = 1 AND name = 'a'", o);
  cache.get("SELECT ssn FROM customers WHERE customer_id = 1 AND name = 'a'", o);
  const b = cache.get("SELECT ssn FROM customers WHERE customer_id = 42 AND name = 'bbbb'", o);
  assert.deepEqual(cache.stats, { text: 1, template: 1, parsed: 1 });
  assert.equal(b.sql, "SELECT ssn FROM customers WHERE customer_id = 42 AND name = 'bbbb'");
  assert.equal(first(b.statements, 'analysed statement').text, b.sql);
});

const corpus = join(fileURLToPath(import.meta.url), '..', '..', '..', '..', 'shared', 'corpus', 'bigquery');
test('BigQuery corpora: a reused analysis equals a fresh one for other literals', { skip: existsSync(corpus) ? false : `corpus not found at ${corpus} (../shared absent)` }, () => {
  for (const folder of ['spider2', 'sqlfluff']) {
    const dir = join(corpus, folder);
    check(
      readdirSync(dir)
        .filter((f) => f.endsWith('.sql'))
        .map((f) => readFileSync(join(dir, f), 'utf8')),
      'bigquery',
      `corpus ${folder}`,
    );
  }
});
