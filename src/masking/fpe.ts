// Keyed format-preserving pseudonyms: digits stay digits, letters stay letters (case kept),
// separators and punctuation stay where they were.
//
// Construction: the digits of a value, taken together as one numeral string, are enciphered
// with FF1 (NIST SP 800-38G) in radix 10 under an AES-256 key derived from the masking key, with
// an empty tweak (so the same value gives the same output in every column: joins and GROUP BY
// still work); the letters go through FF1 in radix 26. FF1 is a keyed permutation: different
// inputs never collide, and the key holder could decipher. Implemented from the standard and
// checked against NIST's published samples (test/masking/fpe.test.ts); no npm FF1 package is
// widely used and maintained (the one FF3-1 package is small and FF3-1 has published attacks).
//
// Limits, stated in docs/masking.md: SP 800-38G requires radix^n >= 1,000,000 (6+ digits, 5+
// letters). Shorter numeral strings are still enciphered with the same rounds, but a domain of
// 10,000 values (a 4-digit PIN) can be tabulated by anyone who can get known values masked.
// A single digit or letter gets a keyed shift (FF1 needs n >= 2).
import { createCipheriv, type Cipher } from 'node:crypto';

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
  const d = ff1(key, 10, digits);
  for (const [k, pos] of digitPos.entries()) chars[pos] = String.fromCharCode(0x30 + numeral(d, k));
  const l = ff1(key, 26, letters);
  for (const [k, pos] of letterPos.entries()) chars[pos] = String.fromCharCode((upper[k] ? 0x41 : 0x61) + numeral(l, k));
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
function unicodeDigitValue(ch: string): number {
  const cp = ch.codePointAt(0)!;
  if (cp >= 0x30 && cp <= 0x39) return cp - 0x30;
  let start = cp;
  while (start > 0 && ND.test(String.fromCodePoint(start - 1))) start--;
  // Back-to-back runs (mathematical digits) form one block; the modulo finds the run.
  return (cp - start) % 10;
}
const ND = /^\p{Nd}$/u;

/** FF1 returns as many numerals as it was given: one missing would leave a character in clear. */
function numeral(out: number[], k: number): number {
  const x = out[k];
  if (x === undefined) throw new Error(`FF1 returned ${out.length} numerals, position ${k} is missing`);
  return x;
}

/** FF1 encryption of numerals x (each < radix) under AES key `key` with tweak `tweak`. */
export function ff1(key: Buffer, radix: number, x: number[], tweak: Buffer = Buffer.alloc(0)): number[] {
  const n = x.length;
  if (n === 0) return x;
  const aes = blockCipher(key);
  if (n === 1) {
    // Outside FF1 (n >= 2): a keyed shift, the best a one-symbol domain allows.
    const r = aes(Buffer.from([0xff, radix & 0xff, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
    return [(x[0]! + (r.readUInt32BE(0) % radix)) % radix]; // n === 1
  }
  const t = tweak.length;
  const u = n >> 1;
  const v = n - u;
  const R = BigInt(radix);
  let a = x.slice(0, u);
  let b = x.slice(u);
  const bLen = Math.ceil(Math.ceil(v * Math.log2(radix)) / 8);
  const d = 4 * Math.ceil(bLen / 4) + 4;
  const P = Buffer.alloc(16);
  P.writeUInt8(1, 0);
  P.writeUInt8(2, 1);
  P.writeUInt8(1, 2);
  P.writeUIntBE(radix, 3, 3);
  P.writeUInt8(10, 6);
  P.writeUInt8(u % 256, 7);
  P.writeUInt32BE(n, 8);
  P.writeUInt32BE(t, 12);
  const pad = (((-t - bLen - 1) % 16) + 16) % 16;
  const qLen = t + pad + 1 + bLen;
  // P is the same for every round: encrypt it once (the first CBC-MAC step).
  const encP = aes(P);
  const modU = R ** BigInt(u);
  const modV = R ** BigInt(v);
  const Q = Buffer.alloc(qLen);
  tweak.copy(Q, 0);
  const blk = Buffer.alloc(16);
  for (let i = 0; i < 10; i++) {
    Q.fill(0, t);
    Q.writeUInt8(i, t + pad);
    writeBig(Q, t + pad + 1, bLen, toNum(b, R));
    // PRF: CBC-MAC over P || Q with IV 0.
    let y = encP;
    for (let off = 0; off < qLen; off += 16) y = aes(xor(y, Q.subarray(off, off + 16), blk));
    let S = y;
    for (let j = 1; S.length < d; j++) {
      const ctr = Buffer.alloc(16);
      ctr.writeUInt32BE(j, 12);
      S = Buffer.concat([S, aes(xor(y, ctr, Buffer.alloc(16)))]);
    }
    const yNum = readBig(S, d);
    const m = i % 2 === 0 ? u : v;
    const c = (toNum(a, R) + yNum) % (i % 2 === 0 ? modU : modV);
    a = b;
    b = fromNum(c, R, m);
  }
  return [...a, ...b];
}

const ciphers = new Map<string, (block: Buffer) => Buffer>();

/** One AES-ECB context per key, reused: encrypting a block is then a single update() call. */
function blockCipher(key: Buffer): (block: Buffer) => Buffer {
  const id = key.toString('hex');
  let f = ciphers.get(id);
  if (!f) {
    const c: Cipher = createCipheriv(`aes-${key.length * 8}-ecb`, key, null);
    c.setAutoPadding(false);
    f = (block) => c.update(block);
    if (ciphers.size > 16) ciphers.clear();
    ciphers.set(id, f);
  }
  return f;
}

function xor(a: Buffer, b: Buffer, out: Buffer): Buffer {
  // AES blocks, 16 bytes: word reads throw on a short buffer instead of xoring undefined.
  for (let o = 0; o < 16; o += 4) out.writeUInt32BE((a.readUInt32BE(o) ^ b.readUInt32BE(o)) >>> 0, o);
  return out;
}

function readBig(S: Buffer, d: number): bigint {
  if (d === 8) return S.readBigUInt64BE(0);
  if (d === 12) return (S.readBigUInt64BE(0) << 32n) | BigInt(S.readUInt32BE(8));
  if (d === 16) return (S.readBigUInt64BE(0) << 64n) | S.readBigUInt64BE(8);
  return BigInt('0x' + S.subarray(0, d).toString('hex'));
}

function writeBig(buf: Buffer, off: number, len: number, v: bigint): void {
  for (let i = len - 1; i >= 0; i--) {
    buf[off + i] = Number(v & 0xffn);
    v >>= 8n;
  }
}

function toNum(x: number[], r: bigint): bigint {
  // Number arithmetic while exact (most values), BigInt only past 2^53.
  const rn = Number(r);
  let acc = 0;
  let i = 0;
  for (; i < x.length && acc * rn + rn <= Number.MAX_SAFE_INTEGER; i++) acc = acc * rn + x[i]!;
  let v = BigInt(acc);
  for (; i < x.length; i++) v = v * r + BigInt(x[i]!);
  return v;
}

function fromNum(v: bigint, r: bigint, m: number): number[] {
  const out = new Array<number>(m);
  if (v <= BigInt(Number.MAX_SAFE_INTEGER)) {
    let n = Number(v);
    const rn = Number(r);
    for (let i = m - 1; i >= 0; i--) {
      out[i] = n % rn;
      n = Math.floor(n / rn);
    }
    return out;
  }
  for (let i = m - 1; i >= 0; i--) {
    out[i] = Number(v % r);
    v /= r;
  }
  return out;
}
