// Identity configuration (defaults, errors that name the bad key) and what the gateway
// publishes for MCP clients: RFC 9728 resource metadata and the RFC 6750 challenge.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseIdentityConfig } from '../../src/identity/config.js';
import { protectedResourceMetadata, protectedResourceMetadataPaths, protectedResourceMetadataUrl, wwwAuthenticateHeader } from '../../src/identity/authenticate.js';
import { AuthError } from '../../src/identity/types.js';
import { first } from '../helpers/present.js';

describe('identity config', () => {
  it('an empty section is valid and trusts no issuer', () => {
    const c = parseIdentityConfig({});
    assert.deepEqual(c.issuers, []);
    assert.equal(c.devIssuer.enabled, false);
    assert.equal(c.clockToleranceSeconds, 30);
    assert.deepEqual(c.upstreamCredential, { type: 'none' });
    assert.equal(first(c.actorTypes, 'actor type').emailSuffix, '.iam.gserviceaccount.com');
  });

  it('fills issuer defaults', () => {
    const c = parseIdentityConfig({ issuers: [{ issuer: 'https://login.example/tenant/v2.0' }] });
    const issuer = first(c.issuers, 'issuer');
    assert.deepEqual(issuer.algorithms, ['RS256', 'ES256', 'PS256', 'EdDSA']);
    assert.equal(issuer.groupsClaim, 'groups');
    assert.equal(issuer.discovery, true);
  });

  const bad: Array<[string, unknown, RegExp]> = [
    ['plain-http issuer', { issuers: [{ issuer: 'http://idp.example' }] }, /identity\.issuers\.0\.issuer: .*https/],
    ['HS256 on the allow-list', { issuers: [{ issuer: 'https://idp.example', algorithms: ['HS256'] }] }, /identity\.issuers\.0\.algorithms\.0/],
    ['no discovery and no jwksUri', { issuers: [{ issuer: 'https://idp.example', discovery: false }] }, /identity\.issuers\.0\.jwksUri: jwksUri is required/],
    ['unknown key (typo)', { issuers: [{ issuer: 'https://idp.example', groupClaim: 'roles' }] }, /identity\.issuers\.0.*groupClaim/],
    ['duplicate issuer', { issuers: [{ issuer: 'https://idp.example' }, { issuer: 'https://idp.example' }] }, /identity\.issuers\.1\.issuer: .*twice/],
    ['rule without condition', { actorTypes: [{ actorType: 'ci' }] }, /identity\.actorTypes\.0: .*condition/],
    ['claim rule without values', { actorTypes: [{ actorType: 'agent', claim: 'azp' }] }, /identity\.actorTypes\.0: .*values/],
    ['bad IAP audience', { google: { iap: { audience: 'my-backend' } } }, /identity\.google\.iap\.audience/],
    ['clock tolerance too large', { clockToleranceSeconds: 3600 }, /identity\.clockToleranceSeconds/],
    ['static bearer without file', { upstreamCredential: { type: 'static_bearer' } }, /identity\.upstreamCredential\.secretFile/],
  ];
  for (const [name, input, re] of bad) {
    it(`refuses ${name}, naming the key`, () => {
      assert.throws(() => parseIdentityConfig(input), re);
    });
  }
});

describe('protected resource metadata and challenge', () => {
  const config = {
    resource: 'https://gateway.bank.example/mcp',
    issuers: [{ issuer: 'https://login.microsoftonline.com/tid/v2.0' }],
    google: { idTokens: { audiences: ['x'] } },
  };

  it('RFC 9728 document lists resource, authorization servers and header-only bearer', () => {
    assert.deepEqual(protectedResourceMetadata(config), {
      resource: 'https://gateway.bank.example/mcp',
      authorization_servers: ['https://login.microsoftonline.com/tid/v2.0', 'https://accounts.google.com'],
      bearer_methods_supported: ['header'],
      resource_name: 'bqwarden',
    });
    const scoped = protectedResourceMetadata({ ...config, scopesSupported: ['bqwarden.query'] });
    assert.deepEqual(scoped.scopes_supported, ['bqwarden.query']);
  });

  it('is served at the path-inserted and root well-known paths', () => {
    assert.deepEqual(protectedResourceMetadataPaths(config), ['/.well-known/oauth-protected-resource/mcp', '/.well-known/oauth-protected-resource']);
    assert.equal(protectedResourceMetadataUrl(config), 'https://gateway.bank.example/.well-known/oauth-protected-resource/mcp');
    assert.deepEqual(protectedResourceMetadataPaths({ resource: 'https://gw.example/' }), ['/.well-known/oauth-protected-resource']);
  });

  it('lists the dev issuer only when it is enabled', () => {
    const doc = protectedResourceMetadata({ resource: 'http://127.0.0.1:8080/mcp', devIssuer: { enabled: true } });
    assert.deepEqual(doc.authorization_servers, ['http://127.0.0.1:8080/dev-issuer']);
  });

  it('challenge: no error code without a token, invalid_token with one', () => {
    assert.equal(wwwAuthenticateHeader(config), 'Bearer resource_metadata="https://gateway.bank.example/.well-known/oauth-protected-resource/mcp"');
    assert.equal(wwwAuthenticateHeader(config, new AuthError('missing_token', 'no token')), 'Bearer resource_metadata="https://gateway.bank.example/.well-known/oauth-protected-resource/mcp"');
    const h = wwwAuthenticateHeader(config, new AuthError('expired', 'token "exp" passed\n\\ injected="x"'));
    assert.match(h, /^Bearer resource_metadata="[^"]+", error="invalid_token", error_description="expired: token 'exp' passed ' injected='x'"$/);
  });
});
