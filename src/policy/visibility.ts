// How masking methods compare. One order serves both directions: across classifications that
// reach one column the strictest wins; across roles the subject holds the most permissive wins.
import type { MaskMethod } from '../masking/types.js';
import { STRICTNESS } from '../masking/methods.js';
import type { VisibilityValue } from './schema.js';

/** Higher = reveals less: clear, then the masking methods in the masker's own order, then deny. */
const RANK: Record<VisibilityValue, number> = Object.fromEntries([['clear', 0], ...[...STRICTNESS].reverse().map((m, i) => [m, i + 1] as const), ['deny', STRICTNESS.length + 1]]) as Record<
  VisibilityValue,
  number
>;

export function rank(v: VisibilityValue): number {
  return RANK[v];
}

export function stricter(a: VisibilityValue, b: VisibilityValue): VisibilityValue {
  return RANK[a] >= RANK[b] ? a : b;
}

export function morePermissive(a: VisibilityValue, b: VisibilityValue): VisibilityValue {
  return RANK[a] <= RANK[b] ? a : b;
}

/**
 * What a role gets for a computed value (substr(ssn, 1, 5), ssn = '…', count(ssn), CASE …) of a
 * classification it sees as `v`. No mask is safe for such a value. Partial reveals (last4,
 * year_only …) would reveal the wrong part: a query could shift hidden digits into the revealed
 * window. Equality-preserving tokens (pseudonym, sha256) turn a small derived domain into an
 * oracle (`ssn = '…'` → one token for true, one for false). Redaction keeps NULL as NULL and
 * keeps the type, so `CASE WHEN ssn = '…' THEN 1 END` differs on the matching row. Even a NULL
 * in every row is not enough: the computation itself can fail on the hidden value
 * (`CASE WHEN ssn = '…' THEN json('x') END`, 1/0, a failing CAST, BigQuery ERROR()), and an
 * error cannot be masked. So a masked classification reaching a computed value is denied,
 * unless the classification opts in to `derived: nullify` and accepts that channel.
 */
export function forTransformed(v: VisibilityValue, derived: DerivedMode = 'deny'): VisibilityValue {
  return v === 'clear' || v === 'deny' ? v : derived;
}

export type DerivedMode = 'deny' | 'nullify';

export function isMask(v: VisibilityValue): v is MaskMethod {
  return v !== 'clear' && v !== 'deny';
}
