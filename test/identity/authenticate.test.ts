// Valid tokens from IdP-shaped issuers become the right Identity: groups from nested/custom
// claims (Entra, Okta, Keycloak, namespaced), actor types, email handling, Google and IAP.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createAuthenticator } from '../../src/identity/authenticate.js';
import { AuthError } from '../../src/identity/types.js';
import { makeKey, startIssuer, type TestIssuer } from './helpers/issuer.js';

const RESOURCE = 'http://127.0.0.1:18080/mcp';
const bearer = (t: string) => ({ Authorization: `Bearer ${t}` });

describe('valid OIDC tokens', () => {
  let entra: TestIssuer;
  let okta: TestIssuer;
  let keycloak: TestIssuer;
  const AGENT_CLIENT = '5c1e6a0b-agent';

  before(async () => {
    entra = await startIssuer({ path: '/tenant-guid/v2.0' });
    okta = await startIssuer({ path: '/oauth2/default', alg: 'ES256' });
    keycloak = await startIssuer({ path: '/realms/bank' });
  });
  after(async () => {
    await Promise.all([entra.close(), okta.close(), keycloak.close()]);
  });

  const config = () => ({
    resource: RESOURCE,
    issuers: [
      {
        issuer: entra.url,
        audiences: [RESOURCE, 'api://bqwarden'],
        groupsClaim: 'roles',
        emailClaim: 'preferred_username',
        actorTypes: [{ actorType: 'agent' as const, claim: 'azp', values: [AGENT_CLIENT] }],
      },
      { issuer: okta.url, actorTypes: [{ actorType: 'ci' as const, group: 'ci-runners' }] },
      { issuer: keycloak.url, groupsClaim: 'realm_access.roles' },
    ],
  });

  it('Entra-style: app roles claim, preferred_username, agent by azp, alternative audience', async () => {
    const auth = createAuthenticator(config());
    const token = await entra.sign({
      sub: 'oid-1',
      aud: 'api://bqwarden',
      roles: ['analyst', 'dba'],
      groups: ['guid-1'],
      preferred_username: 'alice@bank.example',
      name: 'Alice A',
      azp: AGENT_CLIENT,
    });
    const id = await auth.authenticate(bearer(token));
    assert.deepEqual(id, {
      subject: 'oid-1',
      email: 'alice@bank.example',
      issuer: entra.url,
      groups: ['analyst', 'dba'],
      roles: [],
      actorType: 'agent',
      authMethod: 'oidc',
      expiresAt: id.expiresAt,
      name: 'Alice A',
    });
    assert.ok(typeof id.expiresAt === 'number' && id.expiresAt > Date.now() / 1000);
    const human = await auth.authenticate(bearer(await entra.sign({ sub: 'oid-2', aud: RESOURCE, roles: 'analyst', azp: 'portal' })));
    assert.equal(human.actorType, 'human');
    assert.deepEqual(human.groups, ['analyst']);
  });

  it('Entra groups overage is refused rather than read as "no groups"', async () => {
    const auth = createAuthenticator({ resource: RESOURCE, issuers: [{ issuer: entra.url }] });
    const token = await entra.sign({ sub: 'oid-3', aud: RESOURCE, _claim_names: { groups: 'src1' }, _claim_sources: { src1: { endpoint: 'https://graph.microsoft.com/x' } } });
    await assert.rejects(auth.authenticate(bearer(token)), (e: unknown) => e instanceof AuthError && e.code === 'missing_claim' && /overage/.test(e.message));
  });

  it('Okta-style: ES256, groups claim, CI by group, service account by email suffix', async () => {
    const auth = createAuthenticator(config());
    const ci = await auth.authenticate(bearer(await okta.sign({ sub: '00u1', aud: RESOURCE, groups: ['ci-runners', 'analyst'], email: 'build@bank.example' })));
    assert.equal(ci.actorType, 'ci');
    assert.deepEqual(ci.groups, ['ci-runners', 'analyst']);
    const sa = await auth.authenticate(bearer(await okta.sign({ sub: '00u2', aud: RESOURCE, email: 'etl@proj.iam.gserviceaccount.com' })));
    assert.equal(sa.actorType, 'service');
    assert.deepEqual(sa.groups, []);
  });

  it('Keycloak-style nested realm_access.roles', async () => {
    const auth = createAuthenticator(config());
    const id = await auth.authenticate(bearer(await keycloak.sign({ sub: 'kc-1', aud: [RESOURCE, 'account'], realm_access: { roles: ['teller'] } })));
    assert.deepEqual(id.groups, ['teller']);
  });

  it('namespaced custom claim whose name contains dots is read whole', async () => {
    const auth = createAuthenticator({ resource: RESOURCE, issuers: [{ issuer: keycloak.url, groupsClaim: 'https://bank.example/groups' }] });
    const id = await auth.authenticate(bearer(await keycloak.sign({ sub: 'a0|1', aud: RESOURCE, 'https://bank.example/groups': ['risk', 'risk'] })));
    assert.deepEqual(id.groups, ['risk']);
  });

  it('refuses a groups claim of the wrong type instead of guessing', async () => {
    const auth = createAuthenticator(config());
    await assert.rejects(auth.authenticate(bearer(await okta.sign({ sub: 'x', aud: RESOURCE, groups: [{ id: 1 }] }))), (e: unknown) => e instanceof AuthError && e.code === 'missing_claim');
  });

  it('drops an email the issuer marks unverified', async () => {
    const auth = createAuthenticator(config());
    const id = await auth.authenticate(bearer(await okta.sign({ sub: 'x', aud: RESOURCE, email: 'ceo@bank.example', email_verified: false })));
    assert.equal(id.email, null);
  });

  it('enforces per-issuer requiredClaims', async () => {
    const auth = createAuthenticator({ resource: RESOURCE, issuers: [{ issuer: okta.url, requiredClaims: ['cid'] }] });
    await assert.rejects(auth.authenticate(bearer(await okta.sign({ sub: 'x', aud: RESOURCE }))), (e: unknown) => e instanceof AuthError && e.code === 'missing_claim');
    assert.equal((await auth.authenticate(bearer(await okta.sign({ sub: 'x', aud: RESOURCE, cid: 'c' })))).subject, 'x');
  });

  it('caches discovery and keys: many verifications, one discovery fetch', async () => {
    const auth = createAuthenticator({ resource: RESOURCE, issuers: [{ issuer: keycloak.url }] });
    const before = { ...keycloak.hits };
    const token = await keycloak.sign({ sub: 'kc', aud: RESOURCE });
    for (let i = 0; i < 5; i++) await auth.authenticate(bearer(token));
    assert.equal(keycloak.hits.discovery - before.discovery, 1);
    assert.equal(keycloak.hits.jwks - before.jwks, 1);
  });
});

describe('valid Google ID tokens and IAP assertions', () => {
  let certs: TestIssuer;
  const IAP_AUD = '/projects/123456/global/backendServices/987';
  const AUD = 'https://gateway.bank.example/mcp';

  before(async () => {
    certs = await startIssuer({ path: '/google' });
    await certs.addKey('ES256');
  });
  after(() => certs.close());

  it('Google ID token of a service account → service, email kept, no groups', async () => {
    const auth = createAuthenticator({ resource: AUD, google: { idTokens: { audiences: [AUD], certsUrl: `${certs.url}/pem` } } });
    const token = await certs.sign({ iss: 'https://accounts.google.com', aud: AUD, sub: '1099', email: 'ci@proj.iam.gserviceaccount.com', email_verified: true, azp: '1099' });
    const id = await auth.authenticate(bearer(token));
    assert.equal(id.authMethod, 'google_id_token');
    assert.equal(id.actorType, 'service');
    assert.equal(id.email, 'ci@proj.iam.gserviceaccount.com');
    assert.equal(id.issuer, 'https://accounts.google.com');
    assert.deepEqual(id.groups, []);
  });

  it('IAP assertion → iap identity with the user email; rotated IAP key is picked up', async () => {
    const auth = createAuthenticator({ resource: AUD, jwksCooldownSeconds: 0, google: { iap: { audience: IAP_AUD, publicKeyUrl: `${certs.url}/pem` } } });
    const es = certs.keys.find((k) => k.alg === 'ES256')!;
    const claims = { iss: 'https://cloud.google.com/iap', aud: IAP_AUD, sub: 'accounts.google.com:42', email: 'alice@bank.example', hd: 'bank.example' };
    const id = await auth.authenticate({ 'x-goog-iap-jwt-assertion': await certs.sign(claims, { key: es }) });
    assert.equal(id.authMethod, 'iap');
    assert.equal(id.email, 'alice@bank.example');
    assert.equal(id.subject, 'accounts.google.com:42');
    const rotated = await certs.addKey('ES256');
    assert.equal((await auth.authenticate({ 'x-goog-iap-jwt-assertion': await certs.sign(claims, { key: rotated }) })).subject, 'accounts.google.com:42');
    const stray = await makeKey('ES256');
    await assert.rejects(auth.authenticate({ 'x-goog-iap-jwt-assertion': await certs.sign(claims, { key: stray }) }), (e: unknown) => e instanceof AuthError && e.code === 'unknown_kid');
  });
});
