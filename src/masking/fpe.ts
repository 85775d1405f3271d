// Keyed format-preserving pseudonyms: digits stay digits, letters stay letters (case kept),
// separators and punctuation stay where they were.
//
// Construction: the digits of a value, taken together as one numeral string, go through a
// 10-round unbalanced Feistel network in radix 10 (the round structure of NIST SP 800-38G FF1)
// whose round function is HMAC-SHA256 under a key derived from the masking key; the letters go
// through the same network in radix 26. This is NOT FF1 (FF1's round function is AES-CBC-MAC and
// it has a tweak and minimum-domain rules); we say so in docs/masking.md. What it gives: a keyed,
// deterministic permutation per (radix, length), so equal inputs give equal outputs (joins and
// GROUP BY still work) and different inputs never collide. What it cannot give: secrecy on small
// domains — 4 digits have 10,000 values, and anyone who can get known values masked can tabulate
// them. Why not an npm FF3-1 package: FF3-1 has published attacks, needs a 6+ digit domain, and
// the only candidate package is a small single-maintainer project.
import { createHmac } from 'node:crypto';

const ROUNDS = 10;

/** Format-preserving keyed pseudonym of a string. */
export function fpe(key: Buffer, value: string): string {
  const chars = [...canonicalise(value)];
  const digitPos: number[] = [];
  const digits: number[] = [];
  const letterPos: number[] = [];
  const letters: number[] = [];
  const upper: boolean[] = [];
  chars.forEach((ch, i) => {
    const c = ch.charCodeAt(0);
    if (c >= 0x30 && c <= 0x39) {
      digitPos.push(i);
      digits.push(c - 0x30);
    } else if ((c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)) {
      letterPos.push(i);
      letters.push((c | 0x20) - 0x61);
      upper.push(c <= 0x5a);
    } else if (/\p{L}/u.test(ch)) {
      // Letters outside A–Z (after accent stripping) fold into the a–z domain: not a bijection
      // for them, but nothing of the original letter shows through.
      letterPos.push(i);
      letters.push(ch.codePointAt(0)! % 26);
      upper.push(ch !== ch.toLowerCase());
    }
  });
  const d = feistel(key, 10, digits);
  d.forEach((x, k) => (chars[digitPos[k]] = String.fromCharCode(0x30 + x)));
  const l = feistel(key, 26, letters);
  l.forEach((x, k) => (chars[letterPos[k]] = String.fromCharCode((upper[k] ? 0x41 : 0x61) + x)));
  return chars.join('');
}

/** Accents off, compatibility forms (fullwidth) folded, every Unicode decimal digit to ASCII. */
function canonicalise(s: string): string {
  if (/^[\x00-\x7f]*$/.test(s)) return s;
  return s
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .replace(/\p{Nd}/gu, (ch) => String(unicodeDigitValue(ch)));
}

/** Unicode keeps decimal digits in contiguous runs of ten, each starting at zero (a stability rule). */
export function unicodeDigitValue(ch: string): number {
  const cp = ch.codePointAt(0)!;
  if (cp >= 0x30 && cp <= 0x39) return cp - 0x30;
  let start = cp;
  while (start > 0 && ND.test(String.fromCodePoint(start - 1))) start--;
  // Back-to-back runs (mathematical digits) form one block; the modulo finds the run.
  return (cp - start) % 10;
}
const ND = /^\p{Nd}$/u;

function feistel(key: Buffer, radix: number, x: number[]): number[] {
  const n = x.length;
  if (n === 0) return x;
  const u = n >> 1;
  let a = x.slice(0, u);
  let b = x.slice(u);
  const r = BigInt(radix);
  for (let i = 0; i < ROUNDS; i++) {
    const m = i % 2 === 0 ? u : n - u;
    const mod = r ** BigInt(m);
    const y = prf(key, radix, n, i, b, mod);
    const c = (toNum(a, r) + y) % mod;
    a = b;
    b = fromNum(c, r, m);
  }
  return [...a, ...b];
}

function prf(key: Buffer, radix: number, n: number, round: number, b: number[], mod: bigint): bigint {
  // Enough output that (y mod r^m) is close to uniform: 64 bits beyond the modulus size.
  const need = Math.ceil(mod.toString(16).length / 2) + 8;
  let hex = '';
  for (let block = 0; hex.length < need * 2; block++) {
    hex += createHmac('sha256', key).update(`${radix}|${n}|${round}|${block}|${b.join(',')}`).digest('hex');
  }
  return BigInt('0x' + hex);
}

function toNum(x: number[], r: bigint): bigint {
  let v = 0n;
  for (const d of x) v = v * r + BigInt(d);
  return v;
}

function fromNum(v: bigint, r: bigint, m: number): number[] {
  const out = new Array<number>(m);
  for (let i = m - 1; i >= 0; i--) {
    out[i] = Number(v % r);
    v /= r;
  }
  return out;
}
