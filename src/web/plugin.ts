// The plumbing every browser page shares, as Fastify plugins installed in the page's own
// encapsulated scope (so the MCP endpoint keeps JSON only and no cookies): cookies, form
// bodies, security headers, and for every form post the Origin check and a CSRF token bound
// to the signed-in session.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import helmet from '@fastify/helmet';
import csrf from '@fastify/csrf-protection';

export interface WebScopeOptions {
  /** The browser-facing origin (scheme://host[:port] of the public URL). */
  origin: string;
  /** https: cookies are Secure and use the __Host- prefix. */
  secure: boolean;
  /** Signs the CSRF secret cookie; also the HMAC key that binds tokens to a session. */
  secret: Buffer;
  /** Extra Content-Security-Policy sources for this scope's pages (the console draws with its own script). */
  scriptSrc?: string[];
  imgSrc?: string[];
  /**
   * What a form post's CSRF token is bound to (the session id; the interaction on the demo
   * login page). null: there is nothing to bind to, and `expired` answers instead.
   */
  formBinding(req: FastifyRequest): string | null;
  /** Sends the page for a refused form post. */
  refuse(req: FastifyRequest, reply: FastifyReply, status: 401 | 403, message: string): FastifyReply | Promise<FastifyReply>;
}

/** Cookie names: __Host- pins a cookie to this exact origin, path / and Secure (browsers enforce it). */
export function cookieName(base: string, secure: boolean): string {
  return secure ? `__Host-${base}` : base;
}

const CSRF_FIELD = 'csrf';

/**
 * A browser names the page a form came from in Origin. Browsers always send it on POST; it is
 * "null" when the page's Referrer-Policy is no-referrer or the form came from an opaque origin
 * (sandboxed frame, data: URL) — both refused: a form of ours never posts that way.
 */
function originProblem(req: FastifyRequest, expected: string): string | null {
  const o = req.headers.origin;
  if (o === undefined) return null; // not a browser (or a very old one): the CSRF token still has to match
  if (o === expected) return null;
  if (o === 'null') return 'the form was posted from an opaque origin (Origin: null) and was refused';
  return `the form was posted from ${JSON.stringify(o.slice(0, 100))}, not from ${expected}, and was refused`;
}

export async function installWebScope(scope: FastifyInstance, opts: WebScopeOptions): Promise<void> {
  await scope.register(cookie, { secret: opts.secret });
  await scope.register(formbody, { bodyLimit: 64 * 1024 });
  await scope.register(helmet, {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'none'"],
        scriptSrc: opts.scriptSrc ?? ["'none'"],
        styleSrc: ["'self'"],
        imgSrc: opts.imgSrc ?? ["'self'", 'data:'],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        baseUri: ["'none'"],
      },
    },
    // same-origin: our own form posts carry our Origin (no-referrer would make Chromium send
    // Origin: null), while no URL of ours leaks to another site in Referer.
    referrerPolicy: { policy: 'same-origin' },
    crossOriginEmbedderPolicy: false,
    strictTransportSecurity: opts.secure ? { maxAge: 31_536_000, includeSubDomains: false } : false,
    frameguard: { action: 'deny' },
  });
  await scope.register(csrf, {
    sessionPlugin: '@fastify/cookie',
    cookieKey: cookieName('bqw_csrf', opts.secure),
    cookieOpts: { path: '/', sameSite: 'strict', httpOnly: true, secure: opts.secure, signed: true },
    getToken: (req) => {
      const body = req.body as Record<string, unknown> | undefined;
      return typeof body?.[CSRF_FIELD] === 'string' ? (body[CSRF_FIELD] as string) : '';
    },
    getUserInfo: (req) => opts.formBinding(req) ?? '',
    csrfOpts: { hmacKey: opts.secret },
  });

  // Pages are per-user and never cached.
  scope.addHook('onSend', async (_req, reply, payload) => {
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
    return payload;
  });

  scope.addHook('preHandler', async (req, reply) => {
    if (req.method !== 'POST') return;
    const problem = originProblem(req, opts.origin);
    if (problem) return opts.refuse(req, reply, 403, `This form was refused: ${problem}.`);
    if (opts.formBinding(req) === null) return opts.refuse(req, reply, 401, 'Your session has ended; sign in again.');
  });
  // The plugin's check answers a bad token with an FST_CSRF error (rendered below).
  scope.addHook('preHandler', (req, reply, done) => (req.method === 'POST' ? scope.csrfProtection(req, reply, done) : done()));

  scope.setErrorHandler(async (err: FastifyError, req, reply) => {
    if (err.code?.startsWith('FST_CSRF')) return opts.refuse(req, reply, 403, 'The form could not be verified (missing or stale CSRF token). Reload the page and try again.');
    if (err.statusCode === 413) return opts.refuse(req, reply, 403, 'The form was too large and was refused.');
    throw err;
  });
}

/** The token a page puts in its forms' hidden `csrf` field, bound to `binding`. */
export function csrfToken(reply: FastifyReply, binding: string): string {
  return reply.generateCsrf({ userInfo: binding } as Parameters<FastifyReply['generateCsrf']>[0]);
}
