// Brings an event read back from elsewhere (BigQuery rows, Pub/Sub payloads, JSON files) into
// the exact shapes the writer hashed, so the hash can be recomputed. BigQuery hands INT64 back
// as strings (or {value}), TIMESTAMP as "2026-11-22 02:42:56.123 UTC", ISO with microseconds,
// {value: …} wrappers, Date objects or epoch seconds, and REPEATED columns as null when empty.
// Anything that cannot be mapped exactly is an error: a guessed value would mask tampering.
import { AuditEventSchema, type AuditEvent } from './event.js';
import { BqwardenError } from '../common/errors.js';

export class NormalizeError extends BqwardenError {
  constructor(message: string) {
    super('normalize_failed', message);
    this.name = 'NormalizeError';
  }
}

const INT_FIELDS = ['seq', 'http_status', 'rows_returned', 'bytes_returned', 'duration_ms', 'approvals_required'] as const;
const LIST_FIELDS = [
  'actor_groups',
  'actor_roles',
  'target_tables',
  'target_columns',
  'statement_types',
  'statement_kinds',
  'rule_ids',
  'approval_approvers',
  'masked_columns',
  'detector_hits',
] as const;
const TIME_FIELDS = ['event_time', 'approval_expires_at'] as const;

function unwrap(v: unknown): unknown {
  // BigQueryInt, BigQueryTimestamp and raw REST cells all carry the value in `.value`.
  if (v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date) && 'value' in v) {
    return (v as { value: unknown }).value;
  }
  return v;
}

function toInt(field: string, raw: unknown): number | null {
  const v = unwrap(raw);
  if (v === null || v === undefined) return null;
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) throw new NormalizeError(`${field}: ${v} is not a safe integer`);
    return v;
  }
  if (typeof v === 'bigint') {
    const n = Number(v);
    if (!Number.isSafeInteger(n)) throw new NormalizeError(`${field}: ${v} is beyond 2^53`);
    return n;
  }
  if (typeof v === 'string' && /^-?\d+$/.test(v)) {
    const n = Number(v);
    if (!Number.isSafeInteger(n)) throw new NormalizeError(`${field}: ${v} is beyond 2^53`);
    return n;
  }
  throw new NormalizeError(`${field}: cannot read ${JSON.stringify(v)} as an integer`);
}

/** Exact decimal seconds ("1.700000000123E9") to integer microseconds, without float rounding. */
function decimalSecondsToMicros(s: string): bigint | null {
  const m = /^(\d+)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(s);
  if (!m) return null;
  const digits = m[1] + (m[2] ?? '');
  const exp = Number(m[3] ?? '0') - (m[2] ?? '').length + 6; // scale to micros
  if (exp >= 0) return BigInt(digits) * 10n ** BigInt(exp);
  const cut = digits.length + exp;
  const kept = cut > 0 ? digits.slice(0, cut) : '0';
  const dropped = cut > 0 ? digits.slice(cut) : digits;
  if (/[1-9]/.test(dropped)) return null; // sub-microsecond precision: not a BigQuery timestamp
  return BigInt(kept);
}

function fromMicros(field: string, micros: bigint): string {
  if (micros % 1000n !== 0n) throw new NormalizeError(`${field}: sub-millisecond precision cannot come from the gateway`);
  return new Date(Number(micros / 1000n)).toISOString();
}

const ISO_OR_BQ = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?\s*(Z|UTC|\+00:?00)?$/;

function toTimestamp(field: string, raw: unknown): string | null {
  const v = unwrap(raw);
  if (v === null || v === undefined) return null;
  if (v instanceof Date) {
    if (Number.isNaN(v.getTime())) throw new NormalizeError(`${field}: invalid Date`);
    return v.toISOString();
  }
  if (typeof v === 'number') {
    const micros = decimalSecondsToMicros(String(v).includes('e') ? v.toExponential() : String(v));
    if (micros === null) throw new NormalizeError(`${field}: cannot read ${v} as epoch seconds`);
    return fromMicros(field, micros);
  }
  if (typeof v !== 'string') throw new NormalizeError(`${field}: cannot read ${JSON.stringify(v)} as a timestamp`);
  const s = v.trim();
  const m = ISO_OR_BQ.exec(s);
  if (m) {
    const frac = (m[3] ?? '').padEnd(9, '0');
    if (/[1-9]/.test(frac.slice(3))) throw new NormalizeError(`${field}: ${s} has sub-millisecond precision the gateway never writes`);
    const iso = `${m[1]}T${m[2]}.${frac.slice(0, 3)}Z`;
    if (Number.isNaN(Date.parse(iso)) || new Date(iso).toISOString() !== iso) throw new NormalizeError(`${field}: ${s} is not a valid UTC time`);
    return iso;
  }
  const micros = decimalSecondsToMicros(s);
  if (micros !== null) return fromMicros(field, micros);
  throw new NormalizeError(`${field}: cannot read ${JSON.stringify(s)} as a UTC timestamp`);
}

function toBool(field: string, raw: unknown): boolean {
  const v = unwrap(raw);
  if (typeof v === 'boolean') return v;
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw new NormalizeError(`${field}: cannot read ${JSON.stringify(v)} as a boolean`);
}

/**
 * Coerce a row or JSON object into an AuditEvent exactly as the gateway wrote it. Columns the
 * schema does not know (BigQuery subscription metadata such as publish_time) are dropped: they
 * were never part of the hash.
 */
export function normalizeEvent(raw: unknown): AuditEvent {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new NormalizeError('an audit event must be an object');
  const src = raw as Record<string, unknown>;
  const out: Record<string, unknown> = { ...src };
  for (const f of INT_FIELDS) if (f in src) out[f] = toInt(f, src[f]);
  for (const f of TIME_FIELDS) if (f in src) out[f] = toTimestamp(f, src[f]);
  if ('privileged' in src) out.privileged = toBool('privileged', src.privileged);
  for (const f of LIST_FIELDS) {
    if (!(f in src)) continue;
    const v = unwrap(src[f]);
    out[f] = v === null || v === undefined ? [] : v;
  }
  if (Array.isArray(out.detector_hits)) {
    out.detector_hits = (out.detector_hits as unknown[]).map((h, i) => (h && typeof h === 'object' ? { ...h, count: toInt(`detector_hits[${i}].count`, (h as Record<string, unknown>).count) } : h));
  }
  const parsed = AuditEventSchema.safeParse(out);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new NormalizeError(`not an audit event: ${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'invalid'}`);
  }
  return parsed.data;
}
