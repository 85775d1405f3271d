// The lexer feeds redaction (what reaches the audit log), fingerprints and the template cache,
// so its speed rewrite must not change a single token: checked against the character-by-character
// reference it replaced, on the analyzer cases, generated queries, random text built from the
// characters the lexer branches on, and (when present) the shared BigQuery corpora.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tokenize } from '../../src/sql/lexer.js';
import { sqlTemplate } from '../../src/sql/template.js';
import { fingerprint } from '../../src/sql/fingerprint.js';
import type { Dialect } from '../../src/sql/types.js';
import { tokenize as referenceTokenize } from './lexer-reference.js';
import { QUERY, generate } from '../noninterference/grammar.js';
import { cases } from './cases.js';

const DIALECTS: Dialect[] = ['sqlite', 'bigquery', 'postgresql'];

function same(sql: string): void {
  for (const d of DIALECTS) assert.deepEqual(tokenize(sql, d), referenceTokenize(sql, d), `${d}: ${JSON.stringify(sql.slice(0, 200))}`);
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
}

test('the lexer gives the reference tokens on analyzer cases and generated queries', () => {
  for (const c of cases) same(c.sql);
  for (const sql of generate(QUERY, 500, 7)) same(sql);
});

test('the lexer gives the reference tokens on random text over the characters it branches on', () => {
  const alphabet = [...'abcxXrRbBeE_$09.5 \t\n\u00a0\u2028\'"`[]()-#/*@:?,;=<>!|+\\é😀\u0000'];
  const rnd = rng(11);
  let checked = 0;
  for (let i = 0; i < 20_000; i++) {
    let s = '';
    const n = 1 + Math.floor(rnd() * 24);
    for (let j = 0; j < n; j++) s += alphabet[Math.floor(rnd() * alphabet.length)];
    same(s);
    checked++;
  }
  assert.equal(checked, 20_000);
});

test('spacing inside an operator splits the template, as it splits the fingerprint', () => {
  const a = 'SELECT a FROM t WHERE a >= 1';
  const b = 'SELECT a FROM t WHERE a > = 1';
  assert.notEqual(fingerprint(a, 'sqlite'), fingerprint(b, 'sqlite'));
  assert.notEqual(sqlTemplate(a, 'sqlite')?.key, sqlTemplate(b, 'sqlite')?.key);
  assert.equal(sqlTemplate(a, 'sqlite')?.key, sqlTemplate('SELECT a FROM t WHERE a >= 22', 'sqlite')?.key);
});

const corpus = fileURLToPath(new URL('../../../shared/corpus/bigquery', import.meta.url));
test('the lexer gives the reference tokens on the BigQuery corpora', { skip: existsSync(corpus) ? false : `corpus not found at ${corpus} (../shared absent)` }, () => {
  let files = 0;
  for (const dir of readdirSync(corpus)) {
    const d = join(corpus, dir);
    if (!existsSync(d) || !readdirSync(d).length) continue;
    for (const f of readdirSync(d).filter((x) => x.endsWith('.sql'))) {
      same(readFileSync(join(d, f), 'utf8'));
      files++;
    }
  }
  assert.ok(files > 100, `corpus files read: ${files}`);
});

test('attack: an ordinal followed by pipe syntax stays in the template (ORDER BY 1 and ORDER BY 2 are different analyses)', () => {
  const a = 'SELECT a, ssn FROM p.d.t ORDER BY 1 |> LIMIT 5';
  const b = 'SELECT a, ssn FROM p.d.t ORDER BY 2 |> LIMIT 5';
  assert.notEqual(sqlTemplate(a, 'bigquery')?.key, sqlTemplate(b, 'bigquery')?.key);
  assert.notEqual(sqlTemplate('SELECT a, b FROM t ORDER BY a, -1', 'sqlite')?.key, sqlTemplate('SELECT a, b FROM t ORDER BY a, -2', 'sqlite')?.key);
  // A literal elsewhere is still a placeholder: the cache keeps serving new literals.
  assert.equal(sqlTemplate('SELECT a FROM t WHERE a = 1', 'sqlite')?.key, sqlTemplate('SELECT a FROM t WHERE a = 2', 'sqlite')?.key);
});
