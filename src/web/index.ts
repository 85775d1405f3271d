// One web module for the gateway's browser pages (examiner console, approvals): who is looking
// (a session made by OpenID Connect sign-in, else an IAP assertion or bearer header verified by
// the identity layer), the shared plumbing (cookies, forms, headers, CSRF, Origin), and the one
// auth-failure path, which hands every refusal to the gateway's audited, scanned recorder.
import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Identity } from '../identity/types.js';
import type { HttpFailure } from '../pipeline/types.js';
import { cookieName, csrfToken, installWebScope } from './plugin.js';
import { SessionStore, type WebSession } from './sessions.js';
import { createSignIn, SignInError, type SignIn, type SignInSettings } from './sign-in.js';
import { AUTH_BASE, AUTH_STYLE, authPage, pageLinks } from './pages.js';

export type { WebSession } from './sessions.js';

export interface WebDeps {
  /** Public base URL as browsers reach it (no trailing slash). */
  publicUrl: string;
  authenticate(headers: IncomingHttpHeaders): Promise<Identity>;
  /** The gateway's audited failure path (the pipeline's onHttpFailure: client text is scanned before it is stored). */
  recordFailure(failure: HttpFailure): Promise<void>;
  /** The pipeline's content detectors for client-controlled text (an SSN typed into a User-Agent is not stored). */
  scanClientText(text: string): string;
  /** OpenID Connect sign-in; null when people sign in only through IAP (or not at all). */
  signIn: Omit<SignInSettings, 'redirectUri' | 'postLogoutRedirectUri'> | null;
  sessionSeconds: number;
  /** The pages sign-in may return to (their base paths) and how to name them. */
  pages: { path: string; label: string }[];
  now?: () => number;
}

interface PageScope {
  /** CSP script/img sources for this scope's pages. */
  scriptSrc?: string[];
  imgSrc?: string[];
  /** What this scope's form tokens are bound to; default: the signed-in session. */
  formBinding?(req: FastifyRequest): string | null;
  /** Renders a refused form post in this page's own look. */
  refuse(req: FastifyRequest, reply: FastifyReply, status: 401 | 403, message: string): FastifyReply | Promise<FastifyReply>;
}

/** Who sent a request, as the audit may store it. */
export interface RequestClient {
  sourceIp: string | null;
  /** Scanned: the client chose this text. */
  userAgent: string | null;
}

type Viewer = { session: WebSession } | { failure: Error } | null;

export interface Web {
  readonly sessionCookie: string;
  /** Installs cookies, forms, headers, CSRF and the Origin check in a page's own scope. */
  install(scope: FastifyInstance, page: PageScope): Promise<void>;
  /**
   * Who is looking: an IAP / bearer header (verified every time it is sent), else the session
   * cookie. A refused header is recorded before this returns `{ failure }`.
   */
  viewer(req: FastifyRequest, reply: FastifyReply, surface: string, opts?: { maxAgeSeconds?: number }): Promise<Viewer>;
  /** The hidden-field token for forms bound to `binding` (a session id, unless the scope binds otherwise). */
  csrf(reply: FastifyReply, binding: string): string;
  /** Where a browser without a session goes to sign in (null: sign-in is not configured). */
  signInUrl(next: string): string | null;
  /** Source IP and scanned User-Agent of a request, for the events the pages write themselves. */
  client(req: FastifyRequest): RequestClient;
  /** The one audited path for every refused credential on the browser pages and their APIs. */
  authFailure(req: FastifyRequest, err: Error, surface: string): Promise<void>;
  /** /auth/login, /auth/callback, /auth/logout, /auth/signed-out. */
  routes(app: FastifyInstance): Promise<void>;
}

function hasCredentialHeader(headers: IncomingHttpHeaders): boolean {
  return !!headers.authorization || !!headers['x-goog-iap-jwt-assertion'];
}

export function createWeb(deps: WebDeps): Web {
  const base = deps.publicUrl.replace(/\/+$/, '');
  const origin = new URL(base).origin;
  const secure = base.startsWith('https:');
  const secret = randomBytes(32);
  const now = deps.now ?? Date.now;
  const sessions = new SessionStore(deps.sessionSeconds, now);
  const sessionCookie = cookieName('bqw_session', secure);
  const flowCookie = cookieName('bqw_signin', secure);
  const signIn: SignIn | null = deps.signIn ? createSignIn({ ...deps.signIn, redirectUri: `${base}${AUTH_BASE}/callback`, postLogoutRedirectUri: `${base}${AUTH_BASE}/signed-out` }, now) : null;

  /** Only our own pages may be a post-sign-in destination (no open redirect). */
  const safeNext = (next: unknown): string => {
    const fallback = deps.pages[0]?.path ?? '/';
    // Plain path segments only (no dot segments, no escapes a browser would reinterpret), then a query.
    if (typeof next !== 'string' || next.length > 2000 || !/^(\/(?!\.\.?(?:[/?]|$))[A-Za-z0-9_.:-]+)+\/?(\?[A-Za-z0-9_.:%=&+-]*)?$/.test(next)) return fallback;
    return deps.pages.some((p) => next === p.path || next.startsWith(`${p.path}/`) || next.startsWith(`${p.path}?`)) ? next : fallback;
  };

  const sessionOf = (req: FastifyRequest): WebSession | null => {
    const session = sessions.get((req.cookies as Record<string, string | undefined> | undefined)?.[sessionCookie]);
    if (session) sessions.touch(session.id);
    return session;
  };

  function setSessionCookie(reply: FastifyReply, id: string, maxAge: number): void {
    reply.setCookie(sessionCookie, id, { path: '/', httpOnly: true, sameSite: 'lax', secure, maxAge });
  }

  function startSession(reply: FastifyReply, identity: Identity, idToken: string | null): WebSession {
    const { session, maxAge } = sessions.start(identity, idToken);
    // Lax, not Strict: the identity provider sends the browser back with a cross-site
    // navigation, and a Strict cookie set there would not come along on the redirect to the
    // page. Nothing changes state on GET; every form post needs this origin and the CSRF token.
    setSessionCookie(reply, session.id, maxAge);
    return session;
  }

  async function authFailure(req: FastifyRequest, err: Error, surface: string): Promise<void> {
    const code = (err as { code?: unknown }).code;
    const ua = req.headers['user-agent'];
    await deps
      .recordFailure({
        code: 'auth_failed',
        message: `Unauthorized (${typeof code === 'string' && /^[a-z_]{1,40}$/.test(code) ? code : 'auth_failed'}): ${err.message}`,
        httpStatus: 401,
        identity: null,
        sessionId: null,
        sourceIp: req.ip ?? null,
        userAgent: typeof ua === 'string' ? ua : null,
        method: surface,
      })
      .catch(() => undefined);
  }

  const web: Web = {
    sessionCookie,

    client(req) {
      const ua = req.headers['user-agent'];
      return { sourceIp: req.ip ?? null, userAgent: typeof ua === 'string' ? deps.scanClientText(ua) : null };
    },

    async install(scope, page) {
      await installWebScope(scope, {
        origin,
        secure,
        secret,
        scriptSrc: page.scriptSrc,
        imgSrc: page.imgSrc,
        formBinding: page.formBinding ?? ((req) => sessionOf(req)?.id ?? null),
        refuse: page.refuse,
      });
    },

    async viewer(req, reply, surface, opts = {}) {
      const existing = sessionOf(req);
      if (hasCredentialHeader(req.headers)) {
        let identity: Identity;
        try {
          identity = await deps.authenticate(req.headers);
        } catch (err) {
          await authFailure(req, err as Error, surface);
          return { failure: err as Error };
        }
        if (existing && existing.identity.issuer === identity.issuer && existing.identity.subject === identity.subject) return { session: existing };
        if (existing) sessions.end(existing.id);
        return { session: startSession(reply, identity, null) };
      }
      if (!existing) return null;
      if (opts.maxAgeSeconds !== undefined && now() - existing.createdAt > opts.maxAgeSeconds * 1000) return null;
      return { session: existing };
    },

    csrf: csrfToken,

    signInUrl: (next) => (signIn ? `${AUTH_BASE}/login?next=${encodeURIComponent(safeNext(next))}` : null),

    authFailure,

    async routes(app) {
      await app.register(async (scope) => {
        const refuse = (_req: FastifyRequest, reply: FastifyReply, status: number, message: string) =>
          reply
            .code(status)
            .type('text/html; charset=utf-8')
            .send(authPage(status === 401 ? 'Signed out' : 'Refused', pageLinks(deps.pages), message));
        await web.install(scope, { refuse });

        scope.get(`${AUTH_BASE}/style.css`, async (_req, reply) => reply.type('text/css; charset=utf-8').header('cache-control', 'max-age=300').send(AUTH_STYLE));

        scope.get<{ Querystring: { next?: string } }>(`${AUTH_BASE}/login`, async (req, reply) => {
          const next = safeNext(req.query.next);
          if (!signIn) {
            return reply
              .code(503)
              .type('text/html; charset=utf-8')
              .send(
                authPage(
                  'Sign-in is not configured',
                  '<p>This gateway has no OpenID Connect sign-in (<code>web.signIn</code>) and no Identity-Aware Proxy (<code>identity.google.iap</code>) in front of it, so its pages accept only a bearer token sent by a script in the <code>Authorization</code> header.</p>',
                ),
              );
          }
          let started: { flow: string; url: string };
          try {
            started = await signIn.start(next);
          } catch (err) {
            return reply
              .code(502)
              .type('text/html; charset=utf-8')
              .send(authPage('Sign-in is unavailable', pageLinks(deps.pages), (err as Error).message));
          }
          reply.setCookie(flowCookie, started.flow, { path: '/', httpOnly: true, sameSite: 'lax', secure, maxAge: 600 });
          return reply.code(303).header('location', started.url).send();
        });

        scope.get(`${AUTH_BASE}/callback`, async (req, reply) => {
          if (!signIn) return reply.code(404).send();
          const flow = (req.cookies as Record<string, string | undefined>)[flowCookie];
          reply.clearCookie(flowCookie, { path: '/', httpOnly: true, sameSite: 'lax', secure });
          let identity: Identity;
          let result;
          try {
            result = await signIn.finish(flow, new URL(req.url, base));
            identity = await deps.authenticate({ authorization: `Bearer ${result.token}`, 'user-agent': req.headers['user-agent'] });
          } catch (err) {
            await authFailure(req, err as Error, 'web/sign-in');
            const status = err instanceof SignInError && err.code === 'idp_unavailable' ? 502 : 401;
            return reply
              .code(status)
              .type('text/html; charset=utf-8')
              .send(authPage('Sign-in refused', pageLinks(deps.pages), `Sign-in refused: ${(err as Error).message}`));
          }
          const old = sessionOf(req);
          if (old) sessions.end(old.id);
          startSession(reply, identity, result.idToken);
          return reply.code(303).header('location', result.next).send();
        });

        scope.post(`${AUTH_BASE}/logout`, async (req, reply) => {
          const s = sessionOf(req);
          if (s) sessions.end(s.id);
          reply.clearCookie(sessionCookie, { path: '/', httpOnly: true, sameSite: 'lax', secure });
          const idp = signIn ? await signIn.logoutUrl(s?.idToken ?? null) : null;
          return reply
            .code(303)
            .header('location', idp ?? `${AUTH_BASE}/signed-out`)
            .send();
        });

        scope.get(`${AUTH_BASE}/signed-out`, async (_req, reply) =>
          reply.type('text/html; charset=utf-8').send(authPage('You are signed out', `<p>Your session on this gateway has ended.</p>${pageLinks(deps.pages)}`)),
        );
      });
    },
  };
  return web;
}
