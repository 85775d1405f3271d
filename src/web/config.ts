// Configuration of the browser-facing pages (examiner console, approvals): how people sign in.
// In production that is the bank's identity provider through OpenID Connect (authorization code
// + PKCE), or Identity-Aware Proxy in front of the gateway; in the demo, the embedded
// authorization server (src/web/auth-server.ts) is used when nothing is configured.
import { z } from 'zod';
import { secureUrl } from '../identity/config.js';

const WebSignInSchema = z
  .object({
    /** The IdP's issuer URL (its discovery document is read from <issuer>/.well-known/openid-configuration). */
    issuer: secureUrl('web.signIn.issuer'),
    /** OAuth client registered at the IdP for this gateway's pages (a confidential web client). */
    clientId: z.string().min(1),
    /** File holding the client secret (a mounted secret); omit for a public client (PKCE only). */
    clientSecretFile: z.string().min(1).optional(),
    scopes: z.array(z.string().min(1)).min(1).default(['openid', 'email', 'profile']),
    /** RFC 8707 resource to ask the access token for; defaults to identity.resource. Set to false for IdPs that reject the parameter. */
    resource: z.union([z.string().min(1), z.literal(false)]).optional(),
    /**
     * Which token carries the identity the gateway verifies (with the same rules as MCP calls):
     * an access token for this gateway (Entra ID, Okta custom authorization servers), or the ID
     * token (Google, whose access tokens are opaque; its audience is the client id).
     */
    identityToken: z.enum(['access_token', 'id_token']).default('access_token'),
  })
  .strict();

export const WebConfigSchema = z
  .object({
    /** OpenID Connect sign-in; unset in the demo means the embedded authorization server. */
    signIn: WebSignInSchema.optional(),
    /** Longest a browser session lasts; never past the expiry of the token it was made from. */
    sessionSeconds: z
      .number()
      .int()
      .min(60)
      .max(24 * 3600)
      .default(8 * 3600),
  })
  .strict();
