// Pseudonymisation keys. One master key (from config or a mounted secret) is split with HKDF
// into a subkey per use, so a token from one method can never be replayed as another.
import { hkdfSync } from 'node:crypto';

export interface PseudonymKey {
  id: string;
  /** HMAC key for `pseudonym` tokens and detector tokens. */
  token: Buffer;
  /** Round-function key for `pseudonym_fpe`. */
  fpe: Buffer;
}

const MIN_BYTES = 32;

/** Key text is hex (64+ hex chars), else base64 (decoding to 32+ bytes), else raw UTF-8 bytes. */
export function decodeKey(id: string, material: string): PseudonymKey {
  const text = material.trim();
  let raw: Buffer;
  if (/^[0-9a-fA-F]+$/.test(text) && text.length % 2 === 0 && text.length >= MIN_BYTES * 2) raw = Buffer.from(text, 'hex');
  else if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(text) && Buffer.from(text, 'base64').length >= MIN_BYTES) raw = Buffer.from(text, 'base64');
  else raw = Buffer.from(text, 'utf8');
  if (raw.length < MIN_BYTES) throw new Error(`key is ${raw.length} bytes; at least ${MIN_BYTES} bytes are required`);
  const derive = (info: string) => Buffer.from(hkdfSync('sha256', raw, Buffer.alloc(0), `bqwarden/masking/${info}/v1`, 32));
  return { id, token: derive('token'), fpe: derive('fpe') };
}
