// Environment overrides of the gateway's configuration. The environment is the operator's (and
// the platform's: Cloud Run, a CI runner, a shell), so it holds variables bqwarden has never heard
// of; their names must not be looked up as if they were config aliases.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadGatewayConfig } from '../../src/server/config.js';

test('variables named like Object.prototype members are not aliases (an env var "toString" or "constructor" does not crash startup)', () => {
  for (const name of ['toString', 'constructor', 'hasOwnProperty', 'valueOf', '__proto__']) {
    const env: NodeJS.ProcessEnv = Object.create(null);
    Object.defineProperty(env, name, { value: 'x', enumerable: true });
    const config = loadGatewayConfig({ env });
    assert.equal(config.server.port, loadGatewayConfig({ env: {} }).server.port, name);
  }
});

test('the documented aliases and BQWARDEN__ paths still apply', () => {
  const config = loadGatewayConfig({ env: { PORT: '9123', BQWARDEN__server__host: '127.0.0.2' } });
  assert.equal(config.server.port, 9123);
  assert.equal(config.server.host, '127.0.0.2');
});
