// The approval web page. A reviewer signs in by pasting a bearer token (or is signed in by
// Identity-Aware Proxy's header); the gateway keeps a server-side session behind an HttpOnly,
// SameSite=Strict cookie scoped to /approvals/ui, and every form post carries the session's
// CSRF token and must come from this origin.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Identity } from '../identity/types.js';
import { ApprovalError } from './service.js';
import { auditAuthFailure, auditView, detailView, reviewerOf, type RouteDeps } from './routes.js';
import { approvalView } from './views.js';
import { UI_BASE, STYLE, detailPage, errorPage, listPage, loginPage } from './html.js';

export const SESSION_COOKIE = 'bqw_approvals';
const MAX_SESSIONS = 10_000;

interface Session {
  identity: Identity;
  csrf: string;
  expiresAt: number;
}

const CSP = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

export interface UiDeps extends RouteDeps {
  /** Public base URL; an https one makes the cookie Secure and fixes the expected Origin. */
  publicUrl: string;
  sessionSeconds: number;
}

function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return out;
}

function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Only paths inside the UI may be a post-login destination (no open redirect). */
function safeNext(next: unknown): string {
  return typeof next === 'string' && /^\/approvals\/ui(\/apr-[a-z0-9]{6,64})?$/.test(next) ? next : UI_BASE;
}

export async function registerApprovalUi(app: FastifyInstance, deps: UiDeps): Promise<void> {
  const { service } = deps;
  const sessions = new Map<string, Session>();
  const secure = deps.publicUrl.startsWith('https:');
  const origin = new URL(deps.publicUrl).origin;

  function page(reply: FastifyReply, status: number, html: string): FastifyReply {
    return reply
      .code(status)
      .header('content-type', 'text/html; charset=utf-8')
      .header('content-security-policy', CSP)
      .header('x-content-type-options', 'nosniff')
      .header('x-frame-options', 'DENY')
      .header('referrer-policy', 'same-origin')
      .header('cache-control', 'no-store')
      .send(html);
  }

  function setCookie(reply: FastifyReply, sid: string, maxAge: number): void {
    reply.header('set-cookie', `${SESSION_COOKIE}=${sid}; Path=${UI_BASE}; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${secure ? '; Secure' : ''}`);
  }

  function startSession(reply: FastifyReply, identity: Identity): Session {
    if (sessions.size >= MAX_SESSIONS) {
      const now = Date.now();
      for (const [k, s] of sessions) if (s.expiresAt <= now) sessions.delete(k);
      if (sessions.size >= MAX_SESSIONS) sessions.delete(sessions.keys().next().value!);
    }
    const tokenEnds = identity.expiresAt ? identity.expiresAt * 1000 : Infinity;
    const expiresAt = Math.min(Date.now() + deps.sessionSeconds * 1000, tokenEnds);
    const sid = randomBytes(32).toString('base64url');
    const s: Session = { identity, csrf: randomBytes(32).toString('base64url'), expiresAt };
    sessions.set(sid, s);
    setCookie(reply, sid, Math.max(1, Math.floor((expiresAt - Date.now()) / 1000)));
    return s;
  }

  function sessionOf(req: FastifyRequest): { sid: string; s: Session } | null {
    const sid = parseCookies(req.headers.cookie)[SESSION_COOKIE];
    if (!sid) return null;
    const s = sessions.get(sid);
    if (!s) return null;
    if (s.expiresAt <= Date.now()) {
      sessions.delete(sid);
      return null;
    }
    return { sid, s };
  }

  /** Session cookie, else headers the identity layer accepts (IAP in production). */
  async function viewer(req: FastifyRequest, reply: FastifyReply): Promise<Session | null> {
    const found = sessionOf(req);
    if (found) return found.s;
    if (!req.headers.authorization && !req.headers['x-goog-iap-jwt-assertion']) return null;
    try {
      return startSession(reply, await deps.authenticate(req.headers));
    } catch (err) {
      await auditAuthFailure(service, req, 'ui', err as Error);
      return null;
    }
  }

  /**
   * A browser names the page a form came from in Origin. It must be this gateway, as
   * configured or as addressed (a cross-site page cannot make the browser lie about either).
   * 'no-referrer' would make Chromium send Origin: null, hence referrer-policy same-origin.
   */
  function sameOrigin(req: FastifyRequest): boolean {
    const o = req.headers.origin;
    if (o === undefined) return true;
    return o === origin || (typeof req.headers.host === 'string' && o === `${req.protocol}://${req.headers.host}`);
  }

  /** Form posts: a live session, this origin, and the session's CSRF token. */
  function postGuard(req: FastifyRequest<{ Body: Record<string, string> }>, reply: FastifyReply): Session | null {
    if (!sameOrigin(req)) {
      page(reply, 403, errorPage(403, 'This form was submitted from another site and was refused.', null, null));
      return null;
    }
    const found = sessionOf(req);
    if (!found) {
      page(reply, 401, loginPage('Your session has ended; sign in again.', UI_BASE));
      return null;
    }
    const csrf = typeof req.body?.csrf === 'string' ? req.body.csrf : '';
    if (!sameToken(csrf, found.s.csrf)) {
      page(reply, 403, errorPage(403, 'The form could not be verified (missing or stale CSRF token). Reload the page and try again.', found.s.identity.email ?? found.s.identity.subject, found.s.csrf));
      return null;
    }
    return found.s;
  }

  const who = (s: Session) => s.identity.email ?? s.identity.subject;

  await app.register(async (scope) => {
    // Form posts are parsed only inside this scope, so the rest of the gateway keeps JSON only.
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 64 * 1024 }, (_req, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body as string)));
    });

    scope.get(`${UI_BASE}/style.css`, async (_req, reply) => reply.header('content-type', 'text/css; charset=utf-8').header('cache-control', 'max-age=300').send(STYLE));

    scope.get(UI_BASE, async (req, reply) => {
      const s = await viewer(req, reply);
      if (!s) return page(reply, 200, loginPage(null, UI_BASE));
      const roles = deps.policy().rolesFor(s.identity);
      const items = service.list(s.identity, roles).map((r) => approvalView(r, service.status(r), deps.reviewUrl(r.id)));
      return page(reply, 200, listPage(items, who(s), s.csrf, null));
    });

    scope.get<{ Params: { id: string }; Querystring: { done?: string } }>(`${UI_BASE}/:id`, async (req, reply) => {
      const s = await viewer(req, reply);
      if (!s) return page(reply, 200, loginPage(null, safeNext(`${UI_BASE}/${req.params.id}`)));
      const roles = deps.policy().rolesFor(s.identity);
      const rec = /^apr-[a-z0-9]{6,64}$/.test(req.params.id) ? service.get(req.params.id) : undefined;
      if (!rec || !service.canView(rec, s.identity, roles)) return page(reply, 404, errorPage(404, `No approval request ${req.params.id} that you may see.`, who(s), s.csrf));
      await service.expireIfDue(rec).catch(() => undefined);
      try {
        await auditView(service, rec, reviewerOf(req, s.identity, roles, 'ui'));
      } catch (err) {
        return page(reply, 503, errorPage(503, `Viewing the statement could not be recorded, so it is not shown: ${(err as Error).message}`, who(s), s.csrf));
      }
      const done = req.query.done;
      const notice = done === 'approve' ? { kind: 'ok' as const, text: 'Your approval was recorded.' } : done === 'reject' ? { kind: 'ok' as const, text: 'Your rejection was recorded.' } : null;
      return page(reply, 200, detailPage(await detailView(deps, rec, s.identity, roles), who(s), s.csrf, notice));
    });

    scope.post<{ Body: Record<string, string> }>(`${UI_BASE}/login`, async (req, reply) => {
      if (!sameOrigin(req)) return page(reply, 403, errorPage(403, 'This form was submitted from another site and was refused.', null, null));
      const token = typeof req.body?.token === 'string' ? req.body.token.trim().replace(/^Bearer\s+/i, '') : '';
      const next = safeNext(req.body?.next);
      if (!token) return page(reply, 400, loginPage('Paste a token to sign in.', next));
      try {
        const identity = await deps.authenticate({ authorization: `Bearer ${token}`, 'user-agent': req.headers['user-agent'] });
        const old = sessionOf(req);
        if (old) sessions.delete(old.sid);
        startSession(reply, identity);
        return reply.code(303).header('location', next).header('cache-control', 'no-store').send();
      } catch (err) {
        await auditAuthFailure(service, req, 'ui', err as Error);
        return page(reply, 401, loginPage(`That token was not accepted: ${(err as Error).message}`, next));
      }
    });

    scope.post<{ Body: Record<string, string> }>(`${UI_BASE}/logout`, async (req, reply) => {
      const s = postGuard(req, reply);
      if (!s) return reply;
      const found = sessionOf(req);
      if (found) sessions.delete(found.sid);
      setCookie(reply, '', 0);
      return reply.code(303).header('location', UI_BASE).send();
    });

    for (const action of ['approve', 'reject'] as const) {
      scope.post<{ Params: { id: string }; Body: Record<string, string> }>(`${UI_BASE}/:id/${action}`, async (req, reply) => {
        const s = postGuard(req, reply);
        if (!s) return reply;
        const roles = deps.policy().rolesFor(s.identity);
        const id = req.params.id;
        const sha = typeof req.body.sql_sha256 === 'string' ? req.body.sql_sha256 : null;
        if (!sha) return page(reply, 400, errorPage(400, 'The form did not say which statement you reviewed (sql_sha256); reload the request and try again.', who(s), s.csrf));
        try {
          const r = reviewerOf(req, s.identity, roles, 'ui');
          if (action === 'approve') await service.approve(id, r, req.body.reason, sha);
          else await service.reject(id, r, req.body.reason, sha);
          return reply.code(303).header('location', `${UI_BASE}/${id}?done=${action}`).header('cache-control', 'no-store').send();
        } catch (err) {
          const status = err instanceof ApprovalError ? err.httpStatus : 500;
          return page(reply, status, errorPage(status, `${action === 'approve' ? 'Approval' : 'Rejection'} refused: ${(err as Error).message}`, who(s), s.csrf));
        }
      });
    }
  });
}
