// The verified-token cache saves a signature check per call; it must never accept what the
// verifier would refuse. Attacks first: a token one byte off a cached one, a token past its exp
// while cached, a token cached on one route replayed on another (bearer → IAP header).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createAuthenticator } from '../../src/identity/authenticate.js';
import { createVerifiedTokens } from '../../src/identity/verified-tokens.js';
import { AuthError, type Identity } from '../../src/identity/types.js';
import { startIssuer, type TestIssuer } from './helpers/issuer.js';

const RESOURCE = 'http://127.0.0.1:18080/mcp';
const bearer = (t: string) => ({ Authorization: `Bearer ${t}` });

describe('verified tokens through the authenticator', () => {
  let idp: TestIssuer;
  let certs: TestIssuer;
  const IAP_AUD = '/projects/123456/global/backendServices/987';
  const AUD = 'https://gateway.bank.example/mcp';
  before(async () => {
    idp = await startIssuer({ path: '/tenant' });
    certs = await startIssuer({ path: '/google' });
    await certs.addKey('ES256');
  });
  after(async () => {
    await Promise.all([idp.close(), certs.close()]);
  });

  it('attack: a cached token with its signature or a claim changed is verified from scratch and refused', async () => {
    const auth = createAuthenticator({ resource: RESOURCE, issuers: [{ issuer: idp.url }] });
    const token = await idp.sign({ sub: 'u1', aud: RESOURCE, email: 'ana@bank.example', groups: ['analyst'] });
    assert.equal((await auth.authenticate(bearer(token))).subject, 'u1');
    const [h, p, s] = token.split('.') as [string, string, string];
    const badSig = `${h}.${p}.${s.slice(0, -2)}${s.endsWith('AA') ? 'AB' : 'AA'}`;
    await assert.rejects(auth.authenticate(bearer(badSig)), (e: unknown) => e instanceof AuthError);
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
    const promoted = `${h}.${Buffer.from(JSON.stringify({ ...claims, groups: ['approver'] })).toString('base64url')}.${s}`;
    await assert.rejects(auth.authenticate(bearer(promoted)), (e: unknown) => e instanceof AuthError);
  });

  it('attack: a token cached as a Google ID token is not an IAP assertion', async () => {
    const auth = createAuthenticator({
      resource: AUD,
      google: { idTokens: { audiences: [AUD], certsUrl: `${certs.url}/pem` }, iap: { audience: IAP_AUD, publicKeyUrl: `${certs.url}/pem`, required: false } },
    });
    const token = await certs.sign({ iss: 'https://accounts.google.com', aud: AUD, sub: '1099', email: 'ci@proj.iam.gserviceaccount.com', email_verified: true });
    assert.equal((await auth.authenticate(bearer(token))).authMethod, 'google_id_token');
    await assert.rejects(auth.authenticate({ 'x-goog-iap-jwt-assertion': token }), (e: unknown) => e instanceof AuthError);
  });

  it('a cached token past its exp is refused, though the cache was told to keep it longer', async () => {
    let now = Date.now();
    const auth = createAuthenticator({ resource: RESOURCE, issuers: [{ issuer: idp.url }], clockToleranceSeconds: 0, verifiedTokenCacheSeconds: 300 }, { now: () => now });
    const exp = Math.floor(Date.now() / 1000) + 120;
    const token = await idp.sign({ sub: 'u2', aud: RESOURCE, exp });
    assert.equal((await auth.authenticate(bearer(token))).subject, 'u2');
    // The cache's clock passes exp: the entry is gone, and the verifier (real clock) decides again.
    now = exp * 1000 + 1;
    const verified = createVerifiedTokens(300, () => now);
    assert.equal(verified.get(token), null);
    assert.equal((await auth.authenticate(bearer(token))).subject, 'u2', 'verified again (the real clock is before exp)');
  });

  it('every caller gets its own copy of the identity', async () => {
    const auth = createAuthenticator({ resource: RESOURCE, issuers: [{ issuer: idp.url }] });
    const token = await idp.sign({ sub: 'u3', aud: RESOURCE, groups: ['analyst'] });
    const a = await auth.authenticate(bearer(token));
    a.groups.push('approver');
    a.roles.push('approver');
    const b = await auth.authenticate(bearer(token));
    assert.deepEqual(b.groups, ['analyst']);
    assert.deepEqual(b.roles, []);
  });
});

describe('verified-token window', () => {
  const id = (exp: number | null): Identity => ({ subject: 's', email: null, issuer: 'i', groups: ['g'], roles: [], actorType: 'human', authMethod: 'oidc', expiresAt: exp, name: null });

  it('an entry lives until exp or ttl after verification, whichever is first', () => {
    let now = 1_000_000_000_000;
    const v = createVerifiedTokens(60, () => now);
    v.remember('short', id(now / 1000 + 30));
    v.remember('long', id(now / 1000 + 3600));
    now += 29_999;
    assert.ok(v.get('short') && v.get('long'));
    now += 1;
    assert.equal(v.get('short'), null, 'at exp');
    now += 30_000;
    assert.equal(v.get('long'), null, 'at ttl');
  });

  it('tokens without exp, already expired, or with the cache off are not kept', () => {
    const now = 1_000_000_000_000;
    const v = createVerifiedTokens(60, () => now);
    v.remember('noexp', id(null));
    v.remember('past', id(now / 1000 - 1));
    assert.equal(v.size, 0);
    const off = createVerifiedTokens(0, () => now);
    off.remember('t', id(now / 1000 + 30));
    assert.equal(off.get('t'), null);
  });

  it('stays bounded', () => {
    const now = 1_000_000_000_000;
    const v = createVerifiedTokens(60, () => now);
    for (let i = 0; i < 10_050; i++) v.remember(`t${i}`, id(now / 1000 + 30));
    assert.ok(v.size <= 10_000);
    assert.ok(v.get('t10049'), 'the newest is kept');
  });
});
