// What the gateway tells MCP clients about how to get a token for it: the RFC 9728 protected
// resource metadata document, and the RFC 6750 WWW-Authenticate challenge on every 401 that
// points at it (MCP authorization 2025-06-18 / 2025-11-25).
import { devIssuerUrl, GOOGLE_ID_TOKEN_ISSUERS, IdentityConfigSchema, type IdentityConfig, type IdentityConfigInput } from './config.js';
import type { AuthError } from './types.js';

const WELL_KNOWN = '/.well-known/oauth-protected-resource';

function parse(config: IdentityConfig | IdentityConfigInput): IdentityConfig {
  return IdentityConfigSchema.parse(config);
}

/**
 * Paths to serve the document at: RFC 9728 §3.1 inserts the well-known segment before the
 * resource's path (/.well-known/oauth-protected-resource/mcp); MCP clients fall back to the
 * root form, so serve both.
 */
export function protectedResourceMetadataPaths(config: IdentityConfig | IdentityConfigInput): string[] {
  const path = new URL(parse(config).resource).pathname.replace(/\/+$/, '');
  return path ? [`${WELL_KNOWN}${path}`, WELL_KNOWN] : [WELL_KNOWN];
}

export function protectedResourceMetadataUrl(config: IdentityConfig | IdentityConfigInput): string {
  const c = parse(config);
  return `${new URL(c.resource).origin}${protectedResourceMetadataPaths(c)[0]}`;
}

export function protectedResourceMetadata(config: IdentityConfig | IdentityConfigInput): Record<string, unknown> {
  const c = parse(config);
  const servers = c.issuers.map((i) => i.issuer);
  if (c.google.idTokens) servers.push(GOOGLE_ID_TOKEN_ISSUERS[0]);
  if (c.devIssuer.enabled) servers.push(devIssuerUrl(c));
  const doc: Record<string, unknown> = {
    resource: c.resource,
    authorization_servers: servers,
    // Header only: tokens in query strings end up in access logs (MCP forbids them).
    bearer_methods_supported: ['header'],
    resource_name: c.resourceName,
  };
  if (c.scopesSupported.length > 0) doc.scopes_supported = c.scopesSupported;
  return doc;
}

/** RFC 6750 §3: quoted-string values may not hold `"` or `\`, and must be printable ASCII. */
function quoted(value: string): string {
  return value
    .replace(/[^\x20-\x7e]/g, ' ')
    .replace(/["\\]/g, "'")
    .slice(0, 300);
}

/**
 * `Bearer resource_metadata="…"` for a request without credentials (RFC 6750 §3.1: no error
 * code then), plus `error="invalid_token", error_description="…"` when a token was presented.
 */
export function wwwAuthenticateHeader(config: IdentityConfig | IdentityConfigInput, error?: AuthError | null): string {
  const c = parse(config);
  const parts = [`resource_metadata="${quoted(protectedResourceMetadataUrl(c))}"`];
  if (c.scopesSupported.length > 0) parts.push(`scope="${quoted(c.scopesSupported.join(' '))}"`);
  if (error && error.code !== 'missing_token') {
    parts.push('error="invalid_token"', `error_description="${quoted(`${error.code}: ${error.message}`)}"`);
  }
  return `Bearer ${parts.join(', ')}`;
}
