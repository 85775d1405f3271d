// Verifies JWT access tokens of one OIDC/OAuth issuer with jose: keys from the issuer's JWKS
// (found through OIDC discovery unless configured), signature with an algorithm allow-list,
// then iss, aud, exp/nbf/iat with a clock tolerance and the required claims.
import { createRemoteJWKSet, customFetch, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { AuthError } from './types.js';
import { fromJoseError, jwksUnavailable } from './errors.js';
import { isSecureOrLoopback, type IdentityConfig, type IssuerConfig } from './config.js';

export interface VerifyTuning {
  clockToleranceSeconds: number;
  jwksCacheMaxAgeSeconds: number;
  jwksCooldownSeconds: number;
  jwksTimeoutMs: number;
  fetch?: typeof fetch;
}

export function tuningOf(config: IdentityConfig, fetchImpl?: typeof fetch): VerifyTuning {
  return {
    clockToleranceSeconds: config.clockToleranceSeconds,
    jwksCacheMaxAgeSeconds: config.jwksCacheMaxAgeSeconds,
    jwksCooldownSeconds: config.jwksCooldownSeconds,
    jwksTimeoutMs: config.jwksTimeoutMs,
    fetch: fetchImpl,
  };
}

/** `<issuer>/.well-known/openid-configuration` → jwks_uri, after checking the document names the same issuer. */
async function discoverJwksUri(issuer: string, t: VerifyTuning): Promise<string> {
  const url = `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
  const res = await (t.fetch ?? fetch)(url, {
    headers: { accept: 'application/json' },
    redirect: 'manual',
    signal: AbortSignal.timeout(t.jwksTimeoutMs),
  });
  if (res.status !== 200) throw new Error(`discovery document ${url} answered HTTP ${res.status}`);
  const doc = (await res.json()) as Record<string, unknown>;
  // OpenID Connect Discovery §4.3: a document for another issuer must not be used (mix-up attacks).
  if (doc.issuer !== issuer) throw new Error(`discovery document names issuer ${String(doc.issuer)}, expected ${issuer}`);
  if (typeof doc.jwks_uri !== 'string' || !isSecureOrLoopback(doc.jwks_uri)) throw new Error('discovery document has no usable https jwks_uri');
  return doc.jwks_uri;
}

/**
 * A key resolver that fails closed: any failure to obtain keys becomes `jwks_unavailable`, while
 * "no key with that kid" stays distinguishable (jose refetches once, within its cooldown).
 */
function remoteKeys(issuer: IssuerConfig, t: VerifyTuning): JWTVerifyGetKey {
  let jwksUriPromise: Promise<string> | null = null;
  let remote: ReturnType<typeof createRemoteJWKSet> | null = null;
  const resolveUri = (): Promise<string> => {
    if (issuer.jwksUri) return Promise.resolve(issuer.jwksUri);
    jwksUriPromise ??= discoverJwksUri(issuer.issuer, t).catch((err) => {
      jwksUriPromise = null; // retry discovery on the next request instead of caching the failure
      throw err;
    });
    return jwksUriPromise;
  };
  return async (header, token) => {
    let uri: string;
    try {
      uri = await resolveUri();
    } catch (err) {
      throw jwksUnavailable(issuer.issuer, err);
    }
    remote ??= createRemoteJWKSet(new URL(uri), {
      cacheMaxAge: t.jwksCacheMaxAgeSeconds * 1000,
      cooldownDuration: t.jwksCooldownSeconds * 1000,
      timeoutDuration: t.jwksTimeoutMs,
      ...(t.fetch ? { [customFetch]: t.fetch } : {}),
    });
    try {
      return await remote(header, token);
    } catch (err) {
      const name = (err as { code?: string })?.code;
      if (name === 'ERR_JWKS_NO_MATCHING_KEY' || name === 'ERR_JWKS_MULTIPLE_MATCHING_KEYS' || name === 'ERR_JOSE_NOT_SUPPORTED') throw err;
      throw jwksUnavailable(issuer.issuer, err);
    }
  };
}

export interface JwtVerifier {
  verify(token: string): Promise<JWTPayload>;
}

export function createJwtVerifier(issuer: IssuerConfig, defaultAudiences: string[], t: VerifyTuning, keys: JWTVerifyGetKey = remoteKeys(issuer, t)): JwtVerifier {
  const audience = issuer.audiences ?? defaultAudiences;
  const requiredClaims = [...new Set(['sub', 'exp', 'iss', 'aud', ...issuer.requiredClaims])];
  return {
    async verify(token) {
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, keys, {
          issuer: issuer.issuer,
          audience,
          algorithms: issuer.algorithms,
          clockTolerance: t.clockToleranceSeconds,
          requiredClaims,
        }));
      } catch (err) {
        throw fromJoseError(err, issuer.issuer);
      }
      // jose checks iat only together with maxTokenAge; a token "issued" in the future is a
      // clock or forgery problem either way.
      if (typeof payload.iat === 'number' && payload.iat > Date.now() / 1000 + t.clockToleranceSeconds) {
        throw new AuthError('not_yet_valid', 'token "iat" is in the future beyond the clock tolerance');
      }
      if (typeof payload.sub !== 'string' || payload.sub.length === 0) throw new AuthError('missing_claim', 'token "sub" claim must be a non-empty string');
      return payload;
    },
  };
}
