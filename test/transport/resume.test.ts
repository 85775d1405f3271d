// Two gateway instances, one upstream, one session: a client whose requests move from instance
// A to instance B (scale-out, redeploy, a lost affinity cookie) keeps its Mcp-Session-Id. B
// rebuilds the session from the sealed id (a new upstream session with the same client
// capabilities) after auditing it, and only for the identity that owns it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CreateMessageRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { startConformanceServer, type ConformanceServerHandle } from '../fixtures/conformance-server.js';
import { initBody, rawPost, rawSession, startAuthForwarder, startGateway, testAuth, type TestAuth, type TestGateway } from './helpers.js';
import { first } from '../helpers/present.js';

const secret = randomBytes(32);
let upstream: ConformanceServerHandle;
let auth: TestAuth;
let a: TestGateway;
let b: TestGateway;
let target = '';
let lb: Awaited<ReturnType<typeof startAuthForwarder>>;

before(async () => {
  upstream = await startConformanceServer();
  auth = await testAuth();
  a = await startGateway(upstream.url, { auth, sessionSecret: secret });
  b = await startGateway(upstream.url, { auth, sessionSecret: secret });
  target = a.url;
  // The "load balancer": every request goes to whichever instance `target` names right now.
  lb = await startAuthForwarder(() => target, null);
});
after(async () => {
  await lb.close();
  await a.close();
  await b.close();
  await upstream.close();
});

const bearer = async (subject: string) => ({ authorization: `Bearer ${await auth.token(subject)}` });

test('an SDK client moved from instance A to instance B keeps its session: calls, sampling and progress work on B', async () => {
  target = a.url;
  const token = await auth.token('mover');
  const c = new Client({ name: 'mover-client', version: '3.1.4' }, { capabilities: { sampling: {} } });
  c.setRequestHandler(CreateMessageRequestSchema, async (req) => ({
    role: 'assistant',
    content: { type: 'text', text: `via B: ${(first(req.params.messages, 'sampling message').content as { text: string }).text}` },
    model: 'm',
  }));
  const t = new StreamableHTTPClientTransport(new URL(lb.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } });
  await c.connect(t);
  const sid = t.sessionId!;
  await c.callTool({ name: 'test_simple_text', arguments: {} });
  assert.ok(a.interceptor.rec.requests.some((r) => r.ctx.sessionId === sid));
  const upstreamSessions = upstream.stats.sessionsOpen;

  target = b.url; // instance A is out of rotation from now on
  const r = await c.callTool({ name: 'test_simple_text', arguments: {} });
  assert.deepEqual(r.content, [{ type: 'text', text: 'This is a simple text response for testing.' }]);
  assert.equal(t.sessionId, sid, 'the client kept its session id');
  assert.equal(upstream.stats.sessionsOpen, upstreamSessions + 1, 'B opened its own upstream session');

  const start = b.interceptor.rec.starts.find((s) => s.sessionId === sid);
  assert.ok(start, 'B recorded the session (onSessionStart) before serving it');
  assert.equal(start.identity.subject, 'mover');
  assert.equal(start.clientName, 'mover-client');
  assert.equal(start.clientVersion, '3.1.4');
  assert.equal(start.protocolVersion, '2025-11-25');
  const call = b.interceptor.rec.requests.find((x) => x.ctx.sessionId === sid && x.method === 'tools/call');
  assert.equal(call?.ctx.identity.subject, 'mover');

  // The client's capabilities travelled in the id: the upstream can sample through B.
  const sampled = await c.callTool({ name: 'test_sampling', arguments: { prompt: 'hello' } });
  assert.deepEqual(sampled.content, [{ type: 'text', text: 'LLM response: via B: hello' }]);
  const seen: number[] = [];
  await c.callTool({ name: 'test_tool_with_progress', arguments: {} }, undefined, { onprogress: (p) => seen.push(p.progress) });
  assert.deepEqual(seen, [0, 50, 100]);
  await c.close();
});

test('B refuses the moved session to any other identity (403, audited), without opening an upstream session', async () => {
  target = a.url;
  const sid = await rawSession(a.url, await auth.token('owner'), '2025-11-25');
  const opened = upstream.stats.sessionsOpen;
  const r = await rawPost(b.url, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, { ...(await bearer('thief')), 'mcp-session-id': sid });
  assert.equal(r.status, 403);
  assert.equal(b.interceptor.rec.failures.at(-1)!.code, 'session_identity_mismatch');
  assert.equal(b.interceptor.rec.failures.at(-1)!.identity?.subject, 'thief');
  assert.equal(upstream.stats.sessionsOpen, opened);
  assert.equal(
    b.interceptor.rec.starts.some((s) => s.sessionId === sid),
    false,
  );
  // Same subject, other issuer: not the owner either (the test verifier refuses the issuer first).
  const other = await rawPost(
    b.url,
    { jsonrpc: '2.0', id: 2, method: 'tools/list' },
    {
      authorization: `Bearer ${await auth.token('owner', { issuer: 'https://elsewhere.test' })}`,
      'mcp-session-id': sid,
    },
  );
  assert.equal(other.status, 401);
  // The owner is served by B.
  const ok = await rawPost(b.url, { jsonrpc: '2.0', id: 3, method: 'tools/list' }, { ...(await bearer('owner')), 'mcp-session-id': sid });
  assert.equal(ok.status, 200);
  assert.ok(ok.json.result.tools.length > 0);
});

test('altered, foreign-key and made-up ids are unknown (404) on every instance', async () => {
  const token = await auth.token('forger');
  const sid = await rawSession(a.url, token, '2025-11-25');
  const stranger = await startGateway(upstream.url, { auth, sessionSecret: randomBytes(32) });
  try {
    const body = sid.slice(3);
    const mid = Math.floor(body.length / 2);
    const flipped = `v1.${body.slice(0, mid)}${body[mid] === 'A' ? 'B' : 'A'}${body.slice(mid + 1)}`;
    const lastFlipped = sid.replace(/.$/, (ch) => (ch === '0' ? '1' : '0'));
    for (const [name, id, gw] of [
      ['one character changed', flipped, b],
      ['last character changed (base64 slack bits)', lastFlipped, b],
      ['sealed with another key', sid, stranger],
      ['made up', 'v1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', b],
      ['a UUID', '00000000-0000-4000-8000-000000000000', b],
    ] as const) {
      const r = await rawPost(gw.url, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, { authorization: `Bearer ${token}`, 'mcp-session-id': id });
      assert.equal(r.status, 404, `${name}: ${r.status}`);
      assert.equal(gw.interceptor.rec.failures.at(-1)!.code, 'unknown_session', name);
    }
  } finally {
    await stranger.close();
  }
});

test('concurrent first requests on B rebuild the session once', async () => {
  const token = await auth.token('burster');
  const sid = await rawSession(a.url, token, '2025-11-25');
  const h = { authorization: `Bearer ${token}`, 'mcp-session-id': sid };
  const rs = await Promise.all(Array.from({ length: 5 }, (_, i) => rawPost(b.url, { jsonrpc: '2.0', id: i, method: 'tools/list' }, h)));
  assert.deepEqual(
    rs.map((r) => r.status),
    [200, 200, 200, 200, 200],
  );
  assert.equal(b.interceptor.rec.starts.filter((s) => s.sessionId === sid).length, 1);
});

test('a session ended on an instance stays ended there (DELETE, then 404); the protocol version travels (batch on 2025-03-26)', async () => {
  const token = await auth.token('batcher');
  const sid = await rawSession(a.url, token, '2025-03-26');
  const h = { authorization: `Bearer ${token}`, 'mcp-session-id': sid };
  const batch = await rawPost(
    b.url,
    [
      { jsonrpc: '2.0', id: 'x', method: 'tools/list' },
      { jsonrpc: '2.0', id: 'y', method: 'prompts/list' },
    ],
    h,
  );
  assert.equal(batch.status, 200, 'B knows the session negotiated 2025-03-26, where batches exist');
  const del = await fetch(b.url, { method: 'DELETE', headers: h });
  assert.equal(del.status, 200);
  assert.equal(b.interceptor.rec.ends.find((e) => e.ctx.sessionId === sid)?.reason, 'client_delete');
  const after = await rawPost(b.url, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, h);
  assert.equal(after.status, 404);
});

test('an id older than sessionMaxAgeMs is not resumed', async () => {
  const strict = await startGateway(upstream.url, { auth, sessionSecret: secret, sessionMaxAgeMs: 1 });
  try {
    const token = await auth.token('old-timer');
    const r = await rawPost(a.url, initBody('2025-11-25'), { authorization: `Bearer ${token}` });
    const sid = r.headers.get('mcp-session-id')!;
    await new Promise((res) => setTimeout(res, 20));
    const late = await rawPost(strict.url, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, { authorization: `Bearer ${token}`, 'mcp-session-id': sid });
    assert.equal(late.status, 404);
  } finally {
    await strict.close();
  }
});

test('without a shared secret, sessions stay on their instance (404 elsewhere, as before)', async () => {
  const solo1 = await startGateway(upstream.url, { auth });
  const solo2 = await startGateway(upstream.url, { auth });
  try {
    const token = await auth.token('loner');
    const sid = await rawSession(solo1.url, token, '2025-11-25');
    const r = await rawPost(solo2.url, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, { authorization: `Bearer ${token}`, 'mcp-session-id': sid });
    assert.equal(r.status, 404);
  } finally {
    await solo1.close();
    await solo2.close();
  }
});
