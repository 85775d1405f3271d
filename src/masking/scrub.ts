// Detector pass for results that are not tool results (resources/read, prompts/get,
// completion/complete, tools/list …): no columns to map, so every string value is scanned
// and matches are redacted in place. Structure and non-matching values are left as they are.
import type { MaskReport } from './types.js';
import type { MaskingOptions } from './config.js';
import { replaceHits, scanText, type DetectorName } from './detectors.js';

const MAX_DEPTH = 32;

export function scrubResult(result: Record<string, unknown>, opts: MaskingOptions): { result: Record<string, unknown>; report: MaskReport } {
  const hits = new Map<DetectorName, number>();
  const walk = (v: unknown, depth: number): unknown => {
    // Deeper than any real MCP result: refuse rather than pass something unscanned.
    if (depth > MAX_DEPTH) throw new Error('result nested too deeply to scan');
    if (typeof v === 'string') {
      const found = scanText(v, opts.detectors);
      if (found.length === 0) return v;
      for (const h of found) hits.set(h.detector, (hits.get(h.detector) ?? 0) + 1);
      return replaceHits(v, found, (h) => `[REDACTED:${h.detector}]`);
    }
    if (Array.isArray(v)) return v.map((x) => walk(x, depth + 1));
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, depth + 1)]));
    return v;
  };
  const out = walk(result, 0) as Record<string, unknown>;
  return {
    result: out,
    report: { maskedColumns: [], detectorHits: [...hits].map(([detector, count]) => ({ detector, count })), rows: null, notes: [] },
  };
}
