// Masking stage cost. Toolbox shape (one JSON text item per row), 8 columns, 3 masked
// (ssn last4, email email_domain, full_name pseudonym; a second run uses pseudonym_fpe for the
// account number instead of the name), detectors on and off, against a baseline of only
// JSON-parsing and re-serialising the same items (what any response-rewriting proxy pays).
// Single-threaded: the per-second figures are per core.
import { applyMasking } from '../src/masking/apply.js';
import { resolveMaskingOptions } from '../src/masking/config.js';
import type { MaskPlan, MaskMethod } from '../src/masking/types.js';
import { UPSTREAM_SHAPES } from '../src/upstreams/result-shapes.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { nth, quantile } from './lib/samples.js';

const opts = resolveMaskingOptions({ pseudonym: { keyId: 'bench', key: 'bench-key-0123456789abcdefghijklmnopqrstuvwxyz' } }, UPSTREAM_SHAPES);
const NAMES = ['customer_id', 'full_name', 'ssn', 'email', 'account_number', 'city', 'balance', 'note'];

function mkPlan(masked: [number, MaskMethod][], detectors: boolean): MaskPlan {
  return {
    columns: masked.map(([i, method]) => {
      const name = nth(NAMES, i);
      return { outputIndex: i, outputName: name, classification: name, method, ruleId: `r.${name}`, sources: [`demo.main.customers.${name}`] };
    }),
    fallback: [{ classification: 'pii', method: 'redact', ruleId: 'r.fallback' }],
    detectors,
    outputColumns: NAMES.map((name, index) => ({ index, name })),
  };
}

function result(rows: number) {
  const content = [];
  for (let i = 0; i < rows; i++) {
    const row = {
      customer_id: i + 1,
      full_name: `Customer Number${i}`,
      ssn: `${String(100 + (i % 700)).padStart(3, '0')}-${String(10 + (i % 89))}-${String(1000 + (i % 8999))}`,
      email: `user${i}@example${i % 7}.com`,
      account_number: 100000000000 + i * 7919,
      city: ['Springfield', 'Shelbyville', 'Ogdenville'][i % 3],
      balance: Math.round(i * 137.31) / 100,
      note: i % 10 === 0 ? `called 415-555-${String(1000 + (i % 8999))} re: card ending 1111` : 'routine review 2024-11-22',
    };
    content.push({ type: 'text', text: JSON.stringify(row) });
  }
  return { content };
}

function time(fn: () => void, iterations: number): number {
  fn(); // warm-up
  const samples: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const t = performance.now();
    fn();
    samples.push(performance.now() - t);
  }
  samples.sort((a, b) => a - b);
  return quantile(samples, 0.5);
}

const baseline = (r: { content: { text: string }[] }) => () => {
  r.content.map((c) => ({ type: 'text', text: JSON.stringify(JSON.parse(c.text)) }));
};

const cases: [string, MaskPlan][] = [
  [
    '3 masked (pseudonym, last4, email_domain), detectors on ',
    mkPlan(
      [
        [1, 'pseudonym'],
        [2, 'last4'],
        [3, 'email_domain'],
      ],
      true,
    ),
  ],
  [
    '3 masked (pseudonym, last4, email_domain), detectors off',
    mkPlan(
      [
        [1, 'pseudonym'],
        [2, 'last4'],
        [3, 'email_domain'],
      ],
      false,
    ),
  ],
  [
    '3 masked (pseudonym_fpe acct, last4, email), detectors on',
    mkPlan(
      [
        [4, 'pseudonym_fpe'],
        [2, 'last4'],
        [3, 'email_domain'],
      ],
      true,
    ),
  ],
];

console.log('masking stage latency (median) vs baseline JSON parse+serialise of the same result');
let headline: { cellsPerSec: number; rows: number; columns: number; masked: number; baselineCellsPerSec: number } | null = null;
for (const rows of [100, 10_000]) {
  const r = result(rows);
  const iterations = rows === 100 ? 200 : 7;
  const base = time(baseline(r), iterations);
  console.log(`\n${rows} rows × 8 columns: baseline ${base.toFixed(2)} ms`);
  for (const [name, plan] of cases) {
    const ms = time(() => applyMasking(r, plan, opts), iterations);
    const cells = rows * 8;
    if (rows === 10_000 && !headline) headline = { cellsPerSec: (cells / ms) * 1000, rows, columns: 8, masked: 3, baselineCellsPerSec: (cells / base) * 1000 };
    console.log(
      `  ${name}: ${ms.toFixed(2)} ms  (${(ms / base).toFixed(1)}× baseline; ` +
        `${Math.round((cells / ms) * 1000).toLocaleString('en-US')} cells/s/core, ` +
        `${Math.round(((rows * 3) / ms) * 1000).toLocaleString('en-US')} masked cells/s/core)`,
    );
  }
}

// For docs/benchmarks.md (bench/index.ts): the first case at 10,000 rows.
if (process.env.BENCH_RESULTS_DIR && headline) writeFileSync(join(process.env.BENCH_RESULTS_DIR, 'masking.json'), JSON.stringify(headline));
