// OpenID Connect sign-in for the browser pages, as a relying party built on openid-client:
// authorization code flow with PKCE (S256), state and nonce, against the bank's identity
// provider in production or the embedded demo authorization server. The token it returns is
// handed to the gateway's own authenticator, so a person signed in to the console is verified
// by exactly the rules that verify their MCP calls.
import { randomBytes } from 'node:crypto';
import * as oidc from 'openid-client';
import { BqwardenError, type ErrorCode } from '../common/errors.js';

export interface SignInSettings {
  issuer: string;
  clientId: string;
  /** Confidential client secret; null for a public client (PKCE only). */
  clientSecret: string | null;
  scopes: string[];
  /** RFC 8707 resource for the access token, or null to send none. */
  resource: string | null;
  identityToken: 'access_token' | 'id_token';
  /** Where the identity provider sends the browser back (…/auth/callback on the public URL). */
  redirectUri: string;
  /** Where it sends the browser after signing out there (…/auth/signed-out). */
  postLogoutRedirectUri: string;
  /** Server-side HTTP to the identity provider (the embedded one is reached over loopback). */
  fetch?: typeof fetch;
}

/** A sign-in in progress: what the callback must find to accept the response. */
interface Pending {
  state: string;
  nonce: string;
  verifier: string;
  next: string;
  expiresAt: number;
}

const PENDING_SECONDS = 600;
const MAX_PENDING = 10_000;

export class SignInError extends BqwardenError {
  constructor(
    readonly code: Extract<ErrorCode, 'idp_unavailable' | 'sign_in_expired' | 'idp_refused' | 'code_exchange_failed' | 'no_token'>,
    message: string,
  ) {
    super(code, message);
    this.name = 'SignInError';
  }
}

interface SignInResult {
  /** The token to verify with the gateway's authenticator. */
  token: string;
  idToken: string | null;
  next: string;
}

export interface SignIn {
  readonly settings: SignInSettings;
  /** Starts a sign-in: the flow id (for the browser's cookie) and the identity provider URL to go to. */
  start(next: string): Promise<{ flow: string; url: string }>;
  /** Finishes it from the callback URL (public form) and the flow id from the cookie. */
  finish(flow: string | undefined, callbackUrl: URL): Promise<SignInResult>;
  /** Where to send the browser to sign out at the identity provider too, when it supports that. */
  logoutUrl(idToken: string | null): Promise<string | null>;
}

export function createSignIn(settings: SignInSettings, now: () => number = Date.now): SignIn {
  const pending = new Map<string, Pending>();
  let config: Promise<oidc.Configuration> | null = null;

  const configuration = (): Promise<oidc.Configuration> => {
    config ??= (async () => {
      const issuer = new URL(settings.issuer);
      const auth = settings.clientSecret ? oidc.ClientSecretBasic(settings.clientSecret) : oidc.None();
      const options: oidc.DiscoveryRequestOptions = {};
      if (issuer.protocol === 'http:') options.execute = [oidc.allowInsecureRequests]; // loopback only (config refuses other http)
      if (settings.fetch) options[oidc.customFetch] = settings.fetch as oidc.CustomFetch;
      const c = await oidc.discovery(issuer, settings.clientId, settings.clientSecret ?? undefined, auth, options);
      if (settings.fetch) c[oidc.customFetch] = settings.fetch as oidc.CustomFetch;
      return c;
    })().catch((err) => {
      config = null; // try discovery again on the next sign-in
      throw new SignInError('idp_unavailable', `the identity provider ${settings.issuer} could not be reached: ${(err as Error).message}`);
    });
    return config;
  };

  const prune = () => {
    const t = now();
    for (const [k, p] of pending) if (p.expiresAt <= t) pending.delete(k);
    while (pending.size >= MAX_PENDING) pending.delete(pending.keys().next().value!);
  };

  return {
    settings,
    async start(next) {
      const c = await configuration();
      prune();
      const p: Pending = {
        state: oidc.randomState(),
        nonce: oidc.randomNonce(),
        verifier: oidc.randomPKCECodeVerifier(),
        next,
        expiresAt: now() + PENDING_SECONDS * 1000,
      };
      const flow = randomBytes(24).toString('base64url');
      pending.set(flow, p);
      const params: Record<string, string> = {
        redirect_uri: settings.redirectUri,
        scope: settings.scopes.join(' '),
        code_challenge: await oidc.calculatePKCECodeChallenge(p.verifier),
        code_challenge_method: 'S256',
        state: p.state,
        nonce: p.nonce,
      };
      if (settings.resource) params.resource = settings.resource;
      return { flow, url: oidc.buildAuthorizationUrl(c, params).href };
    },

    async finish(flow, callbackUrl) {
      const p = flow ? pending.get(flow) : undefined;
      // One use only: a replayed callback finds nothing.
      if (flow) pending.delete(flow);
      if (!p || p.expiresAt <= now()) throw new SignInError('sign_in_expired', 'this sign-in was not started here or took longer than 10 minutes; start again');
      const error = callbackUrl.searchParams.get('error');
      if (error) {
        const description = callbackUrl.searchParams.get('error_description');
        throw new SignInError('idp_refused', `the identity provider refused the sign-in: ${error}${description ? ` (${description})` : ''}`);
      }
      const c = await configuration();
      let tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers;
      try {
        tokens = await oidc.authorizationCodeGrant(
          c,
          callbackUrl,
          { pkceCodeVerifier: p.verifier, expectedState: p.state, expectedNonce: settings.scopes.includes('openid') ? p.nonce : undefined },
          settings.resource ? { resource: settings.resource } : undefined,
        );
      } catch (err) {
        throw new SignInError('code_exchange_failed', `the sign-in response could not be verified: ${(err as Error).message}`);
      }
      const token = settings.identityToken === 'id_token' ? tokens.id_token : tokens.access_token;
      if (!token) throw new SignInError('no_token', `the identity provider returned no ${settings.identityToken}`);
      return { token, idToken: tokens.id_token ?? null, next: p.next };
    },

    async logoutUrl(idToken) {
      let c: oidc.Configuration;
      try {
        c = await configuration();
      } catch {
        return null;
      }
      if (!c.serverMetadata().end_session_endpoint) return null;
      const params: Record<string, string> = { post_logout_redirect_uri: settings.postLogoutRedirectUri, client_id: settings.clientId };
      if (idToken) params.id_token_hint = idToken;
      return oidc.buildEndSessionUrl(c, params).href;
    },
  };
}
