// The detectors' pass over values no column mask covers: content detectors (SSN, card, IBAN …)
// replace what they find with a token or a [REDACTED:…] marker, counted per detector for the
// report. One pass per result: a value repeated down a column is scanned once.
import type { MaskingOptions } from './config.js';
import type { MaskReport } from './types.js';
import { DETECTORS, hintsFromKey, replaceHits, scanNumber, scanText, type DetectorName } from './detectors.js';
import { RawNumber, type Json } from './json.js';
import { pseudonymToken, setOwn } from './methods.js';

export class DetectorPass {
  /** False when the plan turns detectors off or every detector is disabled. */
  readonly on: boolean;
  private readonly hits = new Map<DetectorName, number>();
  private readonly seen = new Map<string, { out: string; hits: DetectorName[] }>();

  constructor(
    private readonly opts: MaskingOptions,
    planDetectors: boolean,
  ) {
    this.on = planDetectors && DETECTORS.some((d) => opts.detectors[d]);
  }

  value(v: Json, keyHint: string | null): Json {
    if (v === null || typeof v === 'boolean') return v;
    if (typeof v === 'string') return this.string(v, keyHint);
    if (typeof v === 'number' || v instanceof RawNumber) {
      if (!this.on) return v;
      const raw = v instanceof RawNumber ? v.raw : Number.isInteger(v) && Math.abs(v) >= 1e8 ? String(v) : null;
      if (raw === null) return v;
      const d = scanNumber(raw, this.opts.detectors, hintsFromKey(keyHint));
      if (!d) return v;
      this.count(d);
      return this.replacement(d, raw);
    }
    if (Array.isArray(v)) return v.map((x) => this.value(x, keyHint));
    const out: { [k: string]: Json } = {};
    for (const [k, x] of Object.entries(v)) setOwn(out, this.key(k), this.value(x, k));
    return out;
  }

  string(s: string, keyHint: string | null): string {
    if (!this.on) return s;
    // Values repeat down a column (statuses, merchants, dates): scan each distinct one once.
    // The column name is length-prefixed: names and values both come from the query and may
    // hold any separator, and a key that merely joined them would let one pair's verdict (and
    // output) stand for another's (test/masking/detect-pass.test.ts).
    const memoKey = keyHint === null ? `-${s}` : `${keyHint.length}:${keyHint}${s}`;
    const seen = this.seen.get(memoKey);
    if (seen) {
      for (const d of seen.hits) this.count(d);
      return seen.out;
    }
    const hits = scanText(s, this.opts.detectors, hintsFromKey(keyHint));
    const out = hits.length === 0 ? s : replaceHits(s, hits, (h, m) => this.replacement(h.detector, m));
    for (const h of hits) this.count(h.detector);
    if (s.length <= 256 && this.seen.size < 50_000) this.seen.set(memoKey, { out, hits: hits.map((h) => h.detector) });
    return out;
  }

  /** Object keys can be data too (JSON built from values): scanned like text. */
  key(k: string): string {
    return this.string(k, null);
  }

  report(): MaskReport['detectorHits'] {
    return DETECTORS.filter((d) => this.hits.has(d)).map((d) => ({ detector: d, count: this.hits.get(d)! }));
  }

  private replacement(d: DetectorName, matched: string): string {
    return this.opts.detectorAction === 'pseudonym' ? pseudonymToken(this.opts.key, matched) : `[REDACTED:${d}]`;
  }

  private count(d: DetectorName): void {
    this.hits.set(d, (this.hits.get(d) ?? 0) + 1);
  }
}
