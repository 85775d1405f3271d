// The demo-only dev issuer: key creation and reuse, file modes, its HTTP routes (verified as an
// ordinary OIDC issuer through discovery), refusal outside demo/dev, and the `token` command.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, chmodSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { createAuthenticator } from '../../src/identity/authenticate.js';
import { AuthError } from '../../src/identity/types.js';
import { runCli } from '../helpers/cli.js';
import { assertDevMode, devIssuerKeyDir, loadOrCreateDevIssuerKey, mintDevToken } from '../../src/identity/dev-issuer.js';
import { registerDemoAuthServer } from '../../src/web/auth-server.js';
import { only } from '../helpers/present.js';

describe('dev issuer', () => {
  let data: string;
  before(() => {
    data = mkdtempSync(join(tmpdir(), 'bqw-dev-'));
  });
  after(() => rmSync(data, { recursive: true, force: true }));

  it('refuses to run outside demo/dev mode or under NODE_ENV=production', async () => {
    assert.throws(() => assertDevMode('production', {}), /demo or dev mode/);
    assert.throws(() => assertDevMode(undefined, {}), /demo or dev mode/);
    assert.throws(() => assertDevMode('demo', { NODE_ENV: 'production' }), /NODE_ENV=production/);
    assert.doesNotThrow(() => assertDevMode('demo', {}));
    assert.doesNotThrow(() => assertDevMode('dev', {}));
    const app = Fastify();
    await assert.rejects(registerDemoAuthServer(app, { mode: 'production', issuer: 'http://127.0.0.1:1/dev-issuer', resource: 'http://127.0.0.1:1/mcp', dataDir: data }), /demo or dev mode/);
    await app.close();
    await assert.rejects(mintDevToken({ dataDir: data, issuer: 'http://x/dev-issuer', audience: 'a', user: 'u', groups: [], mode: 'prod' }), /demo or dev mode/);
    const saved = process.env.NODE_ENV;
    process.env.NODE_ENV = 'production';
    try {
      await assert.rejects(mintDevToken({ dataDir: data, issuer: 'http://x/dev-issuer', audience: 'a', user: 'u', groups: [] }), /NODE_ENV=production/);
    } finally {
      if (saved === undefined) delete process.env.NODE_ENV;
      else process.env.NODE_ENV = saved;
    }
  });

  it('creates the key once with mode 0600, reuses it, and re-tightens a loosened mode', async () => {
    const a = await loadOrCreateDevIssuerKey(data);
    const file = join(devIssuerKeyDir(data), 'private.pem');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const b = await loadOrCreateDevIssuerKey(data);
    assert.equal(a.publicJwk.kid, b.publicJwk.kid);
    assert.equal(a.publicJwk.d, undefined, 'public JWK carries no private part');
    chmodSync(file, 0o644);
    await loadOrCreateDevIssuerKey(data);
    assert.equal(statSync(file).mode & 0o777, 0o600);
  });

  it('concurrent first starts agree on one key', async () => {
    const fresh = mkdtempSync(join(tmpdir(), 'bqw-dev-race-'));
    try {
      const keys = await Promise.all(Array.from({ length: 6 }, () => loadOrCreateDevIssuerKey(fresh)));
      assert.equal(new Set(keys.map((k) => k.publicJwk.kid)).size, 1);
    } finally {
      rmSync(fresh, { recursive: true, force: true });
    }
  });

  it('serves discovery + JWKS; its tokens verify through discovery like any issuer, and in demo mode via the dev route', async () => {
    const origin = 'http://127.0.0.1:18080';
    const iss = `${origin}/dev-issuer`;
    const resource = `${origin}/mcp`;
    const app = Fastify();
    await registerDemoAuthServer(app, { mode: 'demo', issuer: iss, resource, dataDir: data });
    // The verifier's HTTP fetches go to the Fastify app in-process.
    const viaApp = (async (input: string | URL | Request) => {
      const url = new URL(input instanceof Request ? input.url : input);
      assert.equal(url.origin, origin);
      const r = await app.inject({ method: 'GET', url: url.pathname });
      return new Response(r.body, { status: r.statusCode, headers: { 'content-type': String(r.headers['content-type']) } });
    }) as typeof fetch;
    try {
      const jwks = (await (await viaApp(`${iss}/jwks.json`)).json()) as { keys: Array<Record<string, unknown>> };
      const key = only(jwks.keys, 'published signing key');
      assert.equal(key.alg, 'ES256');
      assert.equal(key.d, undefined, 'no private key material is published');
      const disc = (await (await viaApp(`${iss}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
      assert.equal(disc.issuer, iss);
      assert.equal(disc.jwks_uri, `${iss}/jwks.json`);

      const token = await mintDevToken({ dataDir: data, issuer: iss, audience: resource, user: 'alice@bank.example', groups: ['analyst'], actorType: 'agent', ttlSeconds: 120 });
      assert.equal(decodeProtectedHeader(token).alg, 'ES256');
      const claims = decodeJwt(token);
      assert.equal(claims.exp! - claims.iat!, 120);

      // As an ordinary OIDC issuer, found through its discovery document.
      const viaDiscovery = createAuthenticator({ resource, issuers: [{ issuer: iss }] }, { fetch: viaApp });
      const asOidc = await viaDiscovery.authenticate({ authorization: `Bearer ${token}` });
      assert.equal(asOidc.subject, 'alice@bank.example');
      assert.deepEqual(asOidc.groups, ['analyst']);

      // Demo gateway: dev issuer enabled, key read from the data dir, actor type from the token.
      const demo = createAuthenticator({ resource, devIssuer: { enabled: true, dataDir: data } }, { mode: 'demo' });
      const id = await demo.authenticate({ authorization: `Bearer ${token}` });
      assert.equal(id.authMethod, 'dev');
      assert.equal(id.actorType, 'agent');
      assert.equal(id.email, 'alice@bank.example');
      assert.deepEqual(id.groups, ['analyst']);

      // A token from a dev issuer with a different key (another data dir) is refused.
      const otherData = mkdtempSync(join(tmpdir(), 'bqw-dev-other-'));
      try {
        const foreign = await mintDevToken({ dataDir: otherData, issuer: iss, audience: resource, user: 'mallory', groups: ['admin'] });
        await assert.rejects(demo.authenticate({ authorization: `Bearer ${foreign}` }), (e: unknown) => e instanceof AuthError && e.code === 'unknown_kid');
      } finally {
        rmSync(otherData, { recursive: true, force: true });
      }
    } finally {
      await app.close();
    }
  });

  it('fails closed with jwks_unavailable when the dev key cannot be loaded', async () => {
    const notADir = join(data, 'plain-file');
    writeFileSync(notADir, 'x');
    const token = await mintDevToken({ dataDir: data, issuer: 'http://127.0.0.1:18080/dev-issuer', audience: 'http://127.0.0.1:18080/mcp', user: 'u', groups: [] });
    const demo = createAuthenticator({ resource: 'http://127.0.0.1:18080/mcp', devIssuer: { enabled: true, dataDir: notADir } }, { mode: 'demo' });
    await assert.rejects(demo.authenticate({ authorization: `Bearer ${token}` }), (e: unknown) => e instanceof AuthError && e.code === 'jwks_unavailable');
  });

  it('token validity is bounded', async () => {
    await assert.rejects(mintDevToken({ dataDir: data, issuer: 'http://127.0.0.1/dev-issuer', audience: 'a', user: 'u', groups: [], ttlSeconds: 0 }), /ttl/);
    await assert.rejects(mintDevToken({ dataDir: data, issuer: 'http://127.0.0.1/dev-issuer', audience: 'a', user: 'u', groups: [], ttlSeconds: 10 * 24 * 3600 }), /ttl/);
  });
});

describe('bqwarden token command', () => {
  let data: string;
  before(() => {
    data = mkdtempSync(join(tmpdir(), 'bqw-cli-'));
  });
  after(() => rmSync(data, { recursive: true, force: true }));

  const cli = async (args: string[], env: Record<string, string> = {}) => {
    const r = await runCli(['token', ...args], { env: { BQWARDEN_DATA: data, NODE_ENV: 'test', PORT: undefined, ...env } });
    if (r.code !== 0) throw r;
    return r;
  };

  it('prints only a token on stdout, creating keys on first use and reusing them after', async () => {
    assert.equal(existsSync(devIssuerKeyDir(data)), false);
    const first = await cli(['--user', 'alice@bank.example', '--groups', 'analyst,risk', '--port', '9123', '--actor-type', 'ci']);
    const token = first.stdout.trim();
    assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
    assert.equal(first.stdout, `${token}\n`);
    const claims = decodeJwt(token);
    assert.equal(claims.iss, 'http://127.0.0.1:9123/dev-issuer');
    assert.equal(claims.aud, 'http://127.0.0.1:9123/mcp');
    assert.deepEqual(claims.groups, ['analyst', 'risk']);
    assert.equal(claims.bqwarden_actor_type, 'ci');
    assert.equal(claims.exp! - claims.iat!, 3600);

    const second = await cli(['--user', 'bob@bank.example', '--audience', 'http://127.0.0.1:7000/mcp', '--ttl', '60'], { PORT: '7000' });
    const c2 = decodeJwt(second.stdout.trim());
    assert.equal(c2.iss, 'http://127.0.0.1:7000/dev-issuer');
    assert.equal(c2.exp! - c2.iat!, 60);
    assert.equal(decodeProtectedHeader(second.stdout.trim()).kid, decodeProtectedHeader(token).kid);

    // And the demo gateway (same data dir) accepts it.
    const demo = createAuthenticator({ resource: 'http://127.0.0.1:9123/mcp', devIssuer: { enabled: true, dataDir: data } }, { mode: 'demo' });
    const id = await demo.authenticate({ authorization: `Bearer ${token}` });
    assert.equal(id.subject, 'alice@bank.example');
    assert.equal(id.actorType, 'ci');
  });

  it('refuses under NODE_ENV=production and rejects bad arguments, with nothing on stdout', async () => {
    await assert.rejects(
      cli(['--user', 'a@b'], { NODE_ENV: 'production' }),
      (e: { code: number; stdout: string; stderr: string }) => e.code === 1 && e.stdout === '' && /NODE_ENV=production/.test(e.stderr),
    );
    await assert.rejects(cli(['--user', 'a@b', '--ttl', 'soon']), (e: { stdout: string; stderr: string }) => e.stdout === '' && /ttl/.test(e.stderr));
    await assert.rejects(cli(['--user', 'a@b', '--actor-type', 'root']), (e: { stdout: string; stderr: string }) => e.stdout === '' && /actor-type/.test(e.stderr));
    await assert.rejects(cli(['--groups', 'x']), (e: { stdout: string; stderr: string }) => e.stdout === '' && /--user/.test(e.stderr));
  });
});
