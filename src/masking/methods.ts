// Masking methods, applied to one value. Where BigQuery dynamic data masking has the same rule
// we follow its documented semantics (docs/masking.md has the table side by side).
import { createHmac } from 'node:crypto';
import { sha256Hex } from '../common/digest.js';
import { MASK_METHODS, type MaskMethod } from './types.js';
import { RawNumber, type Json } from './json.js';
import { fpe } from './fpe.js';
import type { PseudonymKey } from './keys.js';

/**
 * Strictest first, by what the output still reveals. The one order for the whole product:
 * policy ranks visibility by it (policy/visibility.ts) and the masker picks by it. Unkeyed
 * sha256 is last: on small domains (SSNs: 10^9 values, birth dates: ~40,000) anyone can hash
 * every candidate and read the value back. The last four characters discriminate more than the
 * first four (an SSN's serial, a card's own digits, against an area number or issuer prefix).
 */
export const STRICTNESS: readonly MaskMethod[] = ['nullify', 'redact', 'pseudonym', 'pseudonym_fpe', 'year_only', 'email_domain', 'first4', 'last4', 'sha256'];

// Keep the order complete: a method added to the contract without a rank must fail loudly.
for (const m of MASK_METHODS) if (!STRICTNESS.includes(m)) throw new Error(`masking: no strictness rank for method ${m}`);

export function strictest(methods: Iterable<MaskMethod>): MaskMethod | null {
  let best: MaskMethod | null = null;
  for (const m of methods) if (best === null || STRICTNESS.indexOf(m) < STRICTNESS.indexOf(best)) best = m;
  return best;
}

/** Called on object keys inside a masked value (JSON columns can carry data in their keys). */
export type KeyFilter = (key: string) => string;

/**
 * Masks one cell. Objects (STRUCT / JSON) are masked leaf by leaf with their keys kept (run
 * through keyFilter); arrays element by element, except where BigQuery defines the whole value.
 */
export function maskValue(method: MaskMethod, value: Json, key: PseudonymKey, keyFilter: KeyFilter = (k) => k): Json {
  if (value === null) return null;
  if (method === 'nullify') return null;
  if (Array.isArray(value)) {
    if (method === 'redact') return []; // DEFAULT_MASKING_VALUE for ARRAY
    return value.map((v) => maskValue(method, v, key, keyFilter));
  }
  if (typeof value === 'object' && !(value instanceof RawNumber)) {
    const out: { [k: string]: Json } = {};
    for (const [k, v] of Object.entries(value)) setOwn(out, keyFilter(k), maskValue(method, v, key, keyFilter));
    return out;
  }
  return maskScalar(method, value, key);
}

/** Assigns without ever touching the prototype (a "__proto__" key stays plain data). */
export function setOwn(o: { [k: string]: Json }, k: string, v: Json): void {
  if (k === '__proto__') Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  else o[k] = v;
}

/** Masks a scalar. Masked numbers become strings unless the rule defines a number (redact → 0). */
export function maskScalar(method: MaskMethod, value: string | number | boolean | RawNumber, key: PseudonymKey): Json {
  const text = scalarText(value);
  // Every method leaves its own output as it is: the engine masks first (the rewritten query),
  // and the response masker applying the method again must not change what the engine gave.
  if (typeof value === 'string' && alreadyMasked(method, value)) return value;
  switch (method) {
    case 'nullify':
      return null;
    case 'redact':
      return MASKED_TEXT;
    case 'sha256':
      return sha256Hex(text);
    case 'last4': {
      const cps = [...text];
      return cps.length > 4 ? 'XXXXX' + cps.slice(-4).join('') : sha256Hex(text);
    }
    case 'first4': {
      const cps = [...text];
      return cps.length > 4 ? cps.slice(0, 4).join('') + 'XXXXX' : sha256Hex(text);
    }
    case 'email_domain': {
      const m = typeof value === 'string' ? EMAIL.exec(value) : null;
      return m ? 'XXXXX@' + m[1] : sha256Hex(text);
    }
    case 'year_only':
      return typeof value === 'string' ? yearOnly(value) : null;
    case 'pseudonym':
      return pseudonymToken(key, text);
    case 'pseudonym_fpe':
      return fpe(key.fpe, text);
  }
}

/** The mark of a value nothing of which may be shown (redact), and the filler of partial masks. */
const MASKED_TEXT = 'XXXXX';

const TOKEN = /^tok_[a-z2-7]{26}$/;
const HEX64 = /^[0-9a-f]{64}$/;
const YEAR_SHOWN = /^\d{4}-XX-XX/;

function alreadyMasked(method: MaskMethod, v: string): boolean {
  // Partial masks give SHA-256 for values too short (or malformed) to show a part of (BigQuery).
  if ((method === 'last4' || method === 'first4' || method === 'email_domain') && HEX64.test(v)) return true;
  switch (method) {
    case 'redact':
      return v === MASKED_TEXT;
    case 'last4':
      return v.startsWith(MASKED_TEXT);
    case 'first4':
      return v.endsWith(MASKED_TEXT) || v === MASKED_TEXT;
    case 'email_domain':
      return v === MASKED_TEXT || (v.startsWith(`${MASKED_TEXT}@`) && !v.slice(MASKED_TEXT.length + 1).includes('@'));
    case 'year_only':
      return YEAR_SHOWN.test(v);
    case 'pseudonym':
      return TOKEN.test(v);
    case 'sha256':
      return HEX64.test(v);
    default:
      return false;
  }
}

function scalarText(v: string | number | boolean | RawNumber): string {
  if (v instanceof RawNumber) return v.raw;
  return String(v);
}

/** `tok_` + 26 base32 characters (128 bits) of HMAC-SHA256 under the token subkey. */
export function pseudonymToken(key: PseudonymKey, text: string): string {
  const mac = createHmac('sha256', key.token).update(text, 'utf8').digest();
  return 'tok_' + base32(mac.subarray(0, 16));
}

const B32 = 'abcdefghijklmnopqrstuvwxyz234567';
function base32(buf: Buffer): string {
  let out = '';
  let bits = 0;
  let acc = 0;
  for (const byte of buf) {
    acc = (acc << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += B32[(acc >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += B32[(acc << (5 - bits)) & 31];
  return out;
}

// Local part and domain as BigQuery EMAIL_MASK reads them: one @, a dotted domain, no spaces.
const EMAIL = /^[^\s@]+@([^\s@]+\.[^\s@]+)$/;

// YYYY-MM-DD, optionally with a time (T or space) and a zone (Z, UTC, ±hh[:]mm).
const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:([T ])(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?)?(?:\s*(Z|UTC|[+-]\d{2}:?\d{2}))?$/;
const SLASH_YMD = /^(\d{4})\/(\d{1,2})\/(\d{1,2})$/;
const SLASH_MDY = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/;

/**
 * DATE_YEAR_MASK: keep the year (in UTC for zoned timestamps); anything not a date → NULL. The
 * rest is shown as XX rather than January 1st, which an agent would read as a real birthday.
 */
function yearOnly(v: string): Json {
  const m = ISO.exec(v.trim());
  if (m) {
    let year = m[1]!; // (\d{4}) is mandatory
    const zone = m[8];
    if (m[4] && zone && zone !== 'Z' && zone !== 'UTC') {
      const t = Date.parse(`${m[1]}-${m[2]}-${m[3]}T${m[5]}:${m[6]}:${m[7] ?? '00'}${zone.length === 5 ? zone.slice(0, 3) + ':' + zone.slice(3) : zone}`);
      if (Number.isNaN(t)) return null;
      year = String(new Date(t).getUTCFullYear()).padStart(4, '0');
    }
    return renderDate(year, m);
  }
  const ymd = SLASH_YMD.exec(v.trim());
  if (ymd) return `${ymd[1]}-XX-XX`;
  const mdy = SLASH_MDY.exec(v.trim());
  if (mdy) return `${mdy[3]}-XX-XX`;
  return null;
}

function renderDate(year: string, m: RegExpExecArray): string {
  let s = `${year}-XX-XX`;
  if (m[4]) s += `${m[4]}XX:XX:XX`;
  if (m[8]) s += m[8] === 'UTC' ? ' UTC' : 'Z';
  return s;
}
