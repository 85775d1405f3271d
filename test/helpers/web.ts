// The shared web module for tests that mount a page on a bare Fastify app: a given authenticator,
// refused credentials appended to the test's audit log the way the pipeline records them, and
// no sign-in (pages then accept Authorization / IAP headers only) unless one is passed.
import type { IncomingHttpHeaders } from 'node:http';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { createAuthenticator } from '../../src/identity/authenticate.js';
import { mintDevToken } from '../../src/identity/dev-issuer.js';
import { freePort } from '../../src/demo/toolbox.js';
import { demoSignIn, registerDemoAuthServer } from '../../src/web/auth-server.js';
import type { AuditEventInput } from '../../src/audit/event.js';
import type { Identity } from '../../src/identity/types.js';
import { httpFailureFields } from '../../src/pipeline/audit-fields.js';
import { createWeb, type Web, type WebDeps } from '../../src/web/index.js';

const TEST_PAGES = [
  { path: '/console', label: 'examiner console' },
  { path: '/approvals/ui', label: 'approvals page' },
];

export function testWeb(authenticate: (headers: IncomingHttpHeaders) => Promise<Identity>, audit: { append(input: AuditEventInput): Promise<unknown> }, over: Partial<WebDeps> = {}): Web {
  return createWeb({
    publicUrl: 'http://127.0.0.1:8080',
    authenticate,
    recordFailure: async (f) => {
      await audit.append({ event_type: 'auth_failure', ...httpFailureFields(f) });
    },
    // Bare-app page tests exercise the pages; the scanning itself is tested end to end
    // through the real pipeline (test/web/auth-failure.test.ts).
    scanClientText: (t) => t,
    signIn: null,
    sessionSeconds: 3600,
    pages: TEST_PAGES,
    ...over,
  });
}

export interface WebApp {
  base: string;
  app: FastifyInstance;
  web: Web;
  dataDir: string;
  /** Dev-issuer tokens for this app's resource (what `bqwarden token` mints). */
  token(user: string, groups: string[]): Promise<string>;
  close(): Promise<void>;
}

/**
 * A bare Fastify app with what the gateway wires for its pages: the demo authorization server,
 * the real authenticator (dev issuer), the web module signing in through that server, and the
 * pages `mount` adds. `authenticate` may wrap the real one (e.g. to also accept fixed test tokens).
 */
export async function startWebApp(
  mount: (app: FastifyInstance, web: Web, authenticate: (h: IncomingHttpHeaders) => Promise<Identity>) => Promise<void>,
  opts: {
    audit: { append(input: AuditEventInput): Promise<unknown> };
    wrapAuthenticate?: (real: (h: IncomingHttpHeaders) => Promise<Identity>) => (h: IncomingHttpHeaders) => Promise<Identity>;
    publicUrl?: (port: number) => string;
  },
): Promise<WebApp> {
  const dataDir = mkdtempSync(join(tmpdir(), 'bqw-web-'));
  const port = await freePort();
  const base = opts.publicUrl?.(port) ?? `http://127.0.0.1:${port}`;
  const issuer = `${base}/dev-issuer`;
  const resource = `${base}/mcp`;
  const real = createAuthenticator({ resource, devIssuer: { enabled: true, dataDir, issuer } }, { mode: 'demo' });
  const authenticate = opts.wrapAuthenticate ? opts.wrapAuthenticate((h) => real.authenticate(h)) : (h: IncomingHttpHeaders) => real.authenticate(h);
  const secret = randomBytes(16).toString('hex');
  const app = Fastify();
  const web = testWeb(authenticate, opts.audit, { publicUrl: base, signIn: demoSignIn({ issuer, resource, secret, loopback: `http://127.0.0.1:${port}` }) });
  await registerDemoAuthServer(app, { mode: 'demo', issuer, resource, dataDir, web, webClient: { redirectUri: `${base}/auth/callback`, postLogoutRedirectUri: `${base}/auth/signed-out`, secret } });
  await web.routes(app);
  await mount(app, web, authenticate);
  await app.listen({ host: '127.0.0.1', port });
  return {
    base,
    app,
    web,
    dataDir,
    token: (user, groups) => mintDevToken({ dataDir, issuer, audience: resource, user, groups }),
    async close() {
      await app.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
