// What a masking pass tells the caller and the audit event: per output column the method applied
// and the rule behind it (columns sharing a name report the strictest among them), the columns
// the fallback covered, detector hits, rows seen and notes.
import type { ColumnMask, MaskMethod, MaskPlan, MaskReport } from './types.js';
import { strictest } from './methods.js';

export interface PassState {
  plan: MaskPlan;
  byName: Map<string, ColumnMask[]>;
  fallback: { method: MaskMethod; classification: string; ruleId: string } | null;
  fallbackColumns: Iterable<string>;
  detectorHits: MaskReport['detectorHits'];
  rows: number | null;
  notes: Iterable<string>;
}

export function maskReport(s: PassState): MaskReport {
  const maskedColumns: MaskReport['maskedColumns'] = [];
  const seen = new Set<number>();
  for (const c of s.plan.columns) {
    if (seen.has(c.outputIndex)) continue;
    seen.add(c.outputIndex);
    const applied = strictest((s.byName.get(c.outputName.toLowerCase()) ?? [c]).map((m) => m.method)) ?? c.method;
    maskedColumns.push({ column: c.outputName, source: c.sources.length ? c.sources.join(',') : null, classification: c.classification, method: applied, rule_id: c.ruleId });
  }
  if (s.fallback) {
    for (const col of s.fallbackColumns) maskedColumns.push({ column: col, source: null, classification: s.fallback.classification, method: s.fallback.method, rule_id: s.fallback.ruleId });
  }
  return { maskedColumns, detectorHits: s.detectorHits, rows: s.rows, notes: [...s.notes] };
}
