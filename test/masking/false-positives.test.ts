// Measures how often detectors fire on values that are NOT sensitive, and bounds it.
// Bounds are derived from the validators, not tuned to the run (see docs/masking.md):
// - 9-digit ids: SSN and ABA need context for bare 9 digits → 0.
// - 10–19 digit order numbers: only 15/16-digit strings can be a bare card; Luhn passes 1 in 10
//   and the issuer table covers ~2% (15) / ~27% (16) of prefixes → ≈0.3% over 10–19 uniformly.
//   Bound 0.6%. Exactly-16-digit numbers: ≈2.7%, bound 3.5% — inherent: a Luhn-valid 16-digit
//   number with a Visa prefix IS card-shaped; only context or lineage can tell.
// - timestamps (2000–2035, ISO, epoch s/ms/µs), amounts, bare phone-like ids: no rule fires → 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DETECTORS, scanText, scanNumber, type EnabledDetectors } from '../../src/masking/detectors.js';

const all = Object.fromEntries(DETECTORS.map((d) => [d, true])) as EnabledDetectors;
const N = 100_000;

function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function digits(r: () => number, n: number, firstNonZero = true): string {
  let s = String(firstNonZero ? 1 + Math.floor(r() * 9) : Math.floor(r() * 10));
  while (s.length < n) s += Math.floor(r() * 10);
  return s;
}

function rate(gen: (r: () => number) => string, seed: number, asNumber = false): Record<string, number> {
  const r = rng(seed);
  const counts: Record<string, number> = {};
  for (let i = 0; i < N; i++) {
    const v = gen(r);
    const dets = asNumber ? [scanNumber(v, all)].filter(Boolean) : scanText(v, all).map((h) => h.detector);
    for (const d of new Set(dets)) counts[d as string] = (counts[d as string] ?? 0) + 1;
  }
  return Object.fromEntries(Object.entries(counts).map(([k, c]) => [k, c / N]));
}

const report: Record<string, Record<string, number>> = {};
function measure(name: string, gen: (r: () => number) => string, seed: number, asNumber = false) {
  const r = rate(gen, seed, asNumber);
  report[name] = r;
  return r;
}

test('false-positive rates per detector on non-sensitive values', () => {
  const ids9 = measure('9-digit ids (text)', (r) => digits(r, 9), 1);
  const ids9n = measure('9-digit ids (JSON number)', (r) => digits(r, 9), 2, true);
  const orders = measure('10–19 digit order numbers', (r) => digits(r, 10 + Math.floor(r() * 10)), 3);
  const orders16 = measure('16-digit order numbers', (r) => digits(r, 16), 4);
  const orders16n = measure('16-digit order numbers (JSON number)', (r) => digits(r, 16), 5, true);
  const ts = measure(
    'timestamps',
    (r) => {
      // 2000–2035: epoch microseconds from 2040 on (2.22e15…) fall in the 2221–2720 Mastercard range.
      const t = 946684800000 + Math.floor(r() * 1.1e12);
      const k = Math.floor(r() * 4);
      return k === 0 ? new Date(t).toISOString() : k === 1 ? String(t) : k === 2 ? String(Math.floor(t / 1000)) : String(t * 1000);
    },
    6,
  );
  const amounts = measure(
    'amounts',
    (r) => {
      const v = (r() * 1e7 - 1e6).toFixed(2);
      return r() < 0.5 ? v : Number(v).toLocaleString('en-US', { minimumFractionDigits: 2 });
    },
    7,
  );
  const phoneIds = measure('phone-like ids (bare 10/11 digits)', (r) => (r() < 0.5 ? digits(r, 10) : '1' + digits(r, 10)), 8);
  console.log('false-positive rates (fraction of 100k values):');
  for (const [k, v] of Object.entries(report)) console.log(`  ${k.padEnd(40)} ${JSON.stringify(v)}`);

  for (const r of [ids9, ids9n, ts, amounts, phoneIds]) assert.deepEqual(r, {});
  assert.ok((orders.card ?? 0) <= 0.006, `card FP on 10–19 digit numbers ${orders.card}`);
  assert.ok((orders16.card ?? 0) <= 0.035, `card FP on 16-digit numbers ${orders16.card}`);
  assert.ok((orders16n.card ?? 0) <= 0.035, `card FP on 16-digit JSON numbers ${orders16n.card}`);
  assert.deepEqual(
    Object.keys(orders).filter((k) => k !== 'card'),
    [],
  );
});
