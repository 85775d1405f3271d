// Red team, deployment mode: the demo conveniences must vanish in production. A gateway in
// production mode, started over a data directory that still holds the demo token-signing key
// (a demo that was "promoted"), must not trust tokens minted with that key, must not serve the
// dev issuer's discovery or JWKS, and must keep refusing strangers.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startStack, type TestStack } from '../helpers/gateway.js';
import { loadOrCreateDevIssuerKey } from '../../src/identity/dev-issuer.js';
import { raw } from './helpers.js';

let stack: TestStack;
const secrets = mkdtempSync(join(tmpdir(), 'bqwarden-sec-prod-'));

before(async () => {
  const keyFile = join(secrets, 'pseudonym.key');
  writeFileSync(keyFile, randomBytes(32).toString('hex'), { mode: 0o600 });
  const dataDir = mkdtempSync(join(tmpdir(), 'bqwarden-sec-prod-data-'));
  // The demo key exists in the data directory, as it would after running the demo there.
  await loadOrCreateDevIssuerKey(dataDir);
  stack = await startStack({ dataDir, config: { mode: 'production', masking: { pseudonym: { keyFile } } } });
});
after(async () => {
  const dir = stack?.dataDir;
  await stack?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
  rmSync(secrets, { recursive: true, force: true });
});

const INIT = { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'prod', version: '1' } } };

test('production mode: tokens signed with the demo key are refused (401), for every role', async () => {
  for (const groups of [['pii-reader'], ['approver'], ['examiner']]) {
    const token = await stack.token('promoted-demo@bank.example', groups);
    const r = await raw(stack.mcpUrl, INIT, { token });
    assert.equal(r.status, 401, `${groups}: ${r.status} ${r.text.slice(0, 200)}`);
  }
});

test('production mode: the dev issuer publishes no discovery document or keys', async () => {
  for (const p of ['/dev-issuer/.well-known/openid-configuration', '/dev-issuer/jwks.json']) {
    const res = await fetch(`${stack.url}${p}`);
    assert.equal(res.status, 404, p);
  }
});

test('production mode: the approvals API and the console refuse demo-key tokens too', async () => {
  const token = await stack.token('promoted-demo@bank.example', ['examiner', 'approver']);
  const a = await fetch(`${stack.url}/approvals`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(a.status, 401);
  const c = await fetch(`${stack.url}/console/events`, { headers: { authorization: `Bearer ${token}` }, redirect: 'manual' });
  assert.ok(c.status === 401 || c.status === 404, String(c.status));
});
