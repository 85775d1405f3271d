// Tokens already verified, remembered briefly: an agent sends the same bearer token on every
// call, and verifying its signature (WebCrypto, plus the JWKS lookup) was the largest identity
// cost per call. An entry is the exact token (by SHA-256), so a token that differs in one byte —
// another signature, another claim — is verified from scratch; it lives until the token's own
// `exp` (never the clock tolerance beyond it) or `ttlSeconds` after verification, whichever comes
// first, so a key withdrawn from the issuer's JWKS stops working within that window.
import { createHash } from 'node:crypto';
import type { Identity } from './types.js';

export interface VerifiedTokens {
  /** The identity for a token verified before and still within its window, as a fresh copy. */
  get(token: string): Identity | null;
  remember(token: string, identity: Identity): void;
  readonly size: number;
}

const MAX_ENTRIES = 10_000;

const copy = (id: Identity): Identity => ({ ...id, groups: [...id.groups], roles: [...id.roles] });

export function createVerifiedTokens(ttlSeconds: number, now: () => number = Date.now): VerifiedTokens {
  const entries = new Map<string, { identity: Identity; until: number }>();
  const keyOf = (token: string) => createHash('sha256').update(token).digest('base64url');
  return {
    get(token) {
      if (ttlSeconds <= 0) return null;
      const key = keyOf(token);
      const hit = entries.get(key);
      if (!hit) return null;
      if (now() >= hit.until) {
        entries.delete(key);
        return null;
      }
      return copy(hit.identity);
    },
    remember(token, identity) {
      // A token without an expiry is verified every time: nothing says how long it holds.
      if (ttlSeconds <= 0 || identity.expiresAt === null) return;
      const until = Math.min(identity.expiresAt * 1000, now() + ttlSeconds * 1000);
      if (until <= now()) return;
      if (entries.size >= MAX_ENTRIES) {
        // Oldest first (Map keeps insertion order); expired ones go on the way.
        for (const [k, v] of entries) {
          entries.delete(k);
          if (entries.size < MAX_ENTRIES && v.until > now()) break;
        }
      }
      entries.set(keyOf(token), { identity: copy(identity), until });
    },
    get size() {
      return entries.size;
    },
  };
}
