// MCP authorization end to end with the official SDK's OAuth client: the gateway's 401 points
// to its protected-resource metadata, that names the demo authorization server, the client
// discovers it, registers itself (RFC 7591), signs in with PKCE and a resource indicator, calls
// a tool with the JWT access token the gateway verifies — and keeps working after that token
// expired, through a refresh (short TTL here instead of an hour).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { rowsOf, startStack } from '../helpers/gateway.js';
import { MemoryOAuthProvider, walkDemoLogin } from '../helpers/oauth.js';
import { readEvents } from '../../src/audit/reader.js';
import { present, at } from '../helpers/present.js';

const TTL = 4;

test('an MCP client with no token signs in through OAuth 2.1 and keeps working past its access token', { timeout: 180_000 }, async (t) => {
  const stack = await startStack({ config: { identity: { clockToleranceSeconds: 0, devIssuer: { accessTokenTtlSeconds: TTL } } } });
  t.after(() => stack.stop());
  const redirect = 'http://127.0.0.1:1/callback'; // never contacted: the test reads the code from the redirect
  const provider = new MemoryOAuthProvider(redirect);

  // Discovery documents as a client reads them.
  const prm = (await (await fetch(`${stack.url}/.well-known/oauth-protected-resource/mcp`)).json()) as { resource: string; authorization_servers: string[] };
  assert.equal(prm.resource, stack.mcpUrl);
  assert.deepEqual(prm.authorization_servers, [`${stack.url}/dev-issuer`]);
  for (const path of ['/.well-known/oauth-authorization-server/dev-issuer', '/dev-issuer/.well-known/openid-configuration']) {
    const as = (await (await fetch(`${stack.url}${path}`)).json()) as Record<string, unknown>;
    assert.equal(as.issuer, `${stack.url}/dev-issuer`, path);
    assert.deepEqual(as.code_challenge_methods_supported, ['S256'], `${path}: PKCE S256 only`);
    assert.ok(as.registration_endpoint && as.token_endpoint && as.authorization_endpoint, path);
    assert.ok((as.grant_types_supported as string[]).includes('refresh_token'), path);
  }

  // 1. No token: the SDK discovers, registers, and asks us to send the user to the login page.
  const first = new StreamableHTTPClientTransport(new URL(stack.mcpUrl), { authProvider: provider });
  await assert.rejects(new Client({ name: 'oauth-test', version: '1.0.0' }).connect(first), UnauthorizedError);
  assert.ok(provider.info?.client_id, 'registered dynamically');
  const authUrl = provider.authorizationUrl!;
  assert.equal(authUrl.searchParams.get('code_challenge_method'), 'S256');
  assert.equal(authUrl.searchParams.get('resource'), stack.mcpUrl);

  // 2. The user signs in on the demo login page; the server redirects back with a code.
  const back = await walkDemoLogin(authUrl, { user: 'alice@bank.example', groups: ['analyst'] }, redirect);
  const code = back.searchParams.get('code');
  assert.ok(code, `redirected back with a code: ${back.href}`);
  await first.finishAuth(code);
  const tokens = provider.saved!;
  assert.ok(tokens.refresh_token, 'a refresh token was issued');
  const claims = decodeJwt(tokens.access_token);
  assert.equal(decodeProtectedHeader(tokens.access_token).alg, 'ES256');
  assert.equal(claims.aud, stack.mcpUrl, 'audience is the gateway resource');
  assert.equal(claims.iss, `${stack.url}/dev-issuer`);
  assert.equal(claims.sub, 'alice@bank.example');
  assert.deepEqual(claims.groups, ['analyst']);
  assert.equal(claims.exp! - claims.iat!, TTL);

  // 3. Connected with the access token: masked like any analyst.
  const client = new Client({ name: 'oauth-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(stack.mcpUrl), { authProvider: provider }));
  t.after(() => client.close().catch(() => undefined));
  const sql = 'SELECT ssn FROM customers ORDER BY customer_id LIMIT 1';
  const r1 = rowsOf(await client.callTool({ name: 'execute_sql', arguments: { sql } }));
  assert.match(String(at(r1, 0, 'masked row').ssn), /^X+\d{4}$/, 'analyst sees the SSN masked');

  // 4. After the access token expired, the next call refreshes and goes on in the same session.
  while (Date.now() < (claims.exp! + 1) * 1000) await new Promise((r) => setTimeout(r, 250));
  const expired = await fetch(stack.mcpUrl, {
    method: 'POST',
    headers: { authorization: `Bearer ${tokens.access_token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
  });
  assert.equal(expired.status, 401, 'the old access token is refused once expired');
  assert.match(expired.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
  const r2 = rowsOf(await client.callTool({ name: 'execute_sql', arguments: { sql } }));
  assert.match(String(at(r2, 0, 'masked row').ssn), /^X+\d{4}$/);
  const renewed = provider.saved!;
  assert.notEqual(renewed.access_token, tokens.access_token, 'a new access token');
  assert.notEqual(renewed.refresh_token, tokens.refresh_token, 'the refresh token rotated (public client)');
  assert.deepEqual(decodeJwt(renewed.access_token).groups, ['analyst'], 'groups carried into refreshed tokens');

  // 5. The rotated-out refresh token is dead (replay of a stolen one fails).
  const asMeta = (await (await fetch(`${stack.url}/dev-issuer/.well-known/openid-configuration`)).json()) as { token_endpoint: string };
  const replay = await fetch(asMeta.token_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, client_id: provider.info!.client_id }),
  });
  assert.equal(replay.status, 400);
  assert.equal(((await replay.json()) as { error: string }).error, 'invalid_grant');

  // The audit trail names alice, signed in through the demo authorization server.
  const events = [];
  for await (const e of readEvents(`${stack.dataDir}/audit`)) events.push(e.event);
  const calls = events.filter((e) => e.event_type === 'mcp_request' && e.mcp_method === 'tools/call');
  assert.ok(calls.length >= 2);
  assert.ok(calls.every((e) => e.actor_email === 'alice@bank.example'));
});

test('the demo authorization server issues tokens only for this gateway, and only with PKCE', { timeout: 120_000 }, async (t) => {
  const stack = await startStack();
  t.after(() => stack.stop());
  const meta = (await (await fetch(`${stack.url}/dev-issuer/.well-known/openid-configuration`)).json()) as Record<string, string>;
  const reg = await fetch(present(meta.registration_endpoint, 'registration_endpoint in the issuer metadata'), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ redirect_uris: ['http://127.0.0.1:1/cb'], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'] }),
  });
  assert.equal(reg.status, 201);
  const { client_id } = (await reg.json()) as { client_id: string };
  const authorize = (params: Record<string, string>) =>
    fetch(`${meta.authorization_endpoint}?${new URLSearchParams({ client_id, response_type: 'code', redirect_uri: 'http://127.0.0.1:1/cb', ...params })}`, { redirect: 'manual' });

  // Attack: a token for another API (confused deputy / token reuse elsewhere).
  const other = await authorize({ resource: 'https://graph.microsoft.com/', code_challenge: 'x'.repeat(43), code_challenge_method: 'S256' });
  assert.match(other.headers.get('location') ?? '', /error=invalid_target/);
  // Attack: no PKCE (an intercepted code would be redeemable).
  const noPkce = await authorize({ resource: stack.mcpUrl });
  assert.match(noPkce.headers.get('location') ?? '', /error=invalid_request/);
  // Attack: PKCE "plain".
  const plain = await authorize({ resource: stack.mcpUrl, code_challenge: 'x'.repeat(43), code_challenge_method: 'plain' });
  assert.match(plain.headers.get('location') ?? '', /error=invalid_request/);
  // The demo user says no: the client hears access_denied, with no code.
  const denied = await walkDemoLogin(
    `${meta.authorization_endpoint}?${new URLSearchParams({ client_id, response_type: 'code', redirect_uri: 'http://127.0.0.1:1/cb', resource: stack.mcpUrl, state: 's1', code_challenge: 'x'.repeat(43), code_challenge_method: 'S256' })}`,
    { user: 'alice@bank.example', groups: ['analyst'], deny: true },
    'http://127.0.0.1:1/cb',
  );
  assert.equal(denied.searchParams.get('error'), 'access_denied');
  assert.equal(denied.searchParams.get('code'), null);
  assert.equal(denied.searchParams.get('state'), 's1');
  // Attack: a redirect URI the client never registered.
  const elsewhere = await fetch(
    `${meta.authorization_endpoint}?${new URLSearchParams({ client_id, response_type: 'code', redirect_uri: 'https://evil.example/cb', code_challenge: 'x'.repeat(43), code_challenge_method: 'S256' })}`,
    { redirect: 'manual' },
  );
  assert.notEqual(elsewhere.status, 303, 'never redirects to an unregistered URI');
  assert.doesNotMatch(elsewhere.headers.get('location') ?? '', /evil/);
});
