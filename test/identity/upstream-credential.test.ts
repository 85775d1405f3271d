// The gateway's own credential for the upstream: nothing, a static bearer from a secret file,
// or a Google access token (google-auth-library against a local token endpoint). Each failure
// rejects instead of sending an unauthenticated request.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createUpstreamCredential, UpstreamCredentialError } from '../../src/identity/upstream-credential.js';

describe('upstream credential', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'bqw-upc-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('none adds no headers (local toolbox sidecar)', async () => {
    const c = createUpstreamCredential({ type: 'none' });
    assert.deepEqual(await c.headers(), {});
    assert.equal(createUpstreamCredential(undefined).kind, 'none');
  });

  it('static bearer reads the secret file and follows rotation', async () => {
    const file = join(dir, 'token');
    writeFileSync(file, 'first-secret\n');
    const c = createUpstreamCredential({ type: 'static_bearer', secretFile: file });
    assert.deepEqual(await c.headers(), { authorization: 'Bearer first-secret' });
    writeFileSync(file, 'second-secret-rotated');
    utimesSync(file, new Date(), new Date(Date.now() + 5000));
    assert.deepEqual(await c.headers(), { authorization: 'Bearer second-secret-rotated' });
  });

  it('static bearer fails closed on a missing, empty or header-injecting secret', async () => {
    const missing = createUpstreamCredential({ type: 'static_bearer', secretFile: join(dir, 'nope') });
    await assert.rejects(missing.headers(), (e: unknown) => e instanceof UpstreamCredentialError && /secretFile/.test(e.message) && /ENOENT/.test(e.message));
    const empty = join(dir, 'empty');
    writeFileSync(empty, '  \n');
    await assert.rejects(createUpstreamCredential({ type: 'static_bearer', secretFile: empty }).headers(), /is empty/);
    const evil = join(dir, 'evil');
    writeFileSync(evil, 'abc\r\nX-Admin: yes');
    await assert.rejects(createUpstreamCredential({ type: 'static_bearer', secretFile: evil }).headers(), /single bearer token/);
  });

  it('rejects bad configuration naming the key', () => {
    assert.throws(() => createUpstreamCredential({ type: 'static_bearer' }), /upstreamCredential\.secretFile/);
    assert.throws(() => createUpstreamCredential({ type: 'kerberos' }), /upstreamCredential/);
    assert.throws(() => createUpstreamCredential({ type: 'google', scopes: [] }), /upstreamCredential\.scopes/);
  });

  describe('google access token', () => {
    let server: Server;
    let tokenUrl: string;
    let hits = 0;
    let fail = false;
    before(async () => {
      server = createServer((req, res) => {
        let body = '';
        req.on('data', (c) => (body += c));
        req.on('end', () => {
          hits++;
          if (fail || !body.includes('refresh_token=test-refresh')) {
            res.writeHead(400, { 'content-type': 'application/json' });
            return res.end(JSON.stringify({ error: 'invalid_grant' }));
          }
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ access_token: `ya29.test-${hits}`, expires_in: 3600, token_type: 'Bearer' }));
        });
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      tokenUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`;
    });
    after(() => new Promise<void>((r) => server.close(() => r())));

    const creds = { type: 'authorized_user', client_id: 'cid', client_secret: 'cs', refresh_token: 'test-refresh' };

    it('mints an access token once and serves it from the library cache', async () => {
      const c = createUpstreamCredential({ type: 'google', quotaProjectId: 'bank-prod' }, { credentials: creds, clientOptions: { endpoints: { oauth2TokenUrl: tokenUrl } } });
      const before = hits;
      const h1 = await c.headers();
      const h2 = await c.headers();
      assert.equal(h1.authorization, `Bearer ya29.test-${before + 1}`);
      assert.deepEqual(h2, h1);
      assert.equal(hits - before, 1);
      assert.equal(h1['x-goog-user-project'], 'bank-prod');
    });

    it('fails closed when the token endpoint refuses', async () => {
      fail = true;
      try {
        const c = createUpstreamCredential({ type: 'google' }, { credentials: creds, clientOptions: { endpoints: { oauth2TokenUrl: tokenUrl } } });
        await assert.rejects(c.headers(), (e: unknown) => e instanceof UpstreamCredentialError && /could not obtain an access token/.test(e.message));
      } finally {
        fail = false;
      }
    });
  });
});
