// The gateway's own pages as a client of the demo authorization server: the names both sides
// share and the sign-in settings. Kept apart from auth-server.ts so a gateway that runs no demo
// server never loads oidc-provider (about 28 MB of resident memory).
import type { SignInSettings } from './sign-in.js';

export const DEMO_WEB_CLIENT_ID = 'bqwarden-web';
/**
 * The one scope of the gateway resource. The gateway publishes it (protected-resource metadata,
 * WWW-Authenticate) so MCP clients ask for it; a request naming no scope gets it by default
 * (OAuth 2.1 §3.2.2.1 allows a pre-defined default).
 */
export const DEMO_SCOPE = 'mcp';
/**
 * The pages' sign-in settings against the embedded server. Server-side calls (discovery, token)
 * go over loopback: the public URL may not be reachable from the gateway itself (a proxy in
 * front, or a name only browsers resolve); URLs are built from the issuer either way.
 */
export function demoSignIn(opts: { issuer: string; resource: string; secret: string; loopback: string }): Omit<SignInSettings, 'redirectUri' | 'postLogoutRedirectUri'> {
  const publicOrigin = new URL(opts.issuer).origin;
  const viaLoopback = ((input: string | URL | Request, init?: RequestInit) => {
    const url = input instanceof Request ? input.url : String(input);
    return fetch(url.startsWith(publicOrigin) ? opts.loopback + url.slice(publicOrigin.length) : url, init);
  }) as typeof fetch;
  return {
    issuer: opts.issuer,
    clientId: DEMO_WEB_CLIENT_ID,
    clientSecret: opts.secret,
    scopes: ['openid', 'email', 'profile', DEMO_SCOPE],
    resource: opts.resource,
    identityToken: 'access_token',
    fetch: viaLoopback,
  };
}
