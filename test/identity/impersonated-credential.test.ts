// The write path's credential: a short-lived token of the writer service account, minted with
// the gateway's own identity through the IAM Credentials API. Real google-auth-library
// (Impersonated) against a local server speaking generateAccessToken and the OAuth token
// endpoint; the server checks what Google would check and refuses what Google would refuse.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createUpstreamCredential, UpstreamCredentialError } from '../../src/identity/upstream-credential.js';
import { only } from '../helpers/present.js';

const WRITER = 'bqwarden-writer@bank-prod.iam.gserviceaccount.com';

describe('google_impersonated upstream credential (the writer identity)', () => {
  let server: Server;
  let base: string;
  const minted: { target: string; auth: string; body: Record<string, unknown> }[] = [];
  let tokenCreatorOn = new Set([WRITER]);

  before(async () => {
    server = createServer((req, res) => {
      let raw = '';
      req.on('data', (c) => (raw += c));
      req.on('end', () => {
        const send = (status: number, body: unknown) => {
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(body));
        };
        if (req.url === '/token') return send(200, { access_token: 'ya29.gateway-runtime', expires_in: 3600, token_type: 'Bearer' });
        const m = /^\/v1\/projects\/-\/serviceAccounts\/([^:]+):generateAccessToken$/.exec(req.url ?? '');
        if (!m || req.method !== 'POST') return send(404, { error: { code: 404, message: 'no route' } });
        const target = decodeURIComponent(m[1]!);
        if (req.headers.authorization !== 'Bearer ya29.gateway-runtime') return send(401, { error: { code: 401, status: 'UNAUTHENTICATED', message: 'no source credential' } });
        if (!tokenCreatorOn.has(target))
          return send(403, { error: { code: 403, status: 'PERMISSION_DENIED', message: `Permission 'iam.serviceAccounts.getAccessToken' denied on resource ${target}` } });
        const body = JSON.parse(raw) as Record<string, unknown>;
        minted.push({ target, auth: String(req.headers.authorization), body });
        send(200, { accessToken: `ya29.writer-${minted.length}`, expireTime: new Date(Date.now() + 600_000).toISOString() });
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  // The gateway's own identity: on Cloud Run the metadata server; here a refresh-token
  // credential against the local token endpoint.
  const source = () => ({
    credentials: { type: 'authorized_user', client_id: 'cid', client_secret: 'cs', refresh_token: 'r' },
    clientOptions: { endpoints: { oauth2TokenUrl: `${base}/token` } },
  });

  it('mints a writer token with the gateway identity, for the configured scopes and lifetime, and reuses it', async () => {
    minted.length = 0;
    const c = createUpstreamCredential({ type: 'google_impersonated', targetPrincipal: WRITER, endpoint: base, lifetimeSeconds: 600 }, source());
    assert.equal(c.kind, 'google_impersonated');
    const h1 = await c.headers();
    const h2 = await c.headers();
    assert.equal(h1.authorization, 'Bearer ya29.writer-1');
    assert.deepEqual(h2, h1, 'cached until near expiry');
    const mint = only(minted, 'generateAccessToken call');
    assert.equal(mint.target, WRITER);
    assert.deepEqual(mint.body.scope, ['https://www.googleapis.com/auth/bigquery']);
    assert.equal(mint.body.lifetime, '600s');
  });

  it('fails closed, naming the account, when the gateway may not impersonate it', async () => {
    tokenCreatorOn = new Set();
    try {
      const c = createUpstreamCredential({ type: 'google_impersonated', targetPrincipal: WRITER, endpoint: base }, source());
      await assert.rejects(c.headers(), (e: unknown) => e instanceof UpstreamCredentialError && e.message.includes(WRITER) && /could not obtain an access token/.test(e.message));
    } finally {
      tokenCreatorOn = new Set([WRITER]);
    }
  });

  it('refuses configuration that is not a service account, or an http endpoint off loopback', () => {
    assert.throws(() => createUpstreamCredential({ type: 'google_impersonated', targetPrincipal: 'alice@bank.example' }), /targetPrincipal/);
    assert.throws(() => createUpstreamCredential({ type: 'google_impersonated', targetPrincipal: WRITER, endpoint: 'http://iam.example.com' }), /endpoint/);
    assert.throws(() => createUpstreamCredential({ type: 'google_impersonated', targetPrincipal: WRITER, lifetimeSeconds: 86400 }), /lifetimeSeconds/);
  });
});
