// SQL analysis benchmark: parser choice (parse rate of sql-parser-cst vs node-sql-parser on the
// shared corpora), analyses per second over Spider2 cold and cached, p50/p99 per query, all as
// ratios to bare parse time measured in the same run. Run: node --import tsx bench/sql.bench.ts
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'sql-parser-cst';
import nodeSqlParser from 'node-sql-parser';
import { analyze } from '../src/sql/analyze.js';
import { createAnalysisCache } from '../src/sql/cache.js';
import { parserOptions } from '../src/sql/parse.js';
import { quantile } from './lib/samples.js';

const corpus = join(fileURLToPath(import.meta.url), '..', '..', '..', 'shared', 'corpus', 'bigquery');
if (!existsSync(corpus)) {
  console.log(`sql bench: corpus not found at ${corpus}; skipped`);
  process.exit(0);
}
const load = (folder: string) =>
  readdirSync(join(corpus, folder))
    .filter((f) => f.endsWith('.sql'))
    .sort()
    .map((f) => readFileSync(join(corpus, folder, f), 'utf8'));
const folders = { spider2: load('spider2'), sqlfluff: load('sqlfluff') };

// 1. Parser choice.
const nsp = new nodeSqlParser.Parser();
console.log('parser coverage (files parsed)');
for (const [name, files] of Object.entries(folders)) {
  let cst = 0;
  let node = 0;
  for (const sql of files) {
    try {
      parse(sql, parserOptions('bigquery'));
      cst++;
    } catch {}
    try {
      nsp.astify(sql, { database: 'bigquery' });
      node++;
    } catch {}
  }
  console.log(`  ${name.padEnd(9)} sql-parser-cst ${cst}/${files.length}   node-sql-parser ${node}/${files.length}`);
}

// 2. Throughput over Spider2 (single core: this process).
const queries = folders.spider2;
const opts = { dialect: 'bigquery' as const, defaultProject: 'proj', defaultDataset: 'ds' };
function timeEach(fn: (sql: string) => unknown, rounds: number): number[] {
  const t: number[] = [];
  for (let r = 0; r < rounds; r++)
    for (const sql of queries) {
      const s = process.hrtime.bigint();
      fn(sql);
      t.push(Number(process.hrtime.bigint() - s) / 1e6);
    }
  return t;
}
const pct = (xs: number[], p: number) =>
  quantile(
    [...xs].sort((a, b) => a - b),
    p / 100,
  );
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
timeEach((s) => analyze(s, opts), 1); // warm-up (JIT)
const rounds = 5;
const parseT = timeEach((s) => parse(s, parserOptions('bigquery')), rounds);
const coldT = timeEach((s) => analyze(s, opts), rounds);
const cache = createAnalysisCache(1000);
for (const s of queries) cache.get(s, opts);
const cachedT = timeEach((s) => cache.get(s, opts), rounds);
const row = (name: string, t: number[]) =>
  console.log(
    `  ${name.padEnd(16)} ${(t.length / (sum(t) / 1000)).toFixed(0).padStart(8)}/s   p50 ${pct(t, 50).toFixed(3)} ms   p99 ${pct(t, 99).toFixed(3)} ms   ×parse ${(sum(t) / sum(parseT)).toFixed(2)}`,
  );
console.log(`throughput over ${queries.length} Spider2 queries × ${rounds} rounds (one core)`);
row('parse only', parseT);
row('analyze (cold)', coldT);
row('analyze (cached)', cachedT);
