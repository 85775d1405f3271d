// Google-signed tokens, verified with google-auth-library (Google's own client, which tracks
// Google's certificate endpoints and formats): Google ID tokens (users, service accounts, CI
// with workload identity) and the IAP assertion header set by Identity-Aware Proxy.
//
// The library does not check the header's alg and allows 5 minutes of clock skew, so we check
// alg before it runs and re-apply our own (usually stricter) clock tolerance after it.
import { OAuth2Client } from 'google-auth-library';
import { decodeProtectedHeader } from 'jose';
import { AuthError } from './types.js';
import { fromGoogleError } from './errors.js';
import { GOOGLE_ID_TOKEN_ISSUERS, IAP_ISSUER } from './config.js';
import type { Claims } from './claims.js';

function checkAlg(token: string, allowed: string, what: string): void {
  let alg: unknown;
  try {
    alg = decodeProtectedHeader(token).alg;
  } catch {
    throw new AuthError('malformed_token', `${what}: token header is not a JWS header`);
  }
  if (alg !== allowed) throw new AuthError('alg_not_allowed', `${what}: algorithm ${String(alg).slice(0, 20)} is not allowed (expected ${allowed})`);
}

function checkTimes(claims: Claims, toleranceSeconds: number, what: string): void {
  const now = Date.now() / 1000;
  if (typeof claims.exp !== 'number') throw new AuthError('missing_claim', `${what}: token is missing the required "exp" claim`);
  if (claims.exp <= now - toleranceSeconds) throw new AuthError('expired', `${what}: token expired`);
  for (const c of ['iat', 'nbf'] as const) {
    const v = claims[c];
    if (typeof v === 'number' && v > now + toleranceSeconds) throw new AuthError('not_yet_valid', `${what}: "${c}" is in the future beyond the clock tolerance`);
  }
  if (typeof claims.sub !== 'string' || claims.sub.length === 0) throw new AuthError('missing_claim', `${what}: token is missing the "sub" claim`);
}

export interface GoogleTokenVerifier {
  verify(token: string): Promise<Claims>;
}

export function createGoogleIdTokenVerifier(opts: { audiences: string[]; certsUrl: string; hostedDomains?: string[]; clockToleranceSeconds: number }): GoogleTokenVerifier {
  const what = 'Google ID token';
  const client = new OAuth2Client({
    endpoints: { oauth2FederatedSignonPemCertsUrl: opts.certsUrl },
    issuers: [...GOOGLE_ID_TOKEN_ISSUERS],
  });
  return {
    async verify(token) {
      checkAlg(token, 'RS256', what);
      let claims: Claims;
      try {
        const ticket = await client.verifyIdToken({ idToken: token, audience: opts.audiences });
        claims = (ticket.getPayload() ?? {}) as Claims;
      } catch (err) {
        throw fromGoogleError(err, what, 'google_token_invalid');
      }
      checkTimes(claims, opts.clockToleranceSeconds, what);
      if (opts.hostedDomains && !(typeof claims.hd === 'string' && opts.hostedDomains.includes(claims.hd))) {
        throw new AuthError('google_token_invalid', `${what}: account is not in an allowed Workspace domain (hd)`);
      }
      return claims;
    },
  };
}

/**
 * IAP signs with ES256 keys published at publicKeyUrl; the library fetches them but does not
 * cache, so we keep them for a few minutes and refetch early when an unknown kid shows up
 * (key rotation), at most once per cooldown.
 */
export function createIapVerifier(opts: { audience: string; publicKeyUrl: string; clockToleranceSeconds: number; cacheSeconds?: number; cooldownSeconds?: number }): GoogleTokenVerifier {
  const what = 'IAP assertion';
  const client = new OAuth2Client({ endpoints: { oauth2IapPublicKeyUrl: opts.publicKeyUrl } });
  const cacheMs = (opts.cacheSeconds ?? 600) * 1000;
  const cooldownMs = (opts.cooldownSeconds ?? 30) * 1000;
  let keys: Record<string, string> | null = null;
  let fetchedAt = 0;

  const load = async (force: boolean): Promise<Record<string, string>> => {
    if (keys && !force && Date.now() - fetchedAt < cacheMs) return keys;
    try {
      const { pubkeys } = await client.getIapPublicKeys();
      keys = pubkeys as Record<string, string>;
      fetchedAt = Date.now();
      return keys;
    } catch (err) {
      throw fromGoogleError(err, what, 'iap_invalid');
    }
  };
  const verifyWith = async (token: string, certs: Record<string, string>): Promise<Claims> => {
    const ticket = await client.verifySignedJwtWithCertsAsync(token, certs, opts.audience, [IAP_ISSUER]);
    return (ticket.getPayload() ?? {}) as Claims;
  };

  return {
    async verify(token) {
      checkAlg(token, 'ES256', what);
      let claims: Claims;
      try {
        let certs = await load(false);
        try {
          claims = await verifyWith(token, certs);
        } catch (err) {
          const unknownKid = err instanceof Error && err.message.startsWith('No pem found');
          if (!unknownKid || Date.now() - fetchedAt < cooldownMs) throw err;
          certs = await load(true);
          claims = await verifyWith(token, certs);
        }
      } catch (err) {
        throw fromGoogleError(err, what, 'iap_invalid');
      }
      checkTimes(claims, opts.clockToleranceSeconds, what);
      return claims;
    },
  };
}
