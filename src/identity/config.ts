// Configuration for the identity section: which token issuers the gateway trusts, how their
// claims become groups and actor types, Google ID tokens / IAP, the demo-only dev issuer and
// the gateway's own credential for the upstream. Every field has a safe default so an empty
// section is a valid (and locked-down: no issuer trusted) configuration.
import { z } from 'zod';

const ALLOWED_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;
// Symmetric algorithms (HS*) are deliberately absent: a resource server verifying with a
// shared secret would also be able to mint tokens, and HS256 is the key-confusion vector.

const DEFAULT_ALGORITHMS = ['RS256', 'ES256', 'PS256', 'EdDSA'] as const;

export const GOOGLE_ID_TOKEN_ISSUERS = ['https://accounts.google.com', 'accounts.google.com'] as const;
export const IAP_ISSUER = 'https://cloud.google.com/iap';
export const IAP_HEADER = 'x-goog-iap-jwt-assertion';
const IAP_AUDIENCE = /^\/projects\/\d+\/(locations\/[a-z0-9-]+\/services\/[a-z0-9-]+|global\/backendServices\/\d+|apps\/[a-z0-9:.-]+)$/;

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/** https everywhere except loopback, where the demo and tests run plain http. */
export function isSecureOrLoopback(url: string): boolean {
  try {
    const u = new URL(url);
    if (u.protocol === 'https:') return true;
    return u.protocol === 'http:' && LOOPBACK_HOSTS.has(u.hostname);
  } catch {
    return false;
  }
}

/** A URL setting that must be https (http only for loopback): issuers, JWKS, sign-in endpoints. */
export const secureUrl = (what: string) =>
  z.string({ error: `${what} must be a URL string` }).refine((v) => isSecureOrLoopback(v), { message: `${what} must be an https URL (plain http is only allowed for 127.0.0.1/localhost)` });

export const ACTOR_TYPES_ASSIGNABLE = ['human', 'ci', 'agent', 'service'] as const;
export type AssignableActorType = (typeof ACTOR_TYPES_ASSIGNABLE)[number];

/**
 * One actor-type rule. Every condition given must hold (AND); rules are tried in order and the
 * first match wins. Examples: `{ actorType: service, emailSuffix: .iam.gserviceaccount.com }`,
 * `{ actorType: agent, claim: azp, values: [<agent client id>] }`, `{ actorType: ci, group: ci-runners }`.
 */
const ActorTypeRuleSchema = z
  .object({
    actorType: z.enum(ACTOR_TYPES_ASSIGNABLE),
    group: z.string().min(1).optional(),
    claim: z.string().min(1).optional(),
    values: z.array(z.string()).min(1).optional(),
    emailSuffix: z.string().min(1).optional(),
  })
  .strict()
  .refine((r) => r.group !== undefined || r.claim !== undefined || r.emailSuffix !== undefined, {
    message: 'an actor-type rule needs at least one condition: group, claim (+ values) or emailSuffix',
  })
  .refine((r) => (r.claim === undefined) === (r.values === undefined), {
    message: 'claim and values go together: a claim rule names the claim and the values that select it',
  });
export type ActorTypeRule = z.infer<typeof ActorTypeRuleSchema>;

const IssuerConfigSchema = z
  .object({
    /** Exact `iss` value the tokens carry (e.g. https://login.microsoftonline.com/<tenant>/v2.0). */
    issuer: secureUrl('issuer'),
    /** Fetch `<issuer>/.well-known/openid-configuration` to find jwks_uri. */
    discovery: z.boolean().default(true),
    /** Used as-is when given (skips discovery). */
    jwksUri: secureUrl('jwksUri').optional(),
    /** Accepted `aud` values; defaults to [resource]. */
    audiences: z.array(z.string().min(1)).min(1).optional(),
    algorithms: z
      .array(z.enum(ALLOWED_ALGORITHMS))
      .min(1)
      .default([...DEFAULT_ALGORITHMS]),
    /** Claim name, or a dotted path (realm_access.roles). A claim whose literal name contains dots wins over the path reading. */
    groupsClaim: z.string().min(1).default('groups'),
    emailClaim: z.string().min(1).default('email'),
    nameClaim: z.string().min(1).default('name'),
    /** Extra claims every token of this issuer must carry (sub and exp are always required). */
    requiredClaims: z.array(z.string().min(1)).default([]),
    actorTypes: z.array(ActorTypeRuleSchema).default([]),
    defaultActorType: z.enum(ACTOR_TYPES_ASSIGNABLE).default('human'),
  })
  .strict()
  .refine((i) => i.discovery || i.jwksUri !== undefined, {
    message: 'jwksUri is required when discovery is false',
    path: ['jwksUri'],
  });
export type IssuerConfig = z.infer<typeof IssuerConfigSchema>;

const GoogleIdTokenConfigSchema = z
  .object({
    /** Accepted `aud` values (OAuth client ids, or the URL a service account asked an ID token for). */
    audiences: z.array(z.string().min(1)).min(1),
    /** Where Google's signing certificates are published; overridable for tests and air-gapped mirrors. */
    certsUrl: secureUrl('certsUrl').default('https://www.googleapis.com/oauth2/v1/certs'),
    /** When set, the token's `hd` (Workspace domain) must be one of these. */
    hostedDomains: z.array(z.string().min(1)).optional(),
    actorTypes: z.array(ActorTypeRuleSchema).default([]),
    defaultActorType: z.enum(ACTOR_TYPES_ASSIGNABLE).default('human'),
  })
  .strict();

const IapConfigSchema = z
  .object({
    /**
     * The `aud` IAP puts in its assertion, one per kind of resource IAP fronts:
     * /projects/<project number>/locations/<region>/services/<service> (IAP enabled directly on
     * a Cloud Run service), /projects/<number>/global/backendServices/<id> (behind an external
     * HTTPS load balancer) or /projects/<number>/apps/<project id> (App Engine).
     */
    audience: z.string().regex(IAP_AUDIENCE, {
      message:
        'audience must look like /projects/<number>/locations/<region>/services/<service> (Cloud Run), /projects/<number>/global/backendServices/<id> (load balancer) or /projects/<number>/apps/<project id> (App Engine)',
    }),
    /** When true a request without the IAP header is refused (the gateway is only reachable through IAP). */
    required: z.boolean().default(true),
    publicKeyUrl: secureUrl('publicKeyUrl').default('https://www.gstatic.com/iap/verify/public_key'),
    actorTypes: z.array(ActorTypeRuleSchema).default([]),
    defaultActorType: z.enum(ACTOR_TYPES_ASSIGNABLE).default('human'),
  })
  .strict();

const DevIssuerConfigSchema = z
  .object({
    enabled: z.boolean().default(false),
    /** Defaults to <origin of resource>/dev-issuer. */
    issuer: secureUrl('devIssuer.issuer').optional(),
    /** Defaults to BQWARDEN_DATA (else data/ in the checkout). */
    dataDir: z.string().min(1).optional(),
    /** Lifetime of the access tokens its authorization server issues to MCP clients and the pages. */
    accessTokenTtlSeconds: z
      .number()
      .int()
      .min(1)
      .max(24 * 3600)
      .default(3600),
    /** Lifetime of its refresh tokens (rotated on every use). */
    refreshTokenTtlSeconds: z
      .number()
      .int()
      .min(60)
      .max(90 * 24 * 3600)
      .default(14 * 24 * 3600),
  })
  .strict();

const BIGQUERY_SCOPE = 'https://www.googleapis.com/auth/bigquery';
export const CLOUD_PLATFORM_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';

export const UpstreamCredentialConfigSchema = z
  .discriminatedUnion('type', [
    /** Local toolbox sidecar on loopback: no credential. */
    z.object({ type: z.literal('none') }).strict(),
    /** A bearer secret read from a file (mounted secret), never from the config itself. */
    z.object({ type: z.literal('static_bearer'), secretFile: z.string().min(1) }).strict(),
    /** Google's managed BigQuery MCP endpoint: an OAuth access token from Application Default Credentials. */
    z
      .object({
        type: z.literal('google'),
        scopes: z.array(z.string().min(1)).min(1).default([BIGQUERY_SCOPE]),
        /** Service-account key file; omit to use ADC (workload identity, metadata server, gcloud). */
        keyFile: z.string().min(1).optional(),
        /** Billing/quota project sent as x-goog-user-project. */
        quotaProjectId: z.string().min(1).optional(),
      })
      .strict(),
    /**
     * A short-lived access token of another service account, minted per use through the IAM
     * Credentials API with the gateway's own identity (roles/iam.serviceAccountTokenCreator on
     * that account only). Used for the write path: an MCP Toolbox that holds no credential of
     * its own (BIGQUERY_USE_CLIENT_OAUTH) runs approved statements with this token.
     */
    z
      .object({
        type: z.literal('google_impersonated'),
        targetPrincipal: z.string().regex(/^[^@\s]+@[^@\s]+\.iam\.gserviceaccount\.com$/, { message: 'targetPrincipal must be a service account email (…@….iam.gserviceaccount.com)' }),
        scopes: z.array(z.string().min(1)).min(1).default([BIGQUERY_SCOPE]),
        /** Token lifetime; the library refreshes shortly before it ends. */
        lifetimeSeconds: z.number().int().min(60).max(3600).default(600),
        delegates: z.array(z.string().min(1)).default([]),
        /** IAM Credentials endpoint; overridable for tests and private endpoints. */
        endpoint: secureUrl('endpoint').default('https://iamcredentials.googleapis.com'),
      })
      .strict(),
  ])
  .default({ type: 'none' });
export type UpstreamCredentialConfig = z.infer<typeof UpstreamCredentialConfigSchema>;

export const IdentityConfigSchema = z
  .object({
    /** Canonical URI of this MCP endpoint; every token's audience must name it (MCP authorization, RFC 8707). */
    resource: secureUrl('resource').default('http://127.0.0.1:8080/mcp'),
    resourceName: z.string().min(1).default('bqwarden'),
    scopesSupported: z.array(z.string().min(1)).default([]),
    issuers: z.array(IssuerConfigSchema).default([]),
    clockToleranceSeconds: z.number().int().min(0).max(300).default(30),
    jwksCacheMaxAgeSeconds: z.number().int().min(0).default(600),
    /** Minimum gap between JWKS refetches triggered by an unknown kid (limits refetch storms). */
    jwksCooldownSeconds: z.number().int().min(0).default(30),
    jwksTimeoutMs: z.number().int().min(100).max(60_000).default(5000),
    /** How long a verified token is remembered (never past its exp, nor longer than
     * jwksCacheMaxAgeSeconds); 0 verifies every request. */
    verifiedTokenCacheSeconds: z.number().int().min(0).max(300).default(60),
    /** Rules tried after an issuer's own rules. */
    actorTypes: z.array(ActorTypeRuleSchema).default([{ actorType: 'service', emailSuffix: '.iam.gserviceaccount.com' }]),
    google: z
      .object({
        idTokens: GoogleIdTokenConfigSchema.optional(),
        iap: IapConfigSchema.optional(),
      })
      .strict()
      .default({}),
    devIssuer: DevIssuerConfigSchema.prefault({ enabled: false }),
    upstreamCredential: UpstreamCredentialConfigSchema,
  })
  .strict()
  .superRefine((c, ctx) => {
    const seen = new Set<string>();
    c.issuers.forEach((i, n) => {
      if (seen.has(i.issuer)) ctx.addIssue({ code: 'custom', path: ['issuers', n, 'issuer'], message: `issuer ${i.issuer} is listed twice` });
      seen.add(i.issuer);
    });
  });
export type IdentityConfig = z.infer<typeof IdentityConfigSchema>;
export type IdentityConfigInput = z.input<typeof IdentityConfigSchema>;

/** Parse with errors that name the bad key, e.g. `identity.issuers.0.jwksUri: …`. */
export function parseIdentityConfig(input: unknown, prefix = 'identity'): IdentityConfig {
  const r = IdentityConfigSchema.safeParse(input ?? {});
  if (r.success) return r.data;
  const lines = r.error.issues.map((i) => `  ${[prefix, ...i.path.map(String)].join('.')}: ${i.message}`);
  throw new Error(`invalid identity configuration:\n${lines.join('\n')}`);
}

/** The dev issuer's URL: configured, else the resource's origin + /dev-issuer. */
export function devIssuerUrl(config: IdentityConfig): string {
  return config.devIssuer.issuer ?? `${new URL(config.resource).origin}/dev-issuer`;
}
