// The gateway's resource-server side of MCP authorization: take the request headers, find the
// one credential they carry, verify it against the issuer that minted it, and return an
// Identity — or throw an AuthError whose code says exactly why not (the transport answers 401
// with a WWW-Authenticate challenge and audits the code).
//
// The token is only ever read, never kept or forwarded: the transport strips the client's
// Authorization header before anything goes upstream (MCP forbids token passthrough).
import { createLocalJWKSet, decodeJwt, type JWTPayload } from 'jose';
import { AuthError, type AuthMethod, type Identity } from './types.js';
import {
  devIssuerUrl,
  GOOGLE_ID_TOKEN_ISSUERS,
  IAP_HEADER,
  IdentityConfigSchema,
  type ActorTypeRule,
  type AssignableActorType,
  type IdentityConfig,
  type IdentityConfigInput,
  type IssuerConfig,
} from './config.js';
import { readEmail, readGroups, readString, resolveActorType, type Claims } from './claims.js';
import { createJwtVerifier, tuningOf, type JwtVerifier } from './oidc-verifier.js';
import { createGoogleIdTokenVerifier, createIapVerifier, type GoogleTokenVerifier } from './google-verifier.js';
import { assertDevMode, DEV_ACTOR_TYPE_CLAIM, loadOrCreateDevIssuerKey } from './dev-issuer.js';
import { dataDir as defaultDataDir } from '../config/paths.js';
import { jwksUnavailable } from './errors.js';
import { createVerifiedTokens } from './verified-tokens.js';

export { protectedResourceMetadata, protectedResourceMetadataUrl, protectedResourceMetadataPaths, wwwAuthenticateHeader } from './resource-metadata.js';

type Headers = Record<string, string | string[] | undefined>;

export interface Authenticator {
  authenticate(headers: Headers): Promise<Identity>;
}

export interface AuthenticatorOptions {
  /** Used for OIDC discovery and JWKS fetches (tests, proxies). */
  fetch?: typeof fetch;
  /** Gateway mode; the dev issuer is only trusted in demo/dev. */
  mode?: string;
  /** Clock for the verified-token cache (tests). */
  now?: () => number;
}

/** RFC 6750 b64token; anything else in the Authorization header is not a bearer token. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
const MAX_TOKEN_LENGTH = 16 * 1024;

function header(headers: Headers, name: string): string | string[] | undefined {
  if (name in headers) return headers[name];
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === lower) return v;
  return undefined;
}

function single(headers: Headers, name: string): string | undefined {
  const v = header(headers, name);
  if (Array.isArray(v)) {
    // Two credentials in one request would let a proxy and the gateway disagree on who is calling.
    if (v.length > 1) throw new AuthError('malformed_token', `more than one ${name} header`);
    return v[0];
  }
  return v;
}

function bearerToken(headers: Headers): string {
  const raw = single(headers, 'authorization');
  if (raw === undefined || raw.trim() === '') throw new AuthError('missing_token', 'no bearer token: send "Authorization: Bearer <token>"');
  const token = /^Bearer +(\S+)\s*$/i.exec(raw)?.[1];
  if (token === undefined) throw new AuthError('malformed_token', 'Authorization header must be "Bearer <token>"');
  if (token.length > MAX_TOKEN_LENGTH) throw new AuthError('malformed_token', `bearer token longer than ${MAX_TOKEN_LENGTH} characters`);
  if (!B64TOKEN.test(token) || token.split('.').length !== 3) throw new AuthError('malformed_token', 'bearer token is not a signed JWT (header.payload.signature)');
  return token;
}

function printable(text: string): string {
  return JSON.stringify(text.slice(0, 200).replace(/[^\x20-\x7e]/g, '?'));
}

function unverifiedIssuer(token: string): string {
  let payload: JWTPayload;
  try {
    payload = decodeJwt(token);
  } catch {
    throw new AuthError('malformed_token', 'bearer token payload is not a JSON object');
  }
  if (typeof payload.iss !== 'string' || payload.iss.length === 0) throw new AuthError('missing_claim', 'token is missing the required "iss" claim');
  return payload.iss;
}

interface Route {
  method: AuthMethod;
  verify(token: string): Promise<Claims>;
  groupsClaim: string | null;
  emailClaim: string;
  nameClaim: string;
  rules: ActorTypeRule[];
  defaultActorType: AssignableActorType;
}

function toIdentity(route: Route, claims: Claims): Identity {
  const groups = route.groupsClaim ? readGroups(claims, route.groupsClaim) : [];
  const email = readEmail(claims, route.emailClaim);
  let actorType = resolveActorType(route.rules, route.defaultActorType, claims, groups, email);
  if (route.method === 'dev') {
    const claimed = claims[DEV_ACTOR_TYPE_CLAIM];
    if (claimed === 'human' || claimed === 'ci' || claimed === 'agent' || claimed === 'service') actorType = claimed;
  }
  return {
    subject: claims.sub as string,
    email,
    issuer: String(claims.iss),
    groups,
    roles: [],
    actorType,
    authMethod: route.method,
    expiresAt: typeof claims.exp === 'number' ? claims.exp : null,
    name: readString(claims, route.nameClaim),
  };
}

function oidcRoute(issuer: IssuerConfig, verifier: JwtVerifier, globalRules: ActorTypeRule[], method: AuthMethod = 'oidc'): Route {
  return {
    method,
    verify: (t) => verifier.verify(t) as Promise<Claims>,
    groupsClaim: issuer.groupsClaim,
    emailClaim: issuer.emailClaim,
    nameClaim: issuer.nameClaim,
    rules: [...issuer.actorTypes, ...globalRules],
    defaultActorType: issuer.defaultActorType,
  };
}

export function createAuthenticator(input: IdentityConfig | IdentityConfigInput, opts: AuthenticatorOptions = {}): Authenticator {
  const config = IdentityConfigSchema.parse(input);
  const tuning = tuningOf(config, opts.fetch);
  const routes = new Map<string, Route>();

  for (const issuer of config.issuers) {
    routes.set(issuer.issuer, oidcRoute(issuer, createJwtVerifier(issuer, [config.resource], tuning), config.actorTypes));
  }

  if (config.devIssuer.enabled) {
    assertDevMode(opts.mode);
    const url = devIssuerUrl(config);
    if (routes.has(url)) throw new Error(`identity.devIssuer.issuer ${url} is also listed in identity.issuers`);
    const dev = devIssuerEntry(url);
    // The key is read from the data directory rather than fetched from our own HTTP route:
    // same trust (whoever can read the key can mint), no self-request at startup.
    const dir = config.devIssuer.dataDir ?? defaultDataDir();
    let keys: Promise<ReturnType<typeof createLocalJWKSet>> | null = null;
    const verifier = createJwtVerifier(dev, [config.resource], tuning, async (h, t) => {
      keys ??= loadOrCreateDevIssuerKey(dir).then((k) => createLocalJWKSet({ keys: [k.publicJwk] }));
      let local;
      try {
        local = await keys;
      } catch (err) {
        keys = null;
        throw jwksUnavailable(url, err);
      }
      return local(h, t);
    });
    routes.set(url, oidcRoute(dev, verifier, config.actorTypes, 'dev'));
  }

  const google = config.google.idTokens;
  if (google) {
    const verifier = createGoogleIdTokenVerifier({ ...google, clockToleranceSeconds: config.clockToleranceSeconds });
    const route: Route = {
      method: 'google_id_token',
      verify: (t) => verifier.verify(t),
      groupsClaim: null, // Google ID tokens carry no groups; policy maps users/service accounts to roles
      emailClaim: 'email',
      nameClaim: 'name',
      rules: [...google.actorTypes, ...config.actorTypes],
      defaultActorType: google.defaultActorType,
    };
    for (const iss of GOOGLE_ID_TOKEN_ISSUERS) {
      if (routes.has(iss)) throw new Error(`identity.issuers lists ${iss}; configure Google ID tokens under identity.google.idTokens instead`);
      routes.set(iss, route);
    }
  }

  const iapConfig = config.google.iap;
  let iap: { verifier: GoogleTokenVerifier; route: Route; required: boolean } | null = null;
  if (iapConfig) {
    const verifier = createIapVerifier({ ...iapConfig, clockToleranceSeconds: config.clockToleranceSeconds, cooldownSeconds: config.jwksCooldownSeconds });
    iap = {
      verifier,
      required: iapConfig.required,
      route: {
        method: 'iap',
        verify: (t) => verifier.verify(t),
        groupsClaim: null,
        emailClaim: 'email',
        nameClaim: 'name',
        rules: [...iapConfig.actorTypes, ...config.actorTypes],
        defaultActorType: iapConfig.defaultActorType,
      },
    };
  }

  // Never longer than the JWKS is cached: a key withdrawn by the issuer stops working no later
  // than it would without this cache.
  const verified = createVerifiedTokens(Math.min(config.verifiedTokenCacheSeconds, config.jwksCacheMaxAgeSeconds), opts.now);
  const verifyOnce = async (route: Route, token: string): Promise<Identity> => {
    // Keyed by the route too: a token verified as a bearer token says nothing about the IAP
    // verifier's audience, and the other way round.
    const key = `${route.method}\u0000${token}`;
    const known = verified.get(key);
    if (known) return known;
    const identity = toIdentity(route, await route.verify(token));
    verified.remember(key, identity);
    return identity;
  };

  return {
    async authenticate(headers) {
      if (iap) {
        // Only trusted when IAP is configured: without IAP in front, anyone could set this header.
        const assertion = single(headers, IAP_HEADER);
        if (assertion !== undefined && assertion !== '') {
          if (assertion.length > MAX_TOKEN_LENGTH || assertion.split('.').length !== 3) throw new AuthError('malformed_token', 'IAP assertion is not a signed JWT');
          return verifyOnce(iap.route, assertion);
        }
        if (iap.required) throw new AuthError('missing_token', `no ${IAP_HEADER} header: this gateway only accepts requests through Identity-Aware Proxy`);
      }
      const token = bearerToken(headers);
      const iss = unverifiedIssuer(token);
      const route = routes.get(iss);
      // The unverified issuer is attacker-chosen text headed for logs and the audit trail.
      if (!route) throw new AuthError('wrong_issuer', `token issuer ${printable(iss)} is not trusted by this gateway`);
      return verifyOnce(route, token);
    },
  };
}

/** The dev issuer as an ordinary issuer entry: ES256 only, groups in `groups`. */
function devIssuerEntry(url: string): IssuerConfig {
  return {
    issuer: url,
    discovery: false,
    jwksUri: `${url}/jwks.json`,
    algorithms: ['ES256'],
    groupsClaim: 'groups',
    emailClaim: 'email',
    nameClaim: 'name',
    requiredClaims: [],
    actorTypes: [],
    defaultActorType: 'human',
  };
}
