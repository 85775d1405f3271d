// Content detectors: defence in depth behind lineage-based masking. They find values that look
// like SSNs, payment cards, ABA routing numbers, IBANs, e-mail addresses and phone numbers in
// any string (free text included) and in JSON numbers, and report where they are so the caller
// can replace just the matched part.
//
// False positives matter as much as misses: an order id redacted as a "card" breaks the agent's
// work. So every numeric detector needs a checksum or a structural rule, and the ambiguous bare
// forms (a plain 9-digit number, a plain 10-digit number) only count when context says what they
// are: the column/field name, or a word such as "SSN" or "routing" just before them.
// docs/masking.md has the measured rates.

export const DETECTORS = ['ssn', 'card', 'aba', 'iban', 'email', 'phone'] as const;
export type DetectorName = (typeof DETECTORS)[number];
export type EnabledDetectors = Record<DetectorName, boolean>;

export interface DetectorHit {
  detector: DetectorName;
  /** UTF-16 offsets into the original string. */
  start: number;
  end: number;
}

type Hint = 'ssn' | 'aba' | 'phone' | 'card';

/** What a column or field name says about its values. */
const hintCache = new Map<string, Set<Hint>>();
const NO_HINTS: Set<Hint> = new Set();

export function hintsFromKey(key: string | null | undefined): Set<Hint> {
  if (!key) return NO_HINTS;
  let out = hintCache.get(key);
  if (out) return out;
  out = keyHints(key);
  if (hintCache.size > 10_000) hintCache.clear();
  hintCache.set(key, out);
  return out;
}

function keyHints(key: string): Set<Hint> {
  const out = new Set<Hint>();
  // Whole words for short cues ("tel" must not fire on "hotel", "aba" on "database"),
  // substrings only for distinctive ones ("phone_number", "customerSSN").
  const words = new Set(
    key
      .replace(/([a-z])([A-Z])/g, '$1 $2')
      .toLowerCase()
      .split(/[^a-z0-9]+/)
      .filter(Boolean),
  );
  const k = key.toLowerCase().replace(/[^a-z0-9]/g, '');
  const any = (...w: string[]) => w.some((x) => words.has(x));
  if (k.includes('ssn') || k.includes('socialsec') || k.includes('taxid') || any('tin', 'itin')) out.add('ssn');
  if (k.includes('routing') || any('aba', 'rtn', 'transit')) out.add('aba');
  if (k.includes('phone') || k.includes('mobile') || k.includes('msisdn') || any('cell', 'tel', 'fax')) out.add('phone');
  if (k.includes('card') || any('pan', 'cc', 'ccnum')) out.add('card');
  return out;
}

const TEXT_HINTS: [Hint, RegExp][] = [
  ['ssn', /\b(?:ssns?|social security|soc\.? sec\.?|tax ?id|tin|itin)\b/i],
  ['aba', /\b(?:routing|aba|rtn|transit)\b/i],
  ['phone', /\b(?:phone|tel|telephone|mobile|cell|fax|call)\b/i],
  ['card', /\b(?:card|visa|mastercard|amex|pan|cc)\b/i],
];
const HINT_WINDOW = 40;

// ---------------------------------------------------------------------------------------------
// Normalisation: attackers (or plain Unicode) can write digits as fullwidth or other-script
// digits, and slip zero-width characters between them. We detect on a normalised copy and map
// every normalised character back to the original span, so the replacement covers exactly
// what the client would have read.

interface Normalised {
  text: string;
  /** For each normalised char: start/end offsets in the original; null when identical. */
  from: number[] | null;
  to: number[] | null;
}

const ASCII = /^[\x00-\x7f]*$/;
const CF = /^\p{Cf}$/u;
const ND = /^\p{Nd}$/u;
const PD = /^\p{Pd}$/u;
const ZS = /^\p{Zs}$/u;

function normalise(s: string): Normalised {
  if (ASCII.test(s)) return { text: s, from: null, to: null };
  let text = '';
  const from: number[] = [];
  const to: number[] = [];
  let i = 0;
  for (const ch of s) {
    const end = i + ch.length;
    let rep: string;
    if (CF.test(ch))
      rep = ''; // zero-width space/joiner, BOM, soft hyphen …
    else if (ND.test(ch)) rep = String(digitValue(ch));
    else if (PD.test(ch) || ch === '\u2212') rep = '-';
    else if (ZS.test(ch)) rep = ' ';
    else rep = ch.normalize('NFKC');
    for (const c of rep) {
      for (let k = 0; k < c.length; k++) {
        text += c[k];
        from.push(i);
        to.push(end);
      }
    }
    i = end;
  }
  return { text, from, to };
}

/** Unicode keeps decimal digits in contiguous runs of ten, each starting at zero. */
function digitValue(ch: string): number {
  const cp = ch.codePointAt(0)!;
  let start = cp;
  while (start > 0 && ND.test(String.fromCodePoint(start - 1))) start--;
  return (cp - start) % 10;
}

function toOriginal(n: Normalised, start: number, end: number): [number, number] {
  if (!n.from || !n.to) return [start, end];
  const from = n.from[start];
  const to = n.to[end - 1];
  // A hit is a span of the normalised text, which has one entry per character here: a span
  // outside it is a bug, and an unmapped span could leave part of a match in clear.
  if (from === undefined || to === undefined) throw new Error(`detector hit ${start}-${end} outside the normalised text`);
  return [from, to];
}

// ---------------------------------------------------------------------------------------------
// Validators

export function luhn(d: string): boolean {
  let sum = 0;
  let dbl = false;
  for (let i = d.length - 1; i >= 0; i--) {
    let x = d.charCodeAt(i) - 48;
    if (dbl) {
      x *= 2;
      if (x > 9) x -= 9;
    }
    sum += x;
    dbl = !dbl;
  }
  return sum % 10 === 0;
}

/**
 * Issuer prefix and length sanity (Visa, Mastercard, Amex, Discover, JCB, Diners, UnionPay,
 * Mir). Maestro and RuPay ranges are left out: they cover a large share of the prefix space
 * (50, 56–69, 81–82) and are rare in US banking, so they would mostly add false positives.
 */
export function cardIssuer(d: string): string | null {
  const n = d.length;
  const p2 = +d.slice(0, 2);
  const p3 = +d.slice(0, 3);
  const p4 = +d.slice(0, 4);
  const p6 = +d.slice(0, 6);
  if (d[0] === '4' && (n === 13 || n === 16 || n === 19)) return 'visa';
  if (((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) && n === 16) return 'mastercard';
  if ((p2 === 34 || p2 === 37) && n === 15) return 'amex';
  if ((p4 === 6011 || (p3 >= 644 && p3 <= 649) || p2 === 65 || (p6 >= 622126 && p6 <= 622925)) && n >= 16 && n <= 19) return 'discover';
  if (p4 >= 3528 && p4 <= 3589 && n >= 16 && n <= 19) return 'jcb';
  if (((p3 >= 300 && p3 <= 305) || p4 === 3095 || p2 === 36 || p2 === 38 || p2 === 39) && n >= 14 && n <= 19) return 'diners';
  if (p2 === 62 && n >= 16 && n <= 19) return 'unionpay';
  if (p4 >= 2200 && p4 <= 2204 && n >= 16 && n <= 19) return 'mir';
  return null;
}

/** SSA rules: area 001–899 except 666, group 01–99, serial 0001–9999. */
export function validSsn(d: string): boolean {
  if (!/^\d{9}$/.test(d)) return false;
  const area = +d.slice(0, 3);
  const group = +d.slice(3, 5);
  const serial = +d.slice(5);
  return area >= 1 && area <= 899 && area !== 666 && group >= 1 && serial >= 1;
}

/** ABA: Federal Reserve prefix ranges and the 3-7-1 checksum. */
export function validAba(d: string): boolean {
  if (!/^\d{9}$/.test(d)) return false;
  const p = +d.slice(0, 2);
  if (!((p >= 0 && p <= 12) || (p >= 21 && p <= 32) || (p >= 61 && p <= 72) || p === 80)) return false;
  // Weights 3, 7, 1 repeating over the nine digits.
  const at = (i: number) => d.charCodeAt(i) - 48;
  let s = 0;
  for (let i = 0; i < 9; i += 3) s += 3 * at(i) + 7 * at(i + 1) + at(i + 2);
  return s % 10 === 0;
}

/** NANP: area code and exchange start 2–9; area codes are never N11. */
function validNanp(d10: string): boolean {
  if (!/^[2-9]\d{2}[2-9]\d{6}$/.test(d10)) return false;
  return !(d10[1] === '1' && d10[2] === '1');
}

// ISO 13616 registry lengths.
const IBAN_LENGTHS: Record<string, number> = {
  AD: 24,
  AE: 23,
  AL: 28,
  AT: 20,
  AZ: 28,
  BA: 20,
  BE: 16,
  BG: 22,
  BH: 22,
  BI: 27,
  BR: 29,
  BY: 28,
  CH: 21,
  CR: 22,
  CY: 28,
  CZ: 24,
  DE: 22,
  DJ: 27,
  DK: 18,
  DO: 28,
  EE: 20,
  EG: 29,
  ES: 24,
  FI: 18,
  FK: 18,
  FO: 18,
  FR: 27,
  GB: 22,
  GE: 22,
  GI: 23,
  GL: 18,
  GR: 27,
  GT: 28,
  HN: 28,
  HR: 21,
  HU: 28,
  IE: 22,
  IL: 23,
  IQ: 23,
  IS: 26,
  IT: 27,
  JO: 30,
  KW: 30,
  KZ: 20,
  LB: 28,
  LC: 32,
  LI: 21,
  LT: 20,
  LU: 20,
  LV: 21,
  LY: 25,
  MC: 27,
  MD: 24,
  ME: 22,
  MK: 19,
  MN: 20,
  MR: 27,
  MT: 31,
  MU: 30,
  NI: 28,
  NL: 18,
  NO: 15,
  OM: 23,
  PK: 24,
  PL: 28,
  PS: 29,
  PT: 25,
  QA: 29,
  RO: 24,
  RS: 22,
  RU: 33,
  SA: 24,
  SC: 31,
  SD: 18,
  SE: 24,
  SI: 19,
  SK: 24,
  SM: 27,
  SO: 23,
  ST: 25,
  SV: 28,
  TL: 23,
  TN: 24,
  TR: 26,
  UA: 29,
  VA: 22,
  VG: 24,
  XK: 20,
  YE: 30,
};

export function validIban(iban: string): boolean {
  const s = iban.toUpperCase();
  if (IBAN_LENGTHS[s.slice(0, 2)] !== s.length || !/^[A-Z]{2}\d{2}[A-Z0-9]+$/.test(s)) return false;
  const r = s.slice(4) + s.slice(0, 4);
  let m = 0;
  for (const c of r) {
    const v = c >= 'A' ? c.charCodeAt(0) - 55 : c.charCodeAt(0) - 48;
    m = v >= 10 ? (m * 100 + v) % 97 : (m * 10 + v) % 97;
  }
  return m === 1;
}

// ---------------------------------------------------------------------------------------------
// Scanning

interface Group {
  digits: string;
  start: number; // normalised offsets
  end: number;
  sep: string; // separator before this group ('' for the first)
}

// Digit groups joined by one space, dot or dash: "4111 1111 1111 1111", "123-45-6789", "4 1 1 1 …".
const RUN = /\d+(?:[ .-]\d+)*/g;
const MAX_WINDOW_DIGITS = 19;

/** Finds detector matches in a string. Hits are sorted and never overlap. */
export function scanText(s: string, enabled: EnabledDetectors, keyHints: Set<Hint> = new Set()): DetectorHit[] {
  if (s.length === 0) return [];
  const ascii = ASCII.test(s);
  // Cheap gate: every numeric detector needs 8+ digits (E.164 minimum), e-mail needs an '@'.
  if (ascii && countDigits(s) < 8 && !s.includes('@')) return [];
  const n = normalise(s);
  const t = n.text;
  const digitCount = ascii ? countDigits(s) : countDigits(t);
  const hits: { detector: DetectorName; start: number; end: number }[] = [];

  if (enabled.email && t.includes('@')) scanEmails(t, hits);
  if (digitCount < 8) return finish(n, hits);
  if (enabled.iban) scanIbans(t, hits);
  if (enabled.phone) {
    for (const m of t.matchAll(/(?:\+?1[ .-]?)?\((\d{3})\)[ .-]?(\d{3})[ .-]?(\d{4})(?!\d)/g)) {
      // The pattern makes all three groups mandatory.
      if (validNanp(m[1]! + m[2]! + m[3]!)) hits.push({ detector: 'phone', start: m.index!, end: m.index! + m[0].length });
    }
  }
  const numeric = enabled.ssn || enabled.card || enabled.aba || enabled.phone;
  if (numeric) {
    for (const m of t.matchAll(RUN)) {
      const groups: Group[] = [];
      const re = /(\d+)|([ .-])/g;
      let sep = '';
      for (const g of m[0].matchAll(re)) {
        if (g[1]) {
          groups.push({ digits: g[1], start: m.index! + g.index!, end: m.index! + g.index! + g[1].length, sep });
          sep = '';
        } else sep = g[2] ?? '';
      }
      scanRun(t, groups, enabled, keyHints, hits);
    }
  }
  return finish(n, hits);
}

function countDigits(s: string): number {
  let c = 0;
  for (let i = 0; i < s.length; i++) {
    const x = s.charCodeAt(i);
    if (x >= 48 && x <= 57) c++;
  }
  return c;
}

function finish(n: Normalised, hits: { detector: DetectorName; start: number; end: number }[]): DetectorHit[] {
  if (hits.length === 0) return [];
  // Longest first wins an overlap (an e-mail holding a phone-like local part stays one hit).
  hits.sort((a, b) => a.start - b.start || b.end - a.end);
  const out: DetectorHit[] = [];
  let lastEnd = -1;
  for (const h of hits) {
    if (h.start < lastEnd) continue;
    const [start, end] = toOriginal(n, h.start, h.end);
    out.push({ detector: h.detector, start, end });
    lastEnd = h.end;
  }
  return out;
}

function scanRun(t: string, groups: Group[], enabled: EnabledDetectors, keyHints: Set<Hint>, hits: { detector: DetectorName; start: number; end: number }[]): void {
  let i = 0;
  while (i < groups.length) {
    // Candidate windows starting at group i, longest first. Every index below is kept under
    // groups.length by the loop conditions.
    let j = i;
    let total = groups[i]!.digits.length;
    while (j + 1 < groups.length && total + groups[j + 1]!.digits.length <= MAX_WINDOW_DIGITS) {
      j++;
      total += groups[j]!.digits.length;
    }
    let found = false;
    for (let k = j; k >= i; k--) {
      const win = groups.slice(i, k + 1);
      const det = classify(t, win, enabled, keyHints);
      if (det) {
        hits.push({ detector: det.detector, start: det.start ?? groups[i]!.start, end: groups[k]!.end });
        i = k + 1;
        found = true;
        break;
      }
    }
    if (!found) i++;
  }
}

function textHints(t: string, at: number): Set<Hint> {
  const before = t.slice(Math.max(0, at - HINT_WINDOW), at);
  const out = new Set<Hint>();
  for (const [h, re] of TEXT_HINTS) if (re.test(before)) out.add(h);
  return out;
}

function classify(t: string, win: Group[], enabled: EnabledDetectors, keyHints: Set<Hint>): { detector: DetectorName; start?: number } | null {
  const [first, second] = win;
  if (!first) return null;
  let d = '';
  let lens = '';
  let sameSep = true;
  for (const [i, g] of win.entries()) {
    d += g.digits;
    lens += (i ? ',' : '') + g.digits.length;
    if (i > 1 && g.sep !== second?.sep) sameSep = false;
  }
  // Quick exits: no numeric detector applies below 8 or above 19 digits.
  if (d.length < 8 || d.length > 19) return null;
  const start = first.start;
  const plus = start > 0 && t[start - 1] === '+';
  let hints: Set<Hint> | null = null;

  if (enabled.phone && plus) {
    // E.164: + country code and subscriber number, 8–15 digits in all.
    if (d[0] === '1' ? d.length === 11 && validNanp(d.slice(1)) : d.length >= 8 && d.length <= 15 && d[0] !== '0') {
      return { detector: 'phone', start: start - 1 };
    }
  }
  if (enabled.card && d.length >= 13 && d.length <= 19 && luhn(d) && cardIssuer(d)) {
    // A bare digit string is only a card at the common lengths (15 Amex, 16 the rest) unless
    // it is grouped like a card or context says so: 17–19 digit order numbers are common.
    if (win.length > 1 || d.length === 15 || d.length === 16 || keyHints.has('card') || (hints ??= textHints(t, start)).has('card')) return { detector: 'card' };
  }
  if (d.length === 9) {
    if (enabled.ssn && validSsn(d)) {
      if (lens === '3,2,4' && sameSep) return { detector: 'ssn' };
      if (win.length === 1 && (keyHints.has('ssn') || (hints ??= textHints(t, start)).has('ssn'))) return { detector: 'ssn' };
    }
    if (enabled.aba && win.length === 1 && validAba(d) && (keyHints.has('aba') || (hints ??= textHints(t, start)).has('aba'))) return { detector: 'aba' };
  }
  if (enabled.phone) {
    if (lens === '3,3,4' && sameSep && validNanp(d)) return { detector: 'phone' };
    if (lens === '1,3,3,4' && sameSep && d[0] === '1' && validNanp(d.slice(1))) return { detector: 'phone' };
    if (win.length === 1 && (keyHints.has('phone') || (hints ??= textHints(t, start)).has('phone'))) {
      if ((d.length === 10 && validNanp(d)) || (d.length === 11 && d[0] === '1' && validNanp(d.slice(1)))) return { detector: 'phone' };
    }
  }
  return null;
}

const LOCAL_CHAR = /[A-Za-z0-9._%+\-]/;
const DOMAIN = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}))*\.[A-Za-z]{2,63}/;

/** Expands around each '@' (bounded, so a long string cannot make this quadratic). */
function scanEmails(t: string, hits: { detector: DetectorName; start: number; end: number }[]): void {
  let at = t.indexOf('@');
  while (at !== -1) {
    let s = at;
    while (s > 0 && at - s < 64 && LOCAL_CHAR.test(t.charAt(s - 1))) s--;
    const dm = s < at ? DOMAIN.exec(t.slice(at + 1, at + 1 + 255)) : null;
    if (dm) hits.push({ detector: 'email', start: s, end: at + 1 + dm[0].length });
    at = t.indexOf('@', at + 1);
  }
}

function scanIbans(t: string, hits: { detector: DetectorName; start: number; end: number }[]): void {
  for (const m of t.matchAll(/(?<![A-Za-z0-9])([A-Za-z]{2})\d{2}/g)) {
    const len = IBAN_LENGTHS[m[1]!.toUpperCase()]; // group 1 is mandatory
    if (!len) continue;
    // Collect `len` alphanumerics, allowing single spaces between them (printed in groups of 4).
    let i = m.index!;
    let got = '';
    let end = i;
    while (i < t.length && got.length < len) {
      const c = t.charAt(i);
      if (/[A-Za-z0-9]/.test(c)) {
        got += c;
        end = i + 1;
        i++;
      } else if (c === ' ' && i + 1 < t.length && /[A-Za-z0-9]/.test(t.charAt(i + 1)) && got.length % 4 === 0) i++;
      else break;
    }
    if (got.length !== len || (end < t.length && /[A-Za-z0-9]/.test(t.charAt(end)))) continue;
    if (validIban(got)) hits.push({ detector: 'iban', start: m.index!, end });
  }
}

/** A JSON number (its exact text) that is sensitive as a whole, e.g. a card stored as INTEGER. */
export function scanNumber(raw: string, enabled: EnabledDetectors, keyHints: Set<Hint> = new Set()): DetectorName | null {
  if (!/^-?\d+$/.test(raw)) return null;
  let d = raw.replace('-', '');
  // Routing numbers stored as integers lose their leading zero (021000021 → 21000021).
  if (d.length === 8 && (keyHints.has('aba') || keyHints.has('ssn'))) d = '0' + d;
  const win: Group[] = [{ digits: d, start: 0, end: d.length, sep: '' }];
  return classify(d, win, enabled, keyHints)?.detector ?? null;
}

/** Replaces each hit's span with what `replace` returns for the matched text. */
export function replaceHits(s: string, hits: DetectorHit[], replace: (h: DetectorHit, matched: string) => string): string {
  let out = '';
  let last = 0;
  for (const h of hits) {
    out += s.slice(last, h.start) + replace(h, s.slice(h.start, h.end));
    last = h.end;
  }
  return out + s.slice(last);
}
