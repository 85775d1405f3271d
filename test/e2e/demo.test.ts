// Issue 2 "done means": through the real demo stack, the official MCP SDK client lists tools
// and runs SELECT with a minted token; requests without a valid token are refused with the
// RFC 9728 pointer; every request leaves a verifiable audit trail that replay can show.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { startStack, rowsOf, REPO, type TestStack } from '../helpers/gateway.js';
import { readEvents } from '../../src/audit/reader.js';
import type { AuditEvent } from '../../src/audit/event.js';

const run = promisify(execFile);
let stack: TestStack;

before(async () => {
  stack = await startStack();
});
after(async () => {
  await stack?.stop();
});

async function events(): Promise<AuditEvent[]> {
  const out: AuditEvent[] = [];
  for await (const { event } of readEvents(join(stack.dataDir, 'audit'))) out.push(event);
  return out;
}

test('SDK client lists tools and runs SELECT through the gateway with a minted token', async () => {
  const client = await stack.client('priya@bank.example', ['pii-reader']);
  const tools = await client.listTools();
  assert.ok(
    tools.tools.some((t) => t.name === 'execute_sql'),
    JSON.stringify(tools),
  );
  const result = await client.callTool({ name: 'execute_sql', arguments: { sql: 'SELECT customer_id, city FROM customers ORDER BY customer_id LIMIT 3' } });
  assert.notEqual(result.isError, true, JSON.stringify(result));
  assert.deepEqual(
    rowsOf(result).map((r) => r.customer_id),
    [1, 2, 3],
  );
});

test('no token: 401 with WWW-Authenticate pointing at the protected resource metadata', async () => {
  const res = await fetch(stack.mcpUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } } }),
  });
  assert.equal(res.status, 401);
  const www = res.headers.get('www-authenticate') ?? '';
  assert.match(www, /^Bearer /);
  const m = /resource_metadata="([^"]+)"/.exec(www);
  assert.ok(m, www);
  const prm = (await (await fetch(m[1]!)).json()) as { resource: string };
  assert.equal(prm.resource, stack.mcpUrl);
});

test('a token for another audience is refused, and the refusal is audited with its reason', async () => {
  const { mintDevToken } = await import('../../src/identity/dev-issuer.js');
  const token = await mintDevToken({ dataDir: stack.dataDir, issuer: `${stack.url}/dev-issuer`, audience: 'https://other.example/mcp', user: 'eve@bank.example', groups: ['pii-reader'] });
  const res = await fetch(stack.mcpUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${token}` },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } } }),
  });
  assert.equal(res.status, 401);
  const failures = (await events()).filter((e) => e.event_type === 'auth_failure');
  assert.ok(
    failures.some((e) => e.error_code === 'wrong_audience'),
    JSON.stringify(failures.map((e) => [e.error_code, e.error_message])),
  );
});

test('every request is audited with identity, SQL hash and decision; verify passes; replay shows the session', async () => {
  const client = await stack.client('alice@bank.example', ['analyst']);
  await client.callTool({ name: 'execute_sql', arguments: { sql: "SELECT customer_id, email FROM customers WHERE city = 'Denver' LIMIT 2" } });
  const evs = await events();
  const call = evs.filter((e) => e.event_type === 'mcp_request' && e.tool_name === 'execute_sql' && e.actor_email === 'alice@bank.example').at(-1);
  assert.ok(call, 'an audit event for the call');
  assert.equal(call.actor_subject !== null, true);
  assert.deepEqual(call.actor_groups, ['analyst']);
  assert.ok(call.sql_sha256 && call.sql_fingerprint);
  assert.ok(!String(call.sql_text).includes('Denver'), `literals are not stored in clear: ${call.sql_text}`);
  assert.ok(call.policy_version);
  assert.ok(evs.some((e) => e.event_type === 'session_start' && e.session_id === call.session_id));
  const verify = await run(process.execPath, [join(REPO, 'bin/bqwarden.js'), 'verify', '--dir', join(stack.dataDir, 'audit')], { env: { ...process.env, BQWARDEN_DATA: stack.dataDir } });
  assert.match(verify.stdout, /OK/);
  const replay = await run(process.execPath, [join(REPO, 'bin/bqwarden.js'), 'replay', String(call.session_id)], { env: { ...process.env, BQWARDEN_DATA: stack.dataDir } });
  assert.match(replay.stdout, /execute_sql/);
  assert.ok(!replay.stdout.includes('@') || !/[a-z]+\.[a-z]+\d+@/.test(replay.stdout.replace(/alice@bank\.example/g, '')), 'replay shows masked emails only');
});

test('/healthz, /readyz and /metrics answer', async () => {
  assert.equal((await fetch(`${stack.url}/healthz`)).status, 200);
  const ready = await fetch(`${stack.url}/readyz`);
  assert.equal(ready.status, 200, await ready.text());
  const metrics = await (await fetch(`${stack.url}/metrics`)).text();
  assert.match(metrics, /bqwarden_mcp_requests_total/);
});
