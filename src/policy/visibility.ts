// How masking methods compare. One order serves both directions: across classifications that
// reach one column the strictest wins; across roles the subject holds the most permissive wins.
import type { MaskMethod } from '../masking/types.js';
import type { VisibilityValue } from './schema.js';

/** Higher = reveals less. Partial reveals < keyed tokens < nothing at all < refused. */
const RANK: Record<VisibilityValue, number> = {
  clear: 0,
  last4: 1,
  first4: 2,
  email_domain: 3,
  year_only: 4,
  sha256: 5, // unkeyed: a small domain (SSNs) can be brute-forced, so weaker than a keyed token
  pseudonym_fpe: 6,
  pseudonym: 7,
  redact: 8,
  nullify: 9,
  deny: 10,
};

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
 * What a transformed value (substr(ssn, 1, 5), ssn = '…', account_number + 0, aggregates …)
 * gets instead of the role's method. Partial reveals (last4, year_only …) would reveal the
 * wrong part: a query could shift hidden digits into the revealed window. Equality-preserving
 * tokens (pseudonym, sha256) would turn a small derived domain into an oracle: pseudonymising
 * `ssn = '123-45-6789'` yields one token for true and one for false. Even a redacted value
 * is an oracle: redaction keeps NULL as NULL and keeps the type (0 for numbers, '' for text),
 * so `CASE WHEN ssn = '…' THEN 1 END` comes back as 0 on the matching row and NULL elsewhere.
 * So every masked classification reaching a transformed value is nullified: every row gets
 * the same NULL, whatever the hidden value.
 */
export function forTransformed(v: VisibilityValue): VisibilityValue {
  return v === 'clear' || v === 'deny' ? v : 'nullify';
}

export function isMask(v: VisibilityValue): v is MaskMethod {
  return v !== 'clear' && v !== 'deny';
}
