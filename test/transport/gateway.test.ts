// Gateway behaviour with well-formed traffic: version negotiation (2025-06-18 and 2025-11-25,
// raw HTTP and SDK client), the interceptor seam, progress, cancellation, server->client
// relays, session lifecycle, identity binding and authentication.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CreateMessageRequestSchema, ListRootsRequestSchema, ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { GatewayError } from '../../src/pipeline/types.js';
import { startConformanceServer, type ConformanceServerHandle } from '../fixtures/conformance-server.js';
import { initBody, rawPost, rawSession, startGateway, type TestGateway } from './helpers.js';
import { first } from '../helpers/present.js';

let upstream: ConformanceServerHandle;
let gw: TestGateway;

before(async () => {
  upstream = await startConformanceServer();
  gw = await startGateway(upstream.url);
});
after(async () => {
  await gw.close();
  await upstream.close();
});

/** SDK client; `pinVersion` rewrites the initialize request so the SDK negotiates an older revision. */
async function client(g: TestGateway, subject: string, opts: { pinVersion?: string; capabilities?: Record<string, unknown> } = {}): Promise<{ c: Client; t: StreamableHTTPClientTransport }> {
  const token = await g.auth.token(subject);
  const c = new Client({ name: `sdk-${subject}`, version: '2.0.0' }, { capabilities: opts.capabilities ?? {} });
  const t = new StreamableHTTPClientTransport(new URL(g.url), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
    fetch: async (url, init) => {
      if (opts.pinVersion && typeof init?.body === 'string' && init.body.includes('"initialize"')) {
        const msg = JSON.parse(init.body);
        if (msg.method === 'initialize') {
          msg.params.protocolVersion = opts.pinVersion;
          init = { ...init, body: JSON.stringify(msg) };
        }
      }
      return fetch(url, init);
    },
  });
  await c.connect(t);
  return { c, t };
}

for (const version of ['2025-06-18', '2025-11-25']) {
  test(`SDK client negotiates ${version} and calls a tool through the gateway`, async () => {
    const { c, t } = await client(gw, `v-${version}`, { pinVersion: version });
    assert.equal(t.protocolVersion, version);
    const tools = await c.listTools();
    assert.ok(tools.tools.some((x) => x.name === 'test_simple_text'));
    const r = await c.callTool({ name: 'test_simple_text', arguments: {} });
    assert.deepEqual(r.content, [{ type: 'text', text: 'This is a simple text response for testing.' }]);
    const start = gw.interceptor.rec.starts.find((s) => s.sessionId === t.sessionId)!;
    assert.equal(start.protocolVersion, version);
    assert.equal(start.clientName, `sdk-v-${version}`);
    assert.equal(start.clientVersion, '2.0.0');
    const call = gw.interceptor.rec.requests.find((x) => x.ctx.sessionId === t.sessionId && x.method === 'tools/call')!;
    assert.equal(call.ctx.identity.subject, `v-${version}`);
    assert.equal(call.ctx.protocolVersion, version);
    assert.equal(call.params?.name, 'test_simple_text');
    assert.match(call.ctx.traceId, /^[0-9a-f]{32}$/);
    await c.close();
  });

  test(`raw HTTP initialize + tools/call at ${version}`, async () => {
    const token = await gw.auth.token('raw');
    const init = await rawPost(gw.url, initBody(version, 'init-1'), { authorization: `Bearer ${token}` });
    assert.equal(init.status, 200);
    assert.equal(init.json.id, 'init-1');
    assert.equal(init.json.result.protocolVersion, version);
    assert.equal(init.json.result.serverInfo.name, 'conformance-fixture');
    assert.equal(init.json.result.instructions, 'Conformance fixture for bqwarden transport tests.');
    const sid = init.headers.get('mcp-session-id')!;
    assert.match(sid, /^v1\.[A-Za-z0-9_-]{100,}$/, 'a sealed session id (visible ASCII, base64url)');
    const h = { authorization: `Bearer ${token}`, 'mcp-session-id': sid, 'mcp-protocol-version': version };
    assert.equal((await rawPost(gw.url, { jsonrpc: '2.0', method: 'notifications/initialized' }, h)).status, 202);
    const call = await rawPost(gw.url, { jsonrpc: '2.0', id: 99, method: 'tools/call', params: { name: 'test_echo_meta', arguments: { q: 1 } } }, h);
    assert.equal(call.status, 200);
    assert.equal(call.json.id, 99);
    assert.deepEqual(JSON.parse(call.json.result.content[0].text).arguments, { q: 1 });
  });
}

test('traceparent header becomes the request trace id', async () => {
  const token = await gw.auth.token('tracer');
  const sid = await rawSession(gw.url, token, '2025-11-25');
  await rawPost(
    gw.url,
    { jsonrpc: '2.0', id: 1, method: 'tools/list' },
    {
      authorization: `Bearer ${token}`,
      'mcp-session-id': sid,
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    },
  );
  const r = gw.interceptor.rec.requests.find((x) => x.ctx.sessionId === sid)!;
  assert.equal(r.ctx.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
});

test("the client's Authorization header is never forwarded upstream; the gateway's credential is", async () => {
  const { c } = await client(gw, 'secret-holder');
  await c.callTool({ name: 'test_simple_text', arguments: {} });
  await c.close();
  assert.ok(upstream.stats.authorizations.length > 0);
  assert.ok(
    upstream.stats.authorizations.every((a) => a === 'Bearer gateway-upstream-credential'),
    upstream.stats.authorizations.join(),
  );
});

test("client headers are not smuggled upstream (only the SDK client's own headers and the gateway credential)", async () => {
  const token = await gw.auth.token('smuggler');
  const sid = await rawSession(gw.url, token, '2025-11-25');
  await rawPost(
    gw.url,
    { jsonrpc: '2.0', id: 1, method: 'tools/list' },
    {
      authorization: `Bearer ${token}`,
      'mcp-session-id': sid,
      'x-smuggle': 'DROP TABLE',
      'x-forwarded-for': '10.0.0.1',
      cookie: 'session=steal-me',
    },
  );
  for (const h of ['x-smuggle', 'x-forwarded-for', 'cookie']) assert.equal(upstream.stats.headerNames.has(h), false, h);
});

test('a request without a valid token is refused before its body is read (no 413 for strangers)', async () => {
  const big = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { pad: 'a'.repeat(200 * 1024) } });
  const r = await rawPost(gw.url, big, {});
  assert.equal(r.status, 401);
  assert.equal(gw.interceptor.rec.failures.at(-1)!.code, 'auth_failed');
});

test('a client asking for 2026-07-28 gets 2025-11-25 (this SDK does not know it); the header value gets 400', async () => {
  const token = await gw.auth.token('future');
  const init = await rawPost(gw.url, initBody('2026-07-28'), { authorization: `Bearer ${token}` });
  assert.equal(init.json.result.protocolVersion, '2025-11-25');
  const sid = init.headers.get('mcp-session-id')!;
  const r = await rawPost(
    gw.url,
    { jsonrpc: '2.0', id: 2, method: 'tools/list' },
    {
      authorization: `Bearer ${token}`,
      'mcp-session-id': sid,
      'mcp-protocol-version': '2026-07-28',
    },
  );
  assert.equal(r.status, 400);
  assert.equal(gw.interceptor.rec.failures.at(-1)!.code, 'unsupported_protocol_version');
});

test('upstream notifications with no request in flight reach the client on its GET stream', async () => {
  const { c } = await client(gw, 'listener');
  let changed = 0;
  c.setNotificationHandler(ToolListChangedNotificationSchema, async () => {
    changed++;
  });
  await c.callTool({ name: 'test_notify_later', arguments: {} });
  for (let i = 0; i < 200 && changed === 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(changed, 1);
  await c.close();
});

test('the gateway does not change JSON parsing for other routes of the same Fastify app', async () => {
  const Fastify = (await import('fastify')).default;
  const { registerMcpGateway } = await import('../../src/transport/gateway.js');
  const app = Fastify({ forceCloseConnections: true });
  app.post('/echo', async (req) => ({ got: req.body }));
  const h = await registerMcpGateway(app, {
    upstream: { url: upstream.url, headers: async () => ({}), timeoutMs: 5000 },
    interceptor: gw.interceptor,
    authenticate: gw.auth.authenticate,
    wwwAuthenticate: gw.auth.wwwAuthenticate,
    allowedOrigins: [],
    bodyLimitBytes: 1024,
    sessionIdleTimeoutMs: 60_000,
  });
  try {
    const r = await app.inject({ method: 'POST', url: '/echo', payload: { a: 1 } });
    assert.deepEqual(r.json(), { got: { a: 1 } });
    const bad = await app.inject({ method: 'POST', url: '/echo', headers: { 'content-type': 'application/json' }, payload: '{nope' });
    assert.equal(bad.statusCode, 400, "other routes keep Fastify's own JSON errors");
  } finally {
    await h.close();
    await app.close();
  }
});

test('interceptor refusal (GatewayError) reaches the client as that JSON-RPC error, upstream untouched', async () => {
  const g = await startGateway(upstream.url, {
    interceptorOverrides: {
      onRequest: async (_ctx, method, params, forward) => {
        if (method === 'tools/call') throw new GatewayError(-32003, 'denied by rule no-pii-export', { rule: 'no-pii-export' });
        return forward(params);
      },
    },
  });
  try {
    const { c } = await client(g, 'mallory');
    const calls = upstream.stats.methods['tools/call'] ?? 0;
    await assert.rejects(c.callTool({ name: 'test_simple_text', arguments: {} }), (err: Error & { code?: number; data?: unknown }) => {
      assert.equal(err.code, -32003);
      assert.equal(err.message, 'MCP error -32003: denied by rule no-pii-export');
      assert.deepEqual(err.data, { rule: 'no-pii-export' });
      return true;
    });
    assert.equal(upstream.stats.methods['tools/call'] ?? 0, calls);
    await c.close();
  } finally {
    await g.close();
  }
});

test('an unexpected pipeline crash becomes a generic -32603, without internals', async () => {
  const g = await startGateway(upstream.url, {
    interceptorOverrides: {
      onRequest: async () => {
        throw new TypeError('cannot read properties of undefined (reading secretColumn)');
      },
    },
  });
  try {
    const { c } = await client(g, 'x');
    await assert.rejects(c.listTools(), (err: Error & { code?: number }) => {
      assert.equal(err.code, -32603);
      assert.doesNotMatch(err.message, /secretColumn/);
      return true;
    });
    await c.close();
  } finally {
    await g.close();
  }
});

test('the pipeline can rewrite params before forwarding', async () => {
  const g = await startGateway(upstream.url, {
    interceptorOverrides: {
      onRequest: async (_ctx, method, params, forward) => (method === 'tools/call' ? forward({ ...params, arguments: { rewritten: true } }) : forward(params)),
    },
  });
  try {
    const { c } = await client(g, 'rw');
    const r = await c.callTool({ name: 'test_echo_meta', arguments: { original: true } });
    assert.deepEqual(JSON.parse(first(r.content as { text: string }[], 'content item').text).arguments, { rewritten: true });
    await c.close();
  } finally {
    await g.close();
  }
});

test('invalid params are refused with -32602 before the pipeline', async () => {
  const token = await gw.auth.token('badparams');
  const sid = await rawSession(gw.url, token, '2025-11-25');
  const before = gw.interceptor.rec.requests.length;
  const r = await rawPost(
    gw.url,
    { jsonrpc: '2.0', id: 5, method: 'tools/call', params: { arguments: {} } },
    {
      authorization: `Bearer ${token}`,
      'mcp-session-id': sid,
    },
  );
  assert.equal(r.json.error.code, -32602);
  assert.equal(gw.interceptor.rec.requests.length, before);
  // Refused, and still recorded: every request gets its audit record, a malformed one too.
  const f = gw.interceptor.rec.failures.at(-1);
  assert.equal(f?.code, 'invalid_params');
  assert.equal(f?.method, 'tools/call');
  assert.equal(f?.sessionId, sid);
  assert.equal(f?.identity?.subject, 'badparams');
});

test('unknown methods go through the pipeline (its method default decides), then upstream', async () => {
  const token = await gw.auth.token('unknown');
  const sid = await rawSession(gw.url, token, '2025-11-25');
  const r = await rawPost(
    gw.url,
    { jsonrpc: '2.0', id: 6, method: 'vendor/doSomething', params: { x: 1 } },
    {
      authorization: `Bearer ${token}`,
      'mcp-session-id': sid,
    },
  );
  assert.equal(r.json.error.code, -32601, 'the upstream does not know it');
  assert.ok(gw.interceptor.rec.requests.some((x) => x.ctx.sessionId === sid && x.method === 'vendor/doSomething'));
});

test('ping is answered locally, not forwarded', async () => {
  const { c } = await client(gw, 'pinger');
  const pings = upstream.stats.methods.ping ?? 0;
  assert.deepEqual(await c.ping(), {});
  assert.equal(upstream.stats.methods.ping ?? 0, pings);
  await c.close();
});

test("upstream progress reaches the client with the client's own token; ctx.sendProgress works", async () => {
  const g = await startGateway(upstream.url, {
    interceptorOverrides: {
      onRequest: async (ctx, _m, params, forward) => {
        await ctx.sendProgress(-2, undefined, 'waiting for approval');
        await ctx.sendProgress(-1, undefined, 'approved');
        return forward(params);
      },
    },
  });
  try {
    const { c } = await client(g, 'progress');
    const seen: { progress: number; message?: string }[] = [];
    await c.callTool({ name: 'test_tool_with_progress', arguments: {} }, undefined, { onprogress: (p) => seen.push(p) });
    assert.deepEqual(
      seen.map((p) => p.progress),
      [-2, -1, 0, 50, 100],
    );
    assert.equal(seen[0]?.message, 'waiting for approval');
    // Without a progress token the pipeline's sendProgress is a no-op and nothing is sent.
    const quiet: unknown[] = [];
    c.setNotificationHandler((await import('@modelcontextprotocol/sdk/types.js')).ProgressNotificationSchema, async (n) => {
      quiet.push(n);
    });
    await c.callTool({ name: 'test_simple_text', arguments: {} });
    assert.equal(quiet.length, 0);
    await c.close();
  } finally {
    await g.close();
  }
});

test('client cancellation aborts the pipeline signal and cancels the upstream request', async () => {
  const fixture = await startConformanceServer();
  let pipelineSignal: AbortSignal | undefined;
  const g = await startGateway(fixture.url, {
    interceptorOverrides: {
      onRequest: async (ctx, _m, params, forward) => {
        pipelineSignal = ctx.signal;
        return forward(params);
      },
    },
  });
  try {
    const { c } = await client(g, 'canceller');
    const ac = new AbortController();
    const call = c.callTool({ name: 'test_slow', arguments: { ms: 20_000 } }, undefined, { signal: ac.signal });
    while (!pipelineSignal) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 50));
    ac.abort('user pressed stop');
    await assert.rejects(call);
    for (let i = 0; i < 200 && fixture.stats.cancelled === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(fixture.stats.cancelled, 1);
    assert.equal(pipelineSignal.aborted, true);
    const note = g.interceptor.rec.notifications.find((n) => n.method === 'notifications/cancelled');
    assert.ok(note, 'the pipeline heard notifications/cancelled');
    await c.close();
  } finally {
    await g.close();
    await fixture.close();
  }
});

test('server->client requests (sampling, roots) and notifications are relayed to the right client', async () => {
  const a = await client(gw, 'relay-a', { capabilities: { sampling: {}, roots: { listChanged: true } } });
  const b = await client(gw, 'relay-b', { capabilities: { sampling: {} } });
  let bSampled = 0;
  a.c.setRequestHandler(CreateMessageRequestSchema, async (req) => ({
    role: 'assistant',
    content: { type: 'text', text: `echo:${(first(req.params.messages, 'sampling message').content as { text: string }).text}` },
    model: 'client-a-model',
  }));
  b.c.setRequestHandler(CreateMessageRequestSchema, async () => {
    bSampled++;
    return { role: 'assistant', content: { type: 'text', text: 'b' }, model: 'b' };
  });
  a.c.setRequestHandler(ListRootsRequestSchema, async () => ({ roots: [{ uri: 'file:///ledger', name: 'ledger' }] }));
  const sampled = await a.c.callTool({ name: 'test_sampling', arguments: { prompt: 'hello' } });
  assert.deepEqual(sampled.content, [{ type: 'text', text: 'LLM response: echo:hello' }]);
  assert.equal(bSampled, 0, 'sampling went to the session that asked, not another client');
  const roots = await a.c.callTool({ name: 'test_roots', arguments: {} });
  assert.deepEqual(JSON.parse(first(roots.content as { text: string }[], 'content item').text), [{ uri: 'file:///ledger', name: 'ledger' }]);
  let listChanged = 0;
  a.c.setNotificationHandler(ToolListChangedNotificationSchema, async () => {
    listChanged++;
  });
  await a.c.callTool({ name: 'test_notify', arguments: {} });
  for (let i = 0; i < 100 && listChanged === 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(listChanged, 1);
  await a.c.close();
  await b.c.close();
});

test('a session presented by another identity is refused with 403 (session hijack attempt)', async () => {
  const victim = await gw.auth.token('victim');
  const attacker = await gw.auth.token('attacker');
  const sid = await rawSession(gw.url, victim, '2025-11-25');
  const h = { authorization: `Bearer ${attacker}`, 'mcp-session-id': sid };
  const before = gw.interceptor.rec.requests.length;
  const r = await rawPost(gw.url, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'test_simple_text' } }, h);
  assert.equal(r.status, 403);
  assert.equal(r.json.error.code, -32000);
  assert.equal(gw.interceptor.rec.requests.length, before, 'the hijacked call never reached the pipeline');
  const f = gw.interceptor.rec.failures.at(-1)!;
  assert.equal(f.code, 'session_identity_mismatch');
  assert.equal(f.identity?.subject, 'attacker');
  assert.equal((await fetch(gw.url, { headers: { ...h, accept: 'text/event-stream' } })).status, 403);
  assert.equal((await fetch(gw.url, { method: 'DELETE', headers: h })).status, 403);
  // Same subject from a different issuer is a different identity too.
  const otherIssuer = await gw.auth.token('victim', { issuer: 'https://other-issuer.test' });
  const r2 = await rawPost(gw.url, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, { authorization: `Bearer ${otherIssuer}`, 'mcp-session-id': sid });
  assert.equal(r2.status, 401, 'the test verifier only trusts its own issuer');
  // The victim's session still works.
  const ok = await rawPost(gw.url, { jsonrpc: '2.0', id: 3, method: 'tools/list' }, { authorization: `Bearer ${victim}`, 'mcp-session-id': sid });
  assert.equal(ok.status, 200);
});

test('missing, bad and expired tokens → 401 with WWW-Authenticate, JSON-RPC body, audited with the auth code', async () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{}, /missing_token/],
    [{ authorization: 'Bearer not.a.jwt' }, /bad_signature/],
    [{ authorization: `Bearer ${await gw.auth.token('late', { expiresIn: Math.floor(Date.now() / 1000) - 60 })}` }, /expired/],
  ];
  for (const [headers, code] of cases) {
    const r = await rawPost(gw.url, initBody('2025-11-25'), headers);
    assert.equal(r.status, 401);
    assert.match(r.headers.get('www-authenticate') ?? '', /^Bearer realm="bqwarden"/);
    assert.equal(r.json.jsonrpc, '2.0');
    assert.equal(r.json.error.code, -32000);
    assert.match(r.json.error.message, code);
    const f = gw.interceptor.rec.failures.at(-1)!;
    assert.equal(f.code, 'auth_failed');
    assert.match(f.message, code);
    assert.equal(f.httpStatus, 401);
    assert.equal(f.identity, null);
  }
  const sid = await rawSession(gw.url, await gw.auth.token('someone'), '2025-11-25');
  assert.equal((await fetch(gw.url, { headers: { accept: 'text/event-stream', 'mcp-session-id': sid } })).status, 401);
  assert.equal((await fetch(gw.url, { method: 'DELETE', headers: { 'mcp-session-id': sid } })).status, 401);
  assert.equal(gw.handle.sessions() > 0, true);
});

test('DELETE ends the session downstream and upstream; the id is then unknown (404)', async () => {
  const token = await gw.auth.token('leaver');
  const sid = await rawSession(gw.url, token, '2025-11-25');
  const deletedBefore = upstream.stats.sessionsDeleted;
  const del = await fetch(gw.url, { method: 'DELETE', headers: { authorization: `Bearer ${token}`, 'mcp-session-id': sid } });
  assert.equal(del.status, 200);
  const end = gw.interceptor.rec.ends.find((e) => e.ctx.sessionId === sid);
  assert.equal(end?.reason, 'client_delete');
  assert.equal(upstream.stats.sessionsDeleted, deletedBefore + 1, 'upstream session terminated');
  const r = await rawPost(gw.url, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, { authorization: `Bearer ${token}`, 'mcp-session-id': sid });
  assert.equal(r.status, 404);
});

test('idle sessions expire (onSessionEnd expired), busy ones do not', async () => {
  const g = await startGateway(upstream.url, { sessionIdleTimeoutMs: 200 });
  try {
    const token = await g.auth.token('idler');
    const sid = await rawSession(g.url, token, '2025-11-25');
    // A call longer than the idle timeout keeps the session alive while it runs.
    const slow = await rawPost(
      g.url,
      { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'test_slow', arguments: { ms: 500 } } },
      {
        authorization: `Bearer ${token}`,
        'mcp-session-id': sid,
      },
    );
    assert.equal(slow.status, 200);
    assert.equal(slow.json.result.content[0].text, 'slept 500ms');
    const ended = () => g.interceptor.rec.ends.some((e) => e.ctx.sessionId === sid);
    for (let i = 0; i < 200 && !ended(); i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(g.handle.sessions(), 0);
    assert.equal(g.interceptor.rec.ends.find((e) => e.ctx.sessionId === sid)?.reason, 'expired');
    const r = await rawPost(g.url, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, { authorization: `Bearer ${token}`, 'mcp-session-id': sid });
    assert.equal(r.status, 404);
  } finally {
    await g.close();
  }
});

test('upstream loses the session → clear error now, 404 next (client re-initializes), onSessionEnd upstream_closed', async () => {
  const fixture = await startConformanceServer();
  const g = await startGateway(fixture.url);
  try {
    const token = await g.auth.token('survivor');
    const sid = await rawSession(g.url, token, '2025-11-25');
    const h = { authorization: `Bearer ${token}`, 'mcp-session-id': sid };
    await fixture.dropSessions();
    const r = await rawPost(g.url, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, h);
    assert.equal(r.status, 200);
    assert.equal(r.json.error.code, -32000);
    assert.match(r.json.error.message, /HTTP 404/);
    const ended = () => g.interceptor.rec.ends.find((e) => e.ctx.sessionId === sid);
    for (let i = 0; i < 100 && !ended(); i++) await new Promise((res) => setTimeout(res, 20));
    assert.equal(ended()?.reason, 'upstream_closed');
    const again = await rawPost(g.url, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, h);
    assert.equal(again.status, 404);
    const fresh = await rawSession(g.url, token, '2025-11-25');
    const ok = await rawPost(g.url, { jsonrpc: '2.0', id: 3, method: 'tools/list' }, { ...h, 'mcp-session-id': fresh });
    assert.ok(ok.json.result.tools.length > 0);
  } finally {
    await g.close();
    await fixture.close();
  }
});

test('one identity cannot open unbounded sessions (each costs an upstream session) → 429', async () => {
  const g = await startGateway(upstream.url, { maxSessionsPerIdentity: 2 });
  try {
    const hog = await g.auth.token('hog');
    await rawSession(g.url, hog, '2025-11-25');
    await rawSession(g.url, hog, '2025-11-25');
    const opened = upstream.stats.sessionsOpen;
    const r = await rawPost(g.url, initBody('2025-11-25'), { authorization: `Bearer ${hog}` });
    assert.equal(r.status, 429);
    assert.equal(r.json.error.code, -32000);
    assert.equal(g.interceptor.rec.failures.at(-1)!.code, 'too_many_sessions');
    assert.equal(upstream.stats.sessionsOpen, opened, 'no upstream session was opened for the refused one');
    // Another identity is unaffected.
    await rawSession(g.url, await g.auth.token('neighbour'), '2025-11-25');
    assert.equal(g.handle.sessions(), 3);
    // A burst of concurrent initializes cannot overshoot the cap.
    const burst = await g.auth.token('burst');
    const results = await Promise.all(Array.from({ length: 6 }, () => rawPost(g.url, initBody('2025-11-25'), { authorization: `Bearer ${burst}` })));
    assert.deepEqual(results.map((r) => r.status).sort(), [200, 200, 429, 429, 429, 429]);
  } finally {
    await g.close();
  }
});

test('an OAuth client that refreshes only after its token expired keeps its session within the grace period', async () => {
  const g = await startGateway(upstream.url, { authRefreshGraceMs: 60_000 });
  try {
    const exp = Math.floor(Date.now() / 1000) + 3;
    const first = await g.auth.token('late-refresher', { expiresIn: exp });
    const sid = await rawSession(g.url, first, '2025-11-25');
    // The open GET stream (server-to-client messages) ends when the token does.
    const stream = await fetch(g.url, { headers: { authorization: `Bearer ${first}`, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25', accept: 'text/event-stream' } });
    assert.equal(stream.status, 200);
    const streamEnded = stream.body!.pipeTo(new WritableStream()).then(
      () => Date.now(),
      () => Date.now(),
    );
    assert.ok((await streamEnded) >= exp * 1000, 'the stream is closed, and not before the token expired');
    while (Date.now() < exp * 1000 + 1500) await new Promise((r) => setTimeout(r, 100));
    const stale = await rawPost(g.url, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, { authorization: `Bearer ${first}`, 'mcp-session-id': sid });
    assert.equal(stale.status, 401, 'the expired token itself is refused');
    const fresh = await g.auth.token('late-refresher');
    const ok = await rawPost(g.url, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, { authorization: `Bearer ${fresh}`, 'mcp-session-id': sid });
    assert.equal(ok.status, 200, 'the refreshed token continues the same session');
    assert.equal(
      g.interceptor.rec.ends.some((e) => e.ctx.sessionId === sid),
      false,
    );
    // Another identity cannot pick the waiting session up.
    const other = await g.auth.token('someone-else');
    const hijack = await rawPost(g.url, { jsonrpc: '2.0', id: 3, method: 'tools/list' }, { authorization: `Bearer ${other}`, 'mcp-session-id': sid });
    assert.notEqual(hijack.status, 200);
  } finally {
    await g.close();
  }
});

test('a session ends when every token its owner presented has expired (sessions are bounded by token expiry)', async () => {
  const g = await startGateway(upstream.url, { authRefreshGraceMs: 0 });
  try {
    const exp = Math.floor(Date.now() / 1000) + 2;
    const short = await g.auth.token('shortlived', { expiresIn: exp });
    const sid = await rawSession(g.url, short, '2025-11-25');
    assert.equal(g.handle.sessions(), 1);
    const ended = () => g.interceptor.rec.ends.find((e) => e.ctx.sessionId === sid);
    for (let i = 0; i < 300 && !ended(); i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(ended()?.reason, 'expired');
    assert.ok(Date.now() >= exp * 1000, 'not before the token expired');
    // A refreshed token keeps the session going past the first token's expiry.
    const firstExp = Math.floor(Date.now() / 1000) + 2;
    const first = await g.auth.token('renewer', { expiresIn: firstExp });
    const sid2 = await rawSession(g.url, first, '2025-11-25');
    const longer = await g.auth.token('renewer');
    await rawPost(g.url, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, { authorization: `Bearer ${longer}`, 'mcp-session-id': sid2 });
    while (Date.now() < firstExp * 1000 + 1200) await new Promise((r) => setTimeout(r, 100));
    assert.equal(
      g.interceptor.rec.ends.some((e) => e.ctx.sessionId === sid2),
      false,
    );
    const ok = await rawPost(g.url, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, { authorization: `Bearer ${longer}`, 'mcp-session-id': sid2 });
    assert.equal(ok.status, 200);
  } finally {
    await g.close();
  }
});

test('onSessionStart failure (audit down) refuses the session: fail closed', async () => {
  const g = await startGateway(upstream.url, {
    interceptorOverrides: {
      onSessionStart: async () => {
        throw new GatewayError(-32004, 'audit record could not be written');
      },
    },
  });
  try {
    const r = await rawPost(g.url, initBody('2025-11-25'), { authorization: `Bearer ${await g.auth.token('z')}` });
    assert.equal(r.status, 503);
    assert.equal(r.json.error.code, -32004);
    assert.match(r.json.error.message, /audit record could not be written/);
    assert.equal(r.headers.get('mcp-session-id'), null);
    assert.equal(g.handle.sessions(), 0);
  } finally {
    await g.close();
  }
});

test('close() ends every session with reason shutdown', async () => {
  const g = await startGateway(upstream.url);
  const { c } = await client(g, 'shutdown');
  assert.equal(g.handle.sessions(), 1);
  await g.close();
  assert.deepEqual(
    g.interceptor.rec.ends.map((e) => e.reason),
    ['shutdown'],
  );
  await c.close();
});
