// IAP enabled directly on a Cloud Run service (the Terraform module's iap_enabled) signs its
// assertions with aud = /projects/<number>/locations/<region>/services/<service>. The gateway
// must accept exactly its own service in that form and nothing that merely looks like it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createAuthenticator, type Authenticator } from '../../src/identity/authenticate.js';
import { parseIdentityConfig } from '../../src/identity/config.js';
import { AuthError } from '../../src/identity/types.js';
import { makeKey, startIssuer, type TestIssuer } from './helpers/issuer.js';

const RESOURCE = 'https://bqwarden-gateway-123456789012.europe-west2.run.app/mcp';
const AUD = '/projects/123456789012/locations/europe-west2/services/bqwarden-gateway';

async function refused(auth: Authenticator, assertion: string, code: AuthError['code']): Promise<void> {
  await assert.rejects(auth.authenticate({ 'x-goog-iap-jwt-assertion': assertion }), (err: unknown) => {
    assert.ok(err instanceof AuthError, String(err));
    assert.equal(err.code, code, err.message);
    return true;
  });
}

describe('IAP on Cloud Run: the /projects/N/locations/R/services/S audience', () => {
  let certs: TestIssuer; // serves { kid: pem } like https://www.gstatic.com/iap/verify/public_key
  let key: Awaited<ReturnType<typeof makeKey>>;
  let auth: Authenticator;

  before(async () => {
    certs = await startIssuer({ path: '/iap' });
    key = await certs.addKey('ES256');
    auth = createAuthenticator({ resource: RESOURCE, google: { iap: { audience: AUD, publicKeyUrl: `${certs.url}/pem` } } });
  });
  after(() => certs.close());

  const assertion = (claims: Record<string, unknown> = {}) =>
    certs.sign({ iss: 'https://cloud.google.com/iap', aud: AUD, sub: 'accounts.google.com:1170', email: 'alice@bank.example', ...claims }, { key });

  it('attack: assertions IAP signed for another Cloud Run service, region or project are refused', async () => {
    for (const aud of [
      '/projects/123456789012/locations/europe-west2/services/bqwarden-gateway-staging',
      '/projects/123456789012/locations/us-central1/services/bqwarden-gateway',
      '/projects/999999999999/locations/europe-west2/services/bqwarden-gateway',
      '/projects/123456789012/global/backendServices/42',
      `${AUD}/extra`,
    ]) {
      await refused(auth, await assertion({ aud }), 'wrong_audience');
    }
  });

  it('attack: a bearer token instead of the IAP header is refused (IAP is required)', async () => {
    await assert.rejects(auth.authenticate({ authorization: `Bearer ${await assertion()}` }), (e: unknown) => e instanceof AuthError && e.code === 'missing_token');
  });

  it('accepts the signed header Cloud Run IAP sends for this service', async () => {
    const id = await auth.authenticate({ 'x-goog-iap-jwt-assertion': await assertion() });
    assert.equal(id.authMethod, 'iap');
    assert.equal(id.email, 'alice@bank.example');
    assert.equal(id.issuer, 'https://cloud.google.com/iap');
  });

  it('config accepts the three audience forms IAP uses and refuses look-alikes', () => {
    for (const ok of [AUD, '/projects/1/global/backendServices/987', '/projects/1/apps/my-project']) {
      assert.equal(parseIdentityConfig({ google: { iap: { audience: ok } } }).google.iap?.audience, ok);
    }
    for (const bad of [
      '/projects/p/locations/r/services/s',
      '/projects/1/locations/r/services/',
      '/projects/1/locations/r/services/s/',
      'projects/1/locations/r/services/s',
      '/projects/1/locations/R/services/S',
    ]) {
      assert.throws(() => parseIdentityConfig({ google: { iap: { audience: bad } } }), /identity\.google\.iap\.audience/, bad);
    }
  });
});
