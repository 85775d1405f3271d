import { BqwardenError, type ErrorCode } from '../common/errors.js';
export const ACTOR_TYPES = ['human', 'ci', 'agent', 'service', 'anonymous'] as const;
export type ActorType = (typeof ACTOR_TYPES)[number];

export const AUTH_METHODS = ['oidc', 'google_id_token', 'iap', 'dev', 'none'] as const;
export type AuthMethod = (typeof AUTH_METHODS)[number];

/** A verified caller. Produced only by the identity layer after a token verified. */
export interface Identity {
  subject: string;
  email: string | null;
  issuer: string;
  groups: string[];
  /** Filled by policy (groups/users -> roles); empty until then. */
  roles: string[];
  actorType: ActorType;
  authMethod: AuthMethod;
  /** Token expiry (epoch seconds), used to bound sessions. */
  expiresAt: number | null;
  /** Display name for people reading audit views. */
  name: string | null;
}

/** Why a token was refused; the code (a catalog code) goes into the audit event's error_code. */
export type AuthErrorCode = Extract<
  ErrorCode,
  | 'missing_token'
  | 'malformed_token'
  | 'alg_not_allowed'
  | 'bad_signature'
  | 'unknown_kid'
  | 'expired'
  | 'not_yet_valid'
  | 'wrong_issuer'
  | 'wrong_audience'
  | 'missing_claim'
  | 'jwks_unavailable'
  | 'iap_invalid'
  | 'google_token_invalid'
>;

export class AuthError extends BqwardenError {
  constructor(
    readonly code: AuthErrorCode,
    message: string,
  ) {
    super(code, message);
    this.name = 'AuthError';
  }
}
