// The demo's authorization server: the dev issuer grown into a standards-complete OAuth 2.1 /
// OpenID Connect provider, built on the certified `oidc-provider` library rather than written by
// hand — discovery (RFC 8414 and OIDC), authorization code with PKCE (S256 only), dynamic client
// registration (RFC 7591), resource indicators (RFC 8707), rotating refresh tokens, revocation
// and RP-initiated logout. It signs with the dev issuer's key under the dev issuer's URL, so
// `bqwarden token` keeps minting tokens the same verifier accepts, and MCP clients that follow
// the gateway's protected-resource metadata find a real authorization endpoint there.
//
// Its login page lets the demo user pick who they are and which groups they hold: there is no
// password, which is why it refuses to exist outside demo/dev mode (like the dev issuer).
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import Provider, { errors, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import { ACTOR_TYPES_ASSIGNABLE, type AssignableActorType } from '../identity/config.js';
import { assertDevMode, DEV_ACTOR_TYPE_CLAIM, DEV_ISSUER_ALG, loadOrCreateDevIssuerKey } from '../identity/dev-issuer.js';
import type { Web } from './index.js';
import { esc } from './html.js';
import { createDemoStore } from './auth-server-store.js';
import { AUTH_BASE, authPage } from './pages.js';
import { DEMO_SCOPE, DEMO_WEB_CLIENT_ID } from './demo-client.js';

export { demoSignIn } from './demo-client.js';

/** The groups the login page offers (the demo policy's role names). */
const DEMO_GROUPS = ['analyst', 'pii-reader', 'engineer', 'approver', 'examiner', 'ci'] as const;

export interface DemoAuthServerOptions {
  /** Gateway mode; anything but demo/dev refuses. */
  mode: string | undefined;
  /** The dev issuer URL (…/dev-issuer); routes are mounted at its path. */
  issuer: string;
  /** The gateway's MCP resource URL: the only audience this server issues access tokens for. */
  resource: string;
  dataDir: string;
  accessTokenTtlSeconds?: number;
  refreshTokenTtlSeconds?: number;
  /** The gateway's own pages as a confidential client. */
  webClient?: { redirectUri: string; postLogoutRedirectUri: string; secret: string };
  /** Same-origin page plumbing for the login page (headers, forms, CSRF, Origin). */
  web?: Web;
}

export interface DemoAuthServer {
  issuer: string;
}

/** What the demo user chose on the login page; carried into every token of that grant. */
interface Profile {
  email: string | null;
  name: string;
  groups: string[];
  actorType: AssignableActorType;
}

const USER = /^[A-Za-z0-9._%+@-]{1,200}$/;

function parseLogin(body: Record<string, unknown>): { profile: Profile; accountId: string } | { error: string } {
  const user = typeof body.user === 'string' ? body.user.trim() : '';
  if (!USER.test(user)) return { error: 'Enter a user such as alice@bank.example (letters, digits and . _ % + @ - only).' };
  const raw = body.groups;
  const chosen = (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw]).map(String);
  const extra =
    typeof body.extraGroups === 'string'
      ? body.extraGroups
          .split(',')
          .map((g) => g.trim())
          .filter(Boolean)
      : [];
  const groups = [...new Set([...chosen, ...extra])];
  if (groups.some((g) => !/^[A-Za-z0-9._:-]{1,64}$/.test(g))) return { error: 'Group names may hold letters, digits and . _ : - only.' };
  const actorType = (typeof body.actorType === 'string' ? body.actorType : 'human') as AssignableActorType;
  if (!(ACTOR_TYPES_ASSIGNABLE as readonly string[]).includes(actorType)) return { error: `Actor type must be one of ${ACTOR_TYPES_ASSIGNABLE.join(', ')}.` };
  return { accountId: user, profile: { email: user.includes('@') ? user : null, name: user, groups, actorType } };
}

function loginPage(opts: { action: string; csrf: string; client: string; redirectHost: string; resource: string | null; error: string | null; user: string }): string {
  const groups = DEMO_GROUPS.map((g) => `<label><input type="checkbox" name="groups" value="${g}"> ${g}</label>`).join('');
  const actor = ACTOR_TYPES_ASSIGNABLE.map((a) => `<option value="${a}">${a}</option>`).join('');
  return authPage(
    'Demo sign-in',
    `<p>This is the bqwarden demo's authorization server. There are no passwords: pick who you are and which groups you hold
(in production this page is the bank's identity provider).</p>
<dl><dt>Application</dt><dd id="client">${esc(opts.client)}</dd><dt>Returns to</dt><dd id="redirect">${esc(opts.redirectHost)}</dd>
${opts.resource ? `<dt>Access to</dt><dd id="resource">${esc(opts.resource)}</dd>` : ''}</dl>
<form method="post" action="${esc(opts.action)}"><input type="hidden" name="csrf" value="${esc(opts.csrf)}">
<label for="user">User</label><input type="text" id="user" name="user" value="${esc(opts.user)}" required autocomplete="username" spellcheck="false">
<fieldset><legend>Groups</legend>${groups}</fieldset>
<label for="extraGroups">Other groups (comma-separated)</label><input type="text" id="extraGroups" name="extraGroups">
<label for="actorType">Actor type</label><select id="actorType" name="actorType">${actor}</select>
<p><button type="submit" id="sign-in">Sign in and allow</button> <button type="submit" name="deny" value="1" id="deny">Deny</button></p></form>`,
    opts.error,
  );
}

/** Routes the request into the provider, mounted at the issuer's path, with URLs built from the issuer. */
function mount(provider: Provider, issuer: URL) {
  const handler = provider.callback();
  const prefix = issuer.pathname.replace(/\/+$/, '');
  return (req: FastifyRequest, reply: FastifyReply) => {
    reply.hijack();
    const raw = req.raw as IncomingMessage & { originalUrl?: string };
    const url = new URL(raw.url ?? '/', 'http://x');
    if (req.method === 'GET' && url.pathname === `${prefix}/auth` && !url.searchParams.get('scope')) url.searchParams.set('scope', DEMO_SCOPE);
    raw.originalUrl = url.pathname + url.search;
    raw.url = raw.originalUrl.slice(prefix.length) || '/';
    // Endpoint URLs in discovery and redirects come from the issuer, not from a Host header the
    // client chose (or a proxy rewrote): the issuer is the one name clients were told.
    raw.headers['x-forwarded-host'] = issuer.host;
    raw.headers['x-forwarded-proto'] = issuer.protocol.slice(0, -1);
    raw.headers['x-forwarded-for'] = req.ip; // Fastify's view of the client (server.trustProxy applied)
    handler(raw, reply.raw as ServerResponse);
  };
}

export async function registerDemoAuthServer(app: FastifyInstance, opts: DemoAuthServerOptions): Promise<DemoAuthServer> {
  assertDevMode(opts.mode);
  const issuerUrl = new URL(opts.issuer.replace(/\/+$/, ''));
  const issuer = issuerUrl.href.replace(/\/+$/, '');
  const prefix = issuerUrl.pathname.replace(/\/+$/, '');
  const key = await loadOrCreateDevIssuerKey(opts.dataDir);
  const privateJwk = { ...key.privateKey.export({ format: 'jwk' }), kid: key.publicJwk.kid, alg: DEV_ISSUER_ALG, use: 'sig' };
  const accessTtl = opts.accessTokenTtlSeconds ?? 3600;
  const refreshTtl = opts.refreshTokenTtlSeconds ?? 14 * 24 * 3600;

  // The grant is the unit the demo user consented to; its tokens (and their refreshes) carry
  // the groups picked on the login page. Held in memory, like the provider's own state.
  // Both maps are bounded: a demo left running takes sign-ins with any made-up user name.
  const profiles = new Map<string, Profile>();
  const lastProfile = new Map<string, Profile>();
  const store = createDemoStore();
  store.onGrantRevoked((grantId) => profiles.delete(grantId));

  const configuration: Configuration = {
    adapter: store.adapter,
    clients: opts.webClient
      ? [
          {
            client_id: DEMO_WEB_CLIENT_ID,
            client_secret: opts.webClient.secret,
            client_name: 'bqwarden console and approvals',
            redirect_uris: [opts.webClient.redirectUri],
            post_logout_redirect_uris: [opts.webClient.postLogoutRedirectUri],
            grant_types: ['authorization_code'],
            response_types: ['code'],
            token_endpoint_auth_method: 'client_secret_basic',
          },
        ]
      : [],
    jwks: { keys: [privateJwk as never] },
    cookies: {
      keys: [randomBytes(32).toString('base64url')],
      names: { session: 'bqw_as_session', interaction: 'bqw_as_interaction', resume: 'bqw_as_resume' },
    },
    responseTypes: ['code'],
    pkce: { required: () => true },
    // The resource's scope is listed too: registration checks a client's scope against this list.
    scopes: ['openid', 'offline_access', 'email', 'profile', DEMO_SCOPE],
    claims: { openid: ['sub'], email: ['email'], profile: ['name'] },
    clientDefaults: { grant_types: ['authorization_code', 'refresh_token'], id_token_signed_response_alg: DEV_ISSUER_ALG, response_types: ['code'], token_endpoint_auth_method: 'none' },
    enabledJWA: { idTokenSigningAlgValues: [DEV_ISSUER_ALG] },
    routes: { jwks: '/jwks.json', authorization: '/auth', token: '/token', registration: '/register', revocation: '/revoke', end_session: '/logout' },
    ttl: {
      AccessToken: accessTtl,
      AuthorizationCode: 60,
      IdToken: accessTtl,
      Interaction: 600,
      Session: refreshTtl,
      Grant: refreshTtl,
      RefreshToken: refreshTtl,
    },
    features: {
      devInteractions: { enabled: false },
      registration: { enabled: true },
      revocation: { enabled: true },
      userinfo: { enabled: false },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: async (ctx, form) => {
          ctx.body = authPage(
            'Sign out of the demo authorization server?',
            `${form}<p><button type="submit" form="op.logoutForm" value="yes" name="logout" id="logout-yes">Yes, sign me out</button> <button type="submit" form="op.logoutForm" id="logout-no">No, stay signed in</button></p>`,
          );
        },
        postLogoutSuccessSource: async (ctx) => {
          ctx.body = authPage('Signed out', '<p>You are signed out of the demo authorization server.</p>');
        },
      },
      resourceIndicators: {
        enabled: true,
        // A request that names no resource still gets a token for the gateway: it is the only one.
        defaultResource: async (_ctx, _client, oneOf) => oneOf ?? opts.resource,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx, indicator) => {
          if (indicator !== opts.resource) throw new errors.InvalidTarget(`this authorization server only issues tokens for ${opts.resource}`);
          return { scope: DEMO_SCOPE, audience: opts.resource, accessTokenTTL: accessTtl, accessTokenFormat: 'jwt', jwt: { sign: { alg: DEV_ISSUER_ALG } } };
        },
      },
    },
    // Refresh tokens for every client allowed the grant type, not only those that asked for
    // offline_access: MCP clients rarely ask, and must keep working past the access token.
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    expiresWithSession: async () => false,
    extraTokenClaims: async (_ctx, token) => {
      const grantId = (token as { grantId?: string }).grantId;
      const p = grantId ? profiles.get(grantId) : undefined;
      if (!p) throw new Error('no demo profile for this grant; sign in again');
      return { email: p.email ?? undefined, name: p.name, groups: p.groups, [DEV_ACTOR_TYPE_CLAIM]: p.actorType };
    },
    findAccount: async (_ctx, sub) => ({
      accountId: sub,
      claims: async () => {
        const p = lastProfile.get(sub);
        return { sub, ...(p?.email ? { email: p.email } : {}), name: p?.name ?? sub };
      },
    }),
    interactions: { url: async (_ctx: KoaContextWithOIDC, interaction) => `${prefix}/interaction/${interaction.uid}` },
    renderError: async (ctx, out) => {
      ctx.type = 'html';
      ctx.body = authPage('Authorization error', `<p><code>${esc(out.error)}</code></p>`, String(out.error_description ?? out.error));
    },
  };

  const provider = new Provider(issuer, configuration);
  provider.proxy = true; // forwarded headers are set by mount() from the issuer

  const handle = mount(provider, issuerUrl);
  await app.register(async (scope) => {
    // The provider reads its own request bodies: leave the stream untouched.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_req, _payload, done) => done(null));
    scope.all(`${prefix}`, handle);
    scope.all(`${prefix}/*`, handle);
  });

  // RFC 8414 §3: for an issuer with a path, the metadata lives at the path-inserted well-known
  // URL. MCP clients try it first; the OIDC form (<issuer>/.well-known/openid-configuration) is
  // what the provider itself serves.
  app.get(`/.well-known/oauth-authorization-server${prefix}`, (req, reply) => {
    req.raw.url = `${prefix}/.well-known/openid-configuration`;
    handle(req, reply);
  });

  // The login page (one page for login and consent: a demo user is whoever they say).
  await app.register(async (scope) => {
    const refuse = (_req: FastifyRequest, reply: FastifyReply, status: number, message: string) =>
      reply
        .code(status)
        .type('text/html; charset=utf-8')
        .send(authPage('Sign-in refused', '<p>Start again from the application.</p>', message));
    if (opts.web) await opts.web.install(scope, { refuse, formBinding: (req) => (req.params as { uid?: string }).uid ?? null });

    scope.get(`${prefix}/style.css`, async (_req, reply) => reply.redirect(`${AUTH_BASE}/style.css`, 301));

    const details = async (req: FastifyRequest, reply: FastifyReply) => {
      try {
        return await provider.interactionDetails(req.raw, reply.raw);
      } catch {
        return null;
      }
    };

    const show = async (req: FastifyRequest<{ Params: { uid: string } }>, reply: FastifyReply, status: number, error: string | null, user = '') => {
      const d = await details(req, reply);
      if (!d || d.uid !== req.params.uid)
        return reply
          .code(400)
          .type('text/html; charset=utf-8')
          .send(authPage('Sign-in expired', '<p>This sign-in has expired or was started in another browser. Start again from the application.</p>'));
      const client = await provider.Client.find(String(d.params.client_id));
      const redirect = URL.parse(String(d.params.redirect_uri ?? ''));
      const csrf = opts.web ? opts.web.csrf(reply, d.uid) : '';
      // Browsers apply form-action to the redirects that follow a form post too: the sign-in
      // ends at the client's redirect URI (validated by the provider), so that origin is allowed.
      const csp = reply.getHeader('content-security-policy');
      if (typeof csp === 'string' && redirect && /^https?:$/.test(redirect.protocol))
        reply.header('content-security-policy', csp.replace("form-action 'self'", `form-action 'self' ${redirect.origin}`));
      return reply
        .code(status)
        .type('text/html; charset=utf-8')
        .send(
          loginPage({
            action: `${prefix}/interaction/${d.uid}`,
            csrf,
            client: client?.clientName ?? String(d.params.client_id),
            redirectHost: redirect ? redirect.host : '(unknown)',
            resource: typeof d.params.resource === 'string' ? d.params.resource : opts.resource,
            error,
            user,
          }),
        );
    };

    scope.get<{ Params: { uid: string } }>(`${prefix}/interaction/:uid`, async (req, reply) => show(req, reply, 200, null));

    scope.post<{ Params: { uid: string }; Body: Record<string, unknown> }>(`${prefix}/interaction/:uid`, async (req, reply) => {
      const d = await details(req, reply);
      if (!d || d.uid !== req.params.uid) return show(req, reply, 400, null);
      const body = req.body ?? {};
      if (body.deny) {
        reply.hijack();
        return provider.interactionFinished(req.raw, reply.raw, { error: 'access_denied', error_description: 'the demo user denied the request' }, { mergeWithLastSubmission: false });
      }
      const parsed = parseLogin(body);
      if ('error' in parsed) return show(req, reply, 400, parsed.error, typeof body.user === 'string' ? body.user : '');
      const clientId = String(d.params.client_id);
      const grant = new provider.Grant({ accountId: parsed.accountId, clientId });
      const requested = String(d.params.scope ?? '')
        .split(' ')
        .filter(Boolean);
      const oidcScopes = requested.filter((s) => (configuration.scopes as string[]).includes(s));
      if (oidcScopes.length) grant.addOIDCScope(oidcScopes.join(' '));
      grant.addResourceScope(opts.resource, DEMO_SCOPE);
      const grantId = await grant.save();
      remember(profiles, grantId, parsed.profile);
      remember(lastProfile, parsed.accountId, parsed.profile);
      reply.hijack();
      return provider.interactionFinished(req.raw, reply.raw, { login: { accountId: parsed.accountId }, consent: { grantId } }, { mergeWithLastSubmission: false });
    });
  });

  return { issuer };
}

const MAX_PROFILES = 10_000;

/** Set, dropping the oldest entry first once the map is full (and re-setting a key makes it newest). */
function remember(map: Map<string, Profile>, key: string, value: Profile): void {
  map.delete(key);
  if (map.size >= MAX_PROFILES) {
    const oldest = map.keys().next();
    if (!oldest.done) map.delete(oldest.value);
  }
  map.set(key, value);
}
