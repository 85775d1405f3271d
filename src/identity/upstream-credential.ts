// The gateway's OWN credential towards the upstream MCP server. The client's token is never
// forwarded (MCP forbids token passthrough, and the upstream would then see — and trust — a
// token minted for the gateway); the upstream instead sees the gateway's service identity, and
// the audit trail is where the end user is recorded.
import { readFileSync, statSync } from 'node:fs';
import { GoogleAuth, Impersonated, type AuthClient, type GoogleAuthOptions } from 'google-auth-library';
import { CLOUD_PLATFORM_SCOPE, UpstreamCredentialConfigSchema, type UpstreamCredentialConfig } from './config.js';
import { BqwardenError } from '../common/errors.js';

export interface UpstreamCredential {
  readonly kind: UpstreamCredentialConfig['type'];
  /** Headers to add to every upstream request. Rejects (fail closed) when no credential can be produced. */
  headers(): Promise<Record<string, string>>;
}

export class UpstreamCredentialError extends BqwardenError {
  constructor(message: string) {
    super('upstream_credential_unavailable', message);
    this.name = 'UpstreamCredentialError';
  }
}

// RFC 6750 b64token: also rules out CR/LF, which would otherwise smuggle extra headers.
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

function staticBearer(secretFile: string): UpstreamCredential {
  // Re-read when the file changes so a rotated secret (mounted Secret Manager volume) takes effect without a restart.
  let cached: { mtimeMs: number; size: number; value: string } | null = null;
  return {
    kind: 'static_bearer',
    async headers() {
      let st;
      try {
        st = statSync(secretFile);
      } catch (err) {
        throw new UpstreamCredentialError(`upstreamCredential.secretFile ${secretFile} cannot be read: ${(err as NodeJS.ErrnoException).code ?? err}`);
      }
      if (!cached || cached.mtimeMs !== st.mtimeMs || cached.size !== st.size) {
        const value = readFileSync(secretFile, 'utf8').trim();
        if (value === '') throw new UpstreamCredentialError(`upstreamCredential.secretFile ${secretFile} is empty`);
        if (!B64TOKEN.test(value)) throw new UpstreamCredentialError(`upstreamCredential.secretFile ${secretFile} does not hold a single bearer token (whitespace or invalid characters)`);
        cached = { mtimeMs: st.mtimeMs, size: st.size, value };
      }
      return { authorization: `Bearer ${cached.value}` };
    },
  };
}

function google(config: Extract<UpstreamCredentialConfig, { type: 'google' }>, extra: GoogleAuthOptions): UpstreamCredential {
  // GoogleAuth caches the access token and refreshes it shortly before expiry.
  const auth = new GoogleAuth({
    scopes: config.scopes,
    ...(config.keyFile ? { keyFilename: config.keyFile } : {}),
    ...extra,
  });
  return {
    kind: 'google',
    async headers() {
      const out = await headersOf(auth, 'google');
      // Set here rather than through client options: credential files carry their own
      // quota_project_id, which would silently override the configured one.
      if (config.quotaProjectId) out['x-goog-user-project'] = config.quotaProjectId;
      return out;
    },
  };
}

/** Request headers of a google-auth-library client as a plain lower-case record. */
async function headersOf(client: { getRequestHeaders(): Promise<globalThis.Headers> }, what: string): Promise<Record<string, string>> {
  let h: globalThis.Headers;
  try {
    h = await client.getRequestHeaders();
  } catch (err) {
    throw new UpstreamCredentialError(`upstreamCredential (${what}): could not obtain an access token: ${(err as Error).message?.slice(0, 300)}`);
  }
  const out: Record<string, string> = {};
  h.forEach((value, name) => {
    out[name.toLowerCase()] = value;
  });
  if (!out.authorization) throw new UpstreamCredentialError(`upstreamCredential (${what}): credentials produced no Authorization header`);
  return out;
}

function impersonated(config: Extract<UpstreamCredentialConfig, { type: 'google_impersonated' }>, extra: GoogleAuthOptions): UpstreamCredential {
  // The source is the gateway's own identity (ADC: the Cloud Run service account); it needs
  // only the right to mint tokens for targetPrincipal, never the target's data rights.
  let client: Impersonated | null = null;
  const get = async (): Promise<Impersonated> => {
    if (client) return client;
    const sourceClient = (await new GoogleAuth({ scopes: [CLOUD_PLATFORM_SCOPE], ...extra }).getClient()) as AuthClient;
    client = new Impersonated({
      sourceClient,
      targetPrincipal: config.targetPrincipal,
      targetScopes: config.scopes,
      lifetime: config.lifetimeSeconds,
      delegates: config.delegates,
      endpoint: config.endpoint,
    });
    return client;
  };
  return {
    kind: 'google_impersonated',
    async headers() {
      let c: Impersonated;
      try {
        c = await get();
      } catch (err) {
        throw new UpstreamCredentialError(`upstreamCredential (google_impersonated ${config.targetPrincipal}): no source credential: ${(err as Error).message?.slice(0, 300)}`);
      }
      return headersOf(c, `google_impersonated ${config.targetPrincipal}`);
    },
  };
}

/**
 * @param googleAuthOptions extra GoogleAuth options (tests inject credentials and a local token
 *   endpoint; deployments can pass e.g. `credentials` from a secret manager).
 */
export function createUpstreamCredential(input: UpstreamCredentialConfig | unknown, googleAuthOptions: GoogleAuthOptions = {}): UpstreamCredential {
  const r = UpstreamCredentialConfigSchema.safeParse(input);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `  upstreamCredential${i.path.length ? '.' + i.path.join('.') : ''}: ${i.message}`);
    throw new UpstreamCredentialError(`invalid upstream credential configuration:\n${lines.join('\n')}`);
  }
  const config = r.data;
  switch (config.type) {
    case 'none':
      return { kind: 'none', headers: async () => ({}) };
    case 'static_bearer':
      return staticBearer(config.secretFile);
    case 'google':
      return google(config, googleAuthOptions);
    case 'google_impersonated':
      return impersonated(config, googleAuthOptions);
  }
}
