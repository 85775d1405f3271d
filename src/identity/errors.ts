// Every way a token can fail becomes one specific AuthError code, because the code is what the
// audit event records and what an examiner filters on. Messages are ours, never the library's
// raw text: google-auth-library puts the whole token into some of its messages, and a bearer
// token must not reach logs or the audit trail.
import { errors as jose } from 'jose';
import { AuthError } from './types.js';

type Code = AuthError['code'];

export function fromJoseError(err: unknown, issuer: string): AuthError {
  if (err instanceof AuthError) return err;
  if (err instanceof jose.JWTExpired) return new AuthError('expired', `token expired (${err.claim} check failed)`);
  if (err instanceof jose.JWTClaimValidationFailed) {
    if (err.reason === 'missing') return new AuthError('missing_claim', `token is missing the required "${err.claim}" claim`);
    switch (err.claim) {
      case 'nbf':
      case 'iat':
        return new AuthError('not_yet_valid', `token is not valid yet ("${err.claim}" is in the future beyond the clock tolerance)`);
      case 'iss':
        return new AuthError('wrong_issuer', `token issuer does not match the trusted issuer ${issuer}`);
      case 'aud':
        return new AuthError('wrong_audience', 'token audience does not name this resource');
      default:
        return new AuthError('missing_claim', `token claim "${err.claim}" is invalid: ${err.message}`);
    }
  }
  if (err instanceof jose.JOSEAlgNotAllowed) return new AuthError('alg_not_allowed', 'token signing algorithm is not on the allow-list');
  if (err instanceof jose.JWSSignatureVerificationFailed) return new AuthError('bad_signature', 'token signature does not verify');
  if (err instanceof jose.JWKSNoMatchingKey) return new AuthError('unknown_kid', `no key of issuer ${issuer} matches the token's kid/alg`);
  if (err instanceof jose.JWKSMultipleMatchingKeys) return new AuthError('unknown_kid', `several keys of issuer ${issuer} match the token; it must name a kid`);
  if (err instanceof jose.JWKSTimeout || err instanceof jose.JWKSInvalid) return jwksUnavailable(issuer, err);
  if (err instanceof jose.JOSENotSupported) return new AuthError('alg_not_allowed', `token uses an unsupported algorithm or key type: ${err.message}`);
  if (err instanceof jose.JWSInvalid || err instanceof jose.JWTInvalid) return new AuthError('malformed_token', `token is malformed: ${err.message}`);
  if (err instanceof jose.JOSEError) return new AuthError('malformed_token', `token could not be verified (${err.code})`);
  // Reached only by bugs or exotic key material; refuse rather than guess.
  return new AuthError('malformed_token', `token could not be verified (${err instanceof Error ? err.name : 'unknown error'})`);
}

export function jwksUnavailable(issuer: string, err: unknown): AuthError {
  const why = err instanceof Error ? err.message.slice(0, 200) : String(err);
  return new AuthError('jwks_unavailable', `signing keys of issuer ${issuer} could not be fetched: ${why}`);
}

/**
 * google-auth-library throws plain Errors; the first words of the message say which check
 * failed. `fallback` (iap_invalid / google_token_invalid) covers anything not recognised.
 */
export function fromGoogleError(err: unknown, what: string, fallback: Code): AuthError {
  if (err instanceof AuthError) return err;
  const message = err instanceof Error ? err.message : '';
  const table: Array<[string, Code, string]> = [
    ['Failed to retrieve verification certificates', 'jwks_unavailable', 'signing certificates could not be fetched'],
    ['Wrong number of segments', 'malformed_token', 'token is not a compact JWS'],
    ["Can't parse token", 'malformed_token', 'token header or payload is not JSON'],
    ['No pem found for envelope', 'unknown_kid', "no published key matches the token's kid"],
    ['Invalid token signature', 'bad_signature', 'token signature does not verify'],
    ['No issue time in token', 'missing_claim', 'token is missing the required "iat" claim'],
    ['No expiration time in token', 'missing_claim', 'token is missing the required "exp" claim'],
    ['iat field using invalid format', 'malformed_token', '"iat" is not a number'],
    ['exp field using invalid format', 'malformed_token', '"exp" is not a number'],
    ['Expiration time too far in future', fallback, 'token lifetime is longer than allowed'],
    ['Token used too early', 'not_yet_valid', 'token is not valid yet'],
    ['Token used too late', 'expired', 'token expired'],
    ['Invalid issuer', 'wrong_issuer', 'token issuer is not the expected one'],
    ['Wrong recipient', 'wrong_audience', 'token audience is not configured for this gateway'],
  ];
  for (const [prefix, code, text] of table) if (message.startsWith(prefix)) return new AuthError(code, `${what}: ${text}`);
  return new AuthError(fallback, `${what}: could not be verified`);
}
