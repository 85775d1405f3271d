// The approval web page. A reviewer is signed in by the shared web module (OpenID Connect
// sign-in, or Identity-Aware Proxy's header); cookies, security headers, form parsing, and the
// Origin and CSRF checks on every form post come from there too (src/web).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Web, WebSession } from '../web/index.js';
import { ApprovalError } from './service.js';
import { auditView, detailView, reviewerOf, type RouteDeps } from './routes.js';
import { approvalView } from './views.js';
import { UI_BASE, STYLE, detailPage, errorPage, listPage, signInPage } from './html.js';

export interface UiDeps extends RouteDeps {
  web: Web;
  /** A session older than this signs in again on this page (approvals.uiSessionSeconds). */
  sessionSeconds: number;
}

const ID = /^apr-[a-z0-9]{6,64}$/;

export async function registerApprovalUi(app: FastifyInstance, deps: UiDeps): Promise<void> {
  const { service, web } = deps;

  function page(reply: FastifyReply, status: number, html: string): FastifyReply {
    return reply.code(status).type('text/html; charset=utf-8').send(html);
  }

  /** The signed-in reviewer, or null after sending the sign-in redirect / refusal. */
  async function viewer(req: FastifyRequest, reply: FastifyReply): Promise<WebSession | null> {
    const v = await web.viewer(req, reply, 'approvals/ui', { maxAgeSeconds: deps.sessionSeconds });
    if (v && 'session' in v) return v.session;
    if (v) {
      page(reply, 401, signInPage(`That credential was not accepted: ${v.failure.message}`, web.signInUrl(req.url)));
      return null;
    }
    const url = web.signInUrl(req.url);
    if (url) reply.code(303).header('location', url).send();
    else page(reply, 401, signInPage(null, null));
    return null;
  }

  /** Form posts passed the Origin and CSRF checks; the session they are bound to. */
  async function poster(req: FastifyRequest, reply: FastifyReply): Promise<WebSession | null> {
    const v = await web.viewer(req, reply, 'approvals/ui', { maxAgeSeconds: deps.sessionSeconds });
    if (v && 'session' in v) return v.session;
    page(reply, 401, signInPage('Your session has ended; sign in again.', web.signInUrl(UI_BASE)));
    return null;
  }

  const who = (s: WebSession) => s.identity.email ?? s.identity.subject;

  await app.register(async (scope) => {
    await web.install(scope, {
      refuse: (_req, reply, status, message) => page(reply, status, status === 401 ? signInPage(message, web.signInUrl(UI_BASE)) : errorPage(status, message, null, null)),
    });

    scope.get(`${UI_BASE}/style.css`, async (_req, reply) => reply.type('text/css; charset=utf-8').header('cache-control', 'max-age=300').send(STYLE));

    scope.get(UI_BASE, async (req, reply) => {
      const s = await viewer(req, reply);
      if (!s) return reply;
      const roles = deps.policy().rolesFor(s.identity);
      const items = service.list(s.identity, roles).map((r) => approvalView(r, service.status(r), deps.reviewUrl(r.id), service.now()));
      return page(reply, 200, listPage(items, who(s), web.csrf(reply, s.id), null));
    });

    scope.get<{ Params: { id: string }; Querystring: { done?: string } }>(`${UI_BASE}/:id`, async (req, reply) => {
      const s = await viewer(req, reply);
      if (!s) return reply;
      const csrf = web.csrf(reply, s.id);
      const roles = deps.policy().rolesFor(s.identity);
      const rec = ID.test(req.params.id) ? service.get(req.params.id) : undefined;
      if (!rec || !service.canView(rec, s.identity, roles)) return page(reply, 404, errorPage(404, `No approval request ${req.params.id} that you may see.`, who(s), csrf));
      await service.expireIfDue(rec).catch(() => undefined);
      try {
        await auditView(service, rec, reviewerOf(web.client(req), s.identity, roles, 'ui'));
      } catch (err) {
        return page(reply, 503, errorPage(503, `Viewing the statement could not be recorded, so it is not shown: ${(err as Error).message}`, who(s), csrf));
      }
      const done = req.query.done;
      const notice = done === 'approve' ? { kind: 'ok' as const, text: 'Your approval was recorded.' } : done === 'reject' ? { kind: 'ok' as const, text: 'Your rejection was recorded.' } : null;
      return page(reply, 200, detailPage(await detailView(deps, rec, s.identity, roles), who(s), csrf, notice));
    });

    for (const action of ['approve', 'reject'] as const) {
      scope.post<{ Params: { id: string }; Body: Record<string, string> }>(`${UI_BASE}/:id/${action}`, async (req, reply) => {
        const s = await poster(req, reply);
        if (!s) return reply;
        const csrf = web.csrf(reply, s.id);
        const roles = deps.policy().rolesFor(s.identity);
        const id = req.params.id;
        const sha = typeof req.body?.sql_sha256 === 'string' ? req.body.sql_sha256 : null;
        if (!sha) return page(reply, 400, errorPage(400, 'The form did not say which statement you reviewed (sql_sha256); reload the request and try again.', who(s), csrf));
        try {
          const r = reviewerOf(web.client(req), s.identity, roles, 'ui');
          const reason = typeof req.body.reason === 'string' ? req.body.reason : '';
          if (action === 'approve') await service.approve(id, r, reason, sha);
          else await service.reject(id, r, reason, sha);
          return reply.code(303).header('location', `${UI_BASE}/${id}?done=${action}`).send();
        } catch (err) {
          const status = err instanceof ApprovalError ? err.httpStatus : 500;
          return page(reply, status, errorPage(status, `${action === 'approve' ? 'Approval' : 'Rejection'} refused: ${(err as Error).message}`, who(s), csrf));
        }
      });
    }
  });
}
