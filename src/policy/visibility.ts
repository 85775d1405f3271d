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
 * Methods that show part of the original text. On a transformed value (substr(ssn, 1, 5),
 * concatenations …) the "part" is no longer the part the rule meant to reveal — a query could
 * shift hidden digits into the revealed window — so transformed values fall back to redact.
 */
export const PARTIAL_METHODS: ReadonlySet<MaskMethod> = new Set<MaskMethod>(['last4', 'first4', 'email_domain', 'year_only']);

export function isMask(v: VisibilityValue): v is MaskMethod {
  return v !== 'clear' && v !== 'deny';
}
