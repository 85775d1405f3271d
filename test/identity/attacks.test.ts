// Attacks on token verification, each against a local issuer with test-time keys. Every attack
// must be refused with its specific AuthError code (the code lands in the audit event).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { createHmac } from 'node:crypto';
import { createAuthenticator, type Authenticator } from '../../src/identity/authenticate.js';
import { AuthError } from '../../src/identity/types.js';
import { mintDevToken } from '../../src/identity/dev-issuer.js';
import { b64json, makeKey, startIssuer, type TestIssuer } from './helpers/issuer.js';
import { first } from '../helpers/present.js';

const RESOURCE = 'http://127.0.0.1:18080/mcp';

async function rejects(auth: Authenticator, headers: Record<string, string | string[] | undefined>, code: AuthError['code']): Promise<AuthError> {
  try {
    await auth.authenticate(headers);
  } catch (err) {
    assert.ok(err instanceof AuthError, `expected AuthError, got ${String(err)}`);
    assert.equal(err.code, code, `expected ${code}, got ${err.code}: ${err.message}`);
    return err;
  }
  assert.fail(`expected rejection with ${code}, but the token was accepted`);
}

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

describe('OIDC bearer token attacks', () => {
  let idp: TestIssuer;
  let other: TestIssuer;
  let auth: Authenticator;
  const now = () => Math.floor(Date.now() / 1000);
  const good = () => ({ sub: 'alice', aud: RESOURCE, groups: ['analyst'] });

  before(async () => {
    idp = await startIssuer({ path: '/tenant-a' });
    other = await startIssuer({ path: '/evil' });
    auth = createAuthenticator({ resource: RESOURCE, issuers: [{ issuer: idp.url }], jwksCooldownSeconds: 0 });
  });
  after(async () => {
    await idp.close();
    await other.close();
  });

  it('accepts a well-formed token (control)', async () => {
    const id = await auth.authenticate(bearer(await idp.sign(good())));
    assert.equal(id.subject, 'alice');
    assert.deepEqual(id.groups, ['analyst']);
  });

  it('refuses alg "none"', async () => {
    const token = `${b64json({ alg: 'none', typ: 'JWT' })}.${b64json({ ...good(), iss: idp.url, exp: now() + 600 })}.`;
    await rejects(auth, bearer(token), 'alg_not_allowed');
  });

  it('refuses HS256 signed with the RSA public key as the HMAC secret (key confusion)', async () => {
    const secret = first(idp.keys, 'issuer key').spkiPem;
    const head = b64json({ alg: 'HS256', typ: 'JWT', kid: first(idp.keys, 'issuer key').kid });
    const body = b64json({ ...good(), iss: idp.url, iat: now(), exp: now() + 600 });
    const sig = createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
    await rejects(auth, bearer(`${head}.${body}.${sig}`), 'alg_not_allowed');
    // Same with the JWK form of the key as secret.
    const sig2 = createHmac('sha256', JSON.stringify(first(idp.keys, 'issuer key').publicJwk))
      .update(`${head}.${body}`)
      .digest('base64url');
    await rejects(auth, bearer(`${head}.${body}.${sig2}`), 'alg_not_allowed');
  });

  it('refuses an expired token, and one expired just beyond the clock tolerance', async () => {
    await rejects(auth, bearer(await idp.sign({ ...good(), iat: now() - 7200, exp: now() - 3600 })), 'expired');
    await rejects(auth, bearer(await idp.sign({ ...good(), iat: now() - 7200, exp: now() - 45 })), 'expired');
  });

  it('accepts a token expired within the clock tolerance (tolerance is applied, not ignored)', async () => {
    const id = await auth.authenticate(bearer(await idp.sign({ ...good(), iat: now() - 600, exp: now() - 5 })));
    assert.equal(id.subject, 'alice');
  });

  it('refuses a token not yet valid (nbf or iat in the future beyond tolerance)', async () => {
    await rejects(auth, bearer(await idp.sign({ ...good(), nbf: now() + 300 })), 'not_yet_valid');
    await rejects(auth, bearer(await idp.sign({ ...good(), iat: now() + 300, exp: now() + 900 })), 'not_yet_valid');
  });

  it('refuses a token from an untrusted issuer', async () => {
    await rejects(auth, bearer(await other.sign(good())), 'wrong_issuer');
    // The untrusted iss is echoed only as escaped, printable text (it reaches logs and audit).
    const e = await rejects(auth, bearer(await other.sign({ ...good(), iss: 'https://x\r\nforged: line\u0000' })), 'wrong_issuer');
    assert.doesNotMatch(e.message, /[\r\n\u0000]/);
  });

  it('refuses a token claiming the trusted issuer but signed with another issuer key', async () => {
    await rejects(auth, bearer(await other.sign({ ...good(), iss: idp.url })), 'unknown_kid');
    // Same kid as the real key, wrong key material.
    const forged = await makeKey('RS256', first(idp.keys, 'issuer key').kid);
    await rejects(auth, bearer(await idp.sign(good(), { key: forged })), 'bad_signature');
  });

  it('refuses a token for another resource (audience)', async () => {
    await rejects(auth, bearer(await idp.sign({ ...good(), aud: 'http://127.0.0.1:9999/mcp' })), 'wrong_audience');
    await rejects(auth, bearer(await idp.sign({ ...good(), aud: ['https://graph.microsoft.com'] })), 'wrong_audience');
  });

  it('refuses a token whose kid the issuer never published', async () => {
    const stray = await makeKey('RS256');
    await rejects(auth, bearer(await idp.sign(good(), { key: stray })), 'unknown_kid');
  });

  it('ignores keys the token brings along (embedded jwk / jku header)', async () => {
    const evil = await makeKey('RS256');
    const withJwk = await idp.sign(good(), { key: evil, header: { jwk: evil.publicJwk } });
    await rejects(auth, bearer(withJwk), 'unknown_kid');
    const withJku = await idp.sign(good(), { key: evil, header: { jku: `${other.url}/jwks` } });
    await rejects(auth, bearer(withJku), 'unknown_kid');
  });

  it('refuses a tampered payload (signature no longer matches)', async () => {
    const [h, , s] = (await idp.sign(good())).split('.');
    const escalated = b64json({ ...good(), groups: ['admin'], iss: idp.url, iat: now(), exp: now() + 600 });
    await rejects(auth, bearer(`${h}.${escalated}.${s}`), 'bad_signature');
  });

  it('refuses tokens missing sub or exp', async () => {
    await rejects(auth, bearer(await idp.sign({ aud: RESOURCE, iss: idp.url, iat: now() }, { noDefaults: true })), 'missing_claim');
    await rejects(auth, bearer(await idp.sign({ aud: RESOURCE, iss: idp.url, sub: 'alice', iat: now() }, { noDefaults: true })), 'missing_claim');
  });

  it('refuses a missing token and malformed Authorization headers', async () => {
    await rejects(auth, {}, 'missing_token');
    await rejects(auth, { authorization: '' }, 'missing_token');
    await rejects(auth, { authorization: 'Basic YWxpY2U6cHc=' }, 'malformed_token');
    await rejects(auth, { authorization: 'Bearer' }, 'malformed_token');
    await rejects(auth, { authorization: 'Bearer not-a-jwt' }, 'malformed_token');
    await rejects(auth, { authorization: 'Bearer a.b.c.d.e' }, 'malformed_token');
    await rejects(auth, { authorization: 'Bearer !!.??.**' }, 'malformed_token');
    await rejects(auth, { authorization: 'Bearer aaa.bbb.ccc' }, 'malformed_token');
    const t = await idp.sign(good());
    await rejects(auth, { authorization: [`Bearer ${t}`, `Bearer ${t}`] }, 'malformed_token');
  });

  it('refuses when the JWKS cannot be fetched (fail closed), and recovers after', async () => {
    const fresh = createAuthenticator({ resource: RESOURCE, issuers: [{ issuer: idp.url }] });
    const token = await idp.sign(good());
    idp.down = true;
    try {
      await rejects(fresh, bearer(token), 'jwks_unavailable');
    } finally {
      idp.down = false;
    }
    assert.equal((await fresh.authenticate(bearer(token))).subject, 'alice');
  });

  it('refuses when the network fails outright (injected fetch)', async () => {
    const failing = (async () => {
      throw new TypeError('fetch failed');
    }) as typeof fetch;
    const a = createAuthenticator({ resource: RESOURCE, issuers: [{ issuer: idp.url }] }, { fetch: failing });
    await rejects(a, bearer(await idp.sign(good())), 'jwks_unavailable');
    const b = createAuthenticator({ resource: RESOURCE, issuers: [{ issuer: idp.url, discovery: false, jwksUri: `${idp.url}/jwks` }] }, { fetch: failing });
    await rejects(b, bearer(await idp.sign(good())), 'jwks_unavailable');
  });

  it('refuses when the discovery document names a different issuer (mix-up)', async () => {
    const a = createAuthenticator({ resource: RESOURCE, issuers: [{ issuer: idp.url }] });
    idp.discoveryIssuer = other.url;
    try {
      await rejects(a, bearer(await idp.sign(good())), 'jwks_unavailable');
    } finally {
      idp.discoveryIssuer = null;
    }
  });

  it('follows JWKS rotation: a new key is accepted after refetch, a removed key is refused', async () => {
    const rot = await startIssuer({ path: '/rotating' });
    try {
      const a = createAuthenticator({ resource: RESOURCE, issuers: [{ issuer: rot.url }], jwksCooldownSeconds: 0, jwksCacheMaxAgeSeconds: 0 });
      const oldKey = first(rot.keys, 'rotating issuer key');
      assert.equal((await a.authenticate(bearer(await rot.sign(good())))).subject, 'alice');
      const newKey = await rot.addKey();
      const before = rot.hits.jwks;
      assert.equal((await a.authenticate(bearer(await rot.sign(good(), { key: newKey })))).subject, 'alice');
      assert.ok(rot.hits.jwks > before, 'the new kid made the verifier refetch the JWKS');
      rot.removeKey(oldKey.kid);
      await rejects(a, bearer(await rot.sign(good(), { key: oldKey })), 'unknown_kid');
      assert.equal((await a.authenticate(bearer(await rot.sign(good(), { key: newKey })))).subject, 'alice');
    } finally {
      await rot.close();
    }
  });

  it('refuses an algorithm the issuer config does not allow even with a valid signature', async () => {
    const es = await startIssuer({ path: '/es', alg: 'ES256' });
    try {
      const a = createAuthenticator({ resource: RESOURCE, issuers: [{ issuer: es.url, algorithms: ['RS256'] }] });
      await rejects(a, bearer(await es.sign(good())), 'alg_not_allowed');
    } finally {
      await es.close();
    }
  });

  it('refuses a dev-issuer token at a gateway that is not in demo mode', async () => {
    const data = mkdtempSync(join(tmpdir(), 'bqw-id-'));
    try {
      const token = await mintDevToken({ dataDir: data, issuer: 'http://127.0.0.1:18080/dev-issuer', audience: RESOURCE, user: 'mallory@bank.example', groups: ['admin'] });
      // Production gateway: dev issuer not enabled, so its tokens come from an untrusted issuer.
      await rejects(auth, bearer(token), 'wrong_issuer');
      // Enabling the dev issuer outside demo/dev mode is refused at startup.
      assert.throws(() => createAuthenticator({ resource: RESOURCE, devIssuer: { enabled: true, dataDir: data } }, { mode: 'production' }), /demo or dev mode/);
      assert.throws(() => createAuthenticator({ resource: RESOURCE, devIssuer: { enabled: true, dataDir: data } }), /demo or dev mode/);
    } finally {
      rmSync(data, { recursive: true, force: true });
    }
  });

  it('does not trust a spoofed IAP header when IAP is not configured', async () => {
    const key = await makeKey('ES256');
    const fake = await new SignJWT({ sub: 'accounts.google.com:1', email: 'ceo@bank.example', aud: '/projects/1/global/backendServices/2', iss: 'https://cloud.google.com/iap' })
      .setProtectedHeader({ alg: 'ES256', kid: key.kid })
      .setIssuedAt()
      .setExpirationTime('10m')
      .sign(key.privateKey);
    await rejects(auth, { 'x-goog-iap-jwt-assertion': fake }, 'missing_token');
  });
});

describe('Google ID token and IAP attacks', () => {
  let certs: TestIssuer; // serves { kid: pem } maps like Google's cert endpoints
  const IAP_AUD = '/projects/123456/global/backendServices/987';
  const GOOGLE_AUD = 'bqwarden-client.apps.googleusercontent.com';
  let auth: Authenticator;
  let iapKey: Awaited<ReturnType<typeof makeKey>>;
  const now = () => Math.floor(Date.now() / 1000);

  before(async () => {
    certs = await startIssuer({ path: '/google' });
    iapKey = await certs.addKey('ES256');
    auth = createAuthenticator({
      resource: RESOURCE,
      google: {
        idTokens: { audiences: [GOOGLE_AUD], certsUrl: `${certs.url}/pem` },
        iap: { audience: IAP_AUD, publicKeyUrl: `${certs.url}/pem`, required: false },
      },
    });
  });
  after(() => certs.close());

  const iap = (claims: Record<string, unknown>, key = iapKey) =>
    certs.sign({ iss: 'https://cloud.google.com/iap', aud: IAP_AUD, sub: 'accounts.google.com:42', email: 'alice@bank.example', ...claims }, { key });
  const gid = (claims: Record<string, unknown>) =>
    certs.sign({ iss: 'https://accounts.google.com', aud: GOOGLE_AUD, sub: '1122', email: 'ci@proj.iam.gserviceaccount.com', email_verified: true, ...claims });

  it('accepts a valid IAP assertion and a valid Google ID token (control)', async () => {
    assert.equal((await auth.authenticate({ 'x-goog-iap-jwt-assertion': await iap({}) })).authMethod, 'iap');
    assert.equal((await auth.authenticate(bearer(await gid({})))).authMethod, 'google_id_token');
  });

  it('refuses an IAP assertion for another backend service (audience)', async () => {
    await rejects(auth, { 'x-goog-iap-jwt-assertion': await iap({ aud: '/projects/123456/global/backendServices/1' }) }, 'wrong_audience');
  });

  it('refuses an IAP assertion from another issuer', async () => {
    await rejects(auth, { 'x-goog-iap-jwt-assertion': await iap({ iss: 'https://accounts.google.com' }) }, 'wrong_issuer');
  });

  it('refuses an expired IAP assertion, also when inside the library skew but beyond our tolerance', async () => {
    await rejects(auth, { 'x-goog-iap-jwt-assertion': await iap({ iat: now() - 7200, exp: now() - 3600 }) }, 'expired');
    await rejects(auth, { 'x-goog-iap-jwt-assertion': await iap({ iat: now() - 700, exp: now() - 120 }) }, 'expired');
  });

  it('refuses IAP assertions with a wrong alg, unknown kid, bad signature', async () => {
    const rs = await iap({}, certs.keys[0]); // RS256 key: IAP only signs ES256
    await rejects(auth, { 'x-goog-iap-jwt-assertion': rs }, 'alg_not_allowed');
    const stray = await makeKey('ES256');
    await rejects(auth, { 'x-goog-iap-jwt-assertion': await iap({}, stray) }, 'unknown_kid');
    const [h, , s] = (await iap({})).split('.');
    await rejects(
      auth,
      { 'x-goog-iap-jwt-assertion': `${h}.${b64json({ iss: 'https://cloud.google.com/iap', aud: IAP_AUD, sub: 'x', email: 'ceo@bank.example', iat: now(), exp: now() + 600 })}.${s}` },
      'bad_signature',
    );
  });

  it('refuses a request without the IAP header when IAP is required', async () => {
    const strict = createAuthenticator({ resource: RESOURCE, google: { iap: { audience: IAP_AUD, publicKeyUrl: `${certs.url}/pem` } } });
    await rejects(strict, {}, 'missing_token');
    await rejects(strict, bearer(await gid({})), 'missing_token');
  });

  it('refuses Google ID tokens with wrong audience, alg none, expired, or an unlisted hosted domain', async () => {
    await rejects(auth, bearer(await gid({ aud: 'someone-else.apps.googleusercontent.com' })), 'wrong_audience');
    await rejects(auth, bearer(`${b64json({ alg: 'none' })}.${b64json({ iss: 'https://accounts.google.com', aud: GOOGLE_AUD, sub: '1', iat: now(), exp: now() + 600 })}.`), 'alg_not_allowed');
    await rejects(auth, bearer(await gid({ iat: now() - 7200, exp: now() - 3600 })), 'expired');
    const hd = createAuthenticator({ resource: RESOURCE, google: { idTokens: { audiences: [GOOGLE_AUD], certsUrl: `${certs.url}/pem`, hostedDomains: ['bank.example'] } } });
    await rejects(hd, bearer(await gid({ hd: 'evil.example' })), 'google_token_invalid');
    assert.equal((await hd.authenticate(bearer(await gid({ hd: 'bank.example' })))).subject, '1122');
  });

  it('refuses Google tokens when the certificate endpoint is down (fail closed)', async () => {
    const a = createAuthenticator({ resource: RESOURCE, google: { iap: { audience: IAP_AUD, publicKeyUrl: 'http://127.0.0.1:9/unreachable' } } });
    await rejects(a, { 'x-goog-iap-jwt-assertion': await iap({}) }, 'jwks_unavailable');
  });
});
