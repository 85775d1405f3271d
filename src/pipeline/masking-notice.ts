// Tells the caller (usually a model) which values it received masked, so it does not report a
// masked value as a fact: `_meta["bqwarden/masking"]` for programs, one short text line for the
// model. Only added when something was masked.
import type { MaskMethod, MaskPlan, MaskReport } from '../masking/types.js';

const SAYS: Record<MaskMethod, string> = {
  redact: 'hidden (XXXXX)',
  nullify: 'always NULL',
  last4: 'last four characters only',
  first4: 'first four characters only',
  email_domain: 'e-mail domain only',
  year_only: 'year only',
  sha256: 'SHA-256 hash',
  pseudonym: 'keyed token: equal values give equal tokens',
  pseudonym_fpe: 'format-preserving pseudonym, not the real value',
};

const MASKING_META_KEY = 'bqwarden/masking';

export function maskingNotice(result: Record<string, unknown>, plan: MaskPlan, report: MaskReport): Record<string, unknown> {
  const columns: Record<string, string> = {};
  for (const m of report.maskedColumns) columns[m.column] = m.method;
  const derived: Record<string, string[]> = {};
  for (const d of plan.derived ?? []) derived[d.outputName] = [...new Set(d.from.map((f) => `${f.source.split('.').pop()}: ${f.method}`))];
  const detectors = report.detectorHits.filter((h) => h.count > 0).map((h) => h.detector);
  if (Object.keys(columns).length === 0 && Object.keys(derived).length === 0 && detectors.length === 0) return result;

  const parts = Object.entries(columns).map(([c, m]) => `${c}: ${SAYS[m as MaskMethod] ?? m}`);
  for (const [c, from] of Object.entries(derived)) parts.push(`${c}: computed from masked ${from.map((f) => f.split(':')[0]).join(', ')}`);
  if (detectors.length) parts.push(`values that looked like ${detectors.join(', ')} were redacted`);
  const line =
    `bqwarden: masked by policy — ${parts.join('; ')}. ` +
    (Object.keys(derived).length || plan.columns.some((c) => c.engine) ? 'Masking happens in the database before the query runs, so filters, joins and aggregates also see the masked values. ' : '') +
    'Do not report masked values as real data.';
  const meta = { ...((result._meta as Record<string, unknown> | undefined) ?? {}), [MASKING_META_KEY]: { columns, derived, detectors } };
  const content = Array.isArray(result.content) ? [...result.content, { type: 'text', text: line }] : result.content;
  return { ...result, content, _meta: meta };
}

const STORED_COPY_META_KEY = 'bqwarden/stored_copy';

/**
 * Labels the audit copy of a result: it is masked for storage whatever the caller was cleared
 * to see, so examiners reading it must be told, per column, what the caller actually received
 * (clear, masked, tokenised) and what the stored copy holds. Carried in the stored payload's
 * own _meta, so the copy describes itself wherever it is read (console, replay, BigQuery).
 */
export function storedCopyNote(stored: Record<string, unknown>, released: MaskReport, storage: MaskReport, plan: MaskPlan, columns: { index: number; name: string }[] | null): Record<string, unknown> {
  const out: Record<string, { classification: string | null; released: string; stored: string }> = {};
  const names = columns?.map((c) => c.name) ?? [...new Set([...released.maskedColumns, ...storage.maskedColumns].map((m) => m.column))];
  const derived = new Set((plan.derived ?? []).map((d) => d.outputName));
  for (const name of names) {
    const r = released.maskedColumns.find((m) => m.column === name);
    const s = storage.maskedColumns.find((m) => m.column === name);
    const got = r?.method ?? (derived.has(name) ? 'computed_from_masked' : 'clear');
    out[name] = { classification: r?.classification ?? s?.classification ?? null, released: got, stored: s?.method ?? got };
  }
  const detectors = {
    released: released.detectorHits.filter((h) => h.count > 0).map((h) => h.detector),
    stored: storage.detectorHits.filter((h) => h.count > 0).map((h) => h.detector),
  };
  const meta = { ...((stored._meta as Record<string, unknown> | undefined) ?? {}), [STORED_COPY_META_KEY]: { columns: out, detectors } };
  return { ...stored, _meta: meta };
}
