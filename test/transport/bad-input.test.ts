// Bad input at the HTTP/JSON-RPC layer and misbehaving upstreams: each case must get the right
// HTTP status, a JSON-RPC error body, an onHttpFailure report (audit) where it is refused
// before the pipeline, and never a crash or a hang.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startConformanceServer, type ConformanceServerHandle } from '../fixtures/conformance-server.js';
import { startMisbehavingUpstream, type Misbehaviour } from '../fixtures/upstream-misbehaving.js';
import { ACCEPT_BOTH, initBody, rawPost, rawSession, startGateway, type TestGateway } from './helpers.js';

let upstream: ConformanceServerHandle;
let gw: TestGateway;
let token: string;

before(async () => {
  upstream = await startConformanceServer();
  gw = await startGateway(upstream.url);
  token = await gw.auth.token('alice');
});
after(async () => {
  await gw.close();
  await upstream.close();
});

const bearer = () => ({ authorization: `Bearer ${token}` });
const lastFailure = () => gw.interceptor.rec.failures.at(-1)!;

async function sdkClient(url: string, tok: string): Promise<Client> {
  const c = new Client({ name: 'bad-input-test', version: '1' });
  await c.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${tok}` } } }));
  return c;
}

test('malformed JSON → 400, JSON-RPC -32700 parse error, audited', async () => {
  const r = await rawPost(gw.url, '{"jsonrpc":"2.0","id":1,"method":"tools/list"', bearer());
  assert.equal(r.status, 400);
  assert.equal(r.json.jsonrpc, '2.0');
  assert.equal(r.json.id, null);
  assert.equal(r.json.error.code, -32700);
  assert.match(r.json.error.message, /Parse error/);
  assert.equal(lastFailure().code, 'malformed_json');
  assert.equal(lastFailure().httpStatus, 400);
  assert.equal(lastFailure().identity?.subject, 'alice');
});

test('empty body → 400 parse error', async () => {
  const r = await rawPost(gw.url, '', bearer());
  assert.equal(r.status, 400);
  assert.equal(r.json.error.code, -32700);
});

test('wrong content type → 415', async () => {
  const r = await rawPost(gw.url, JSON.stringify(initBody('2025-06-18')), { ...bearer(), 'content-type': 'text/plain' });
  assert.equal(r.status, 415);
  assert.equal(r.json.error.code, -32000);
  assert.equal(lastFailure().code, 'wrong_content_type');
  // A look-alike media type is not JSON either.
  const r2 = await rawPost(gw.url, JSON.stringify(initBody('2025-06-18')), { ...bearer(), 'content-type': 'application/jsonx' });
  assert.equal(r2.status, 415);
});

test('missing Accept (or Accept without SSE) → 406', async () => {
  const r = await fetch(gw.url, { method: 'POST', headers: { ...bearer(), 'content-type': 'application/json' }, body: JSON.stringify(initBody('2025-06-18')) });
  assert.equal(r.status, 406);
  assert.equal((await r.json()).error.code, -32000);
  assert.equal(lastFailure().code, 'not_acceptable');
  const r2 = await rawPost(gw.url, initBody('2025-06-18'), { ...bearer(), accept: 'application/json' });
  assert.equal(r2.status, 406);
  const sid = await rawSession(gw.url, token, '2025-11-25');
  const g = await fetch(gw.url, { headers: { ...bearer(), 'mcp-session-id': sid, accept: 'application/json' } });
  assert.equal(g.status, 406);
});

test('oversized body → 413 before parsing', async () => {
  const big = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'x', arguments: { pad: 'a'.repeat(70 * 1024) } } });
  const r = await rawPost(gw.url, big, bearer());
  assert.equal(r.status, 413);
  assert.equal(r.json.error.code, -32000);
  assert.match(r.json.error.message, /exceeds 65536 bytes/);
  assert.equal(lastFailure().code, 'body_too_large');
});

test('JSON-RPC batch refused on 2025-06-18 and 2025-11-25 sessions (batching removed in 2025-06-18)', async () => {
  for (const v of ['2025-06-18', '2025-11-25']) {
    const sid = await rawSession(gw.url, token, v);
    const before = gw.interceptor.rec.requests.length;
    const r = await rawPost(
      gw.url,
      [
        { jsonrpc: '2.0', id: 1, method: 'tools/list' },
        { jsonrpc: '2.0', id: 2, method: 'ping' },
      ],
      { ...bearer(), 'mcp-session-id': sid, 'mcp-protocol-version': v },
    );
    assert.equal(r.status, 400, v);
    assert.equal(r.json.error.code, -32600);
    assert.match(r.json.error.message, /batch/i);
    assert.equal(lastFailure().code, 'batch_not_allowed');
    assert.equal(gw.interceptor.rec.requests.length, before, 'no batch member may reach the pipeline');
  }
  // Without a session (e.g. a batched initialize) too.
  const r = await rawPost(gw.url, [initBody('2025-03-26')], bearer());
  assert.equal(r.status, 400);
  assert.equal(r.json.error.code, -32600);
});

test('JSON-RPC batch accepted on a 2025-03-26 session, each member through the pipeline', async () => {
  const sid = await rawSession(gw.url, token, '2025-03-26');
  const r = await fetch(gw.url, {
    method: 'POST',
    headers: { ...bearer(), 'content-type': 'application/json', accept: ACCEPT_BOTH, 'mcp-session-id': sid },
    body: JSON.stringify([
      { jsonrpc: '2.0', id: 'a', method: 'tools/list' },
      { jsonrpc: '2.0', id: 'b', method: 'prompts/list' },
    ]),
  });
  assert.equal(r.status, 200);
  const text = await r.text();
  assert.match(text, /"id":"a"/);
  assert.match(text, /"id":"b"/);
  const methods = gw.interceptor.rec.requests.filter((x) => x.ctx.sessionId === sid).map((x) => x.method);
  assert.deepEqual(methods.sort(), ['prompts/list', 'tools/list']);
});

test('not a JSON-RPC message → 400 -32600', async () => {
  const r = await rawPost(gw.url, { hello: 'world' }, bearer());
  assert.equal(r.status, 400);
  assert.equal(r.json.error.code, -32600);
  assert.equal(lastFailure().code, 'invalid_jsonrpc');
});

test('missing session id on a non-initialize request → 400', async () => {
  const r = await rawPost(gw.url, { jsonrpc: '2.0', id: 7, method: 'tools/list' }, bearer());
  assert.equal(r.status, 400);
  assert.equal(r.json.id, 7);
  assert.equal(r.json.error.code, -32000);
  assert.equal(lastFailure().code, 'missing_session');
  assert.equal(lastFailure().method, 'tools/list');
});

test('unknown session id → 404 on POST, GET and DELETE', async () => {
  const h = { ...bearer(), 'mcp-session-id': '00000000-0000-4000-8000-000000000000' };
  const r = await rawPost(gw.url, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, h);
  assert.equal(r.status, 404);
  assert.equal(r.json.error.code, -32001);
  assert.equal(lastFailure().code, 'unknown_session');
  assert.equal((await fetch(gw.url, { headers: { ...h, accept: 'text/event-stream' } })).status, 404);
  assert.equal((await fetch(gw.url, { method: 'DELETE', headers: h })).status, 404);
});

test('Origin not on the allow-list → 403; allowed Origin and no Origin pass', async () => {
  const r = await rawPost(gw.url, initBody('2025-11-25'), { ...bearer(), origin: 'http://evil.example.com' });
  assert.equal(r.status, 403);
  assert.equal(r.json.error.code, -32000);
  assert.match(r.json.error.message, /Origin/);
  assert.equal(lastFailure().code, 'bad_origin');
  const ok = await rawPost(gw.url, initBody('2025-11-25'), { ...bearer(), origin: 'https://console.bank.test' });
  assert.equal(ok.status, 200);
  const none = await rawPost(gw.url, initBody('2025-11-25'), bearer());
  assert.equal(none.status, 200);
});

test('unsupported MCP-Protocol-Version header → 400', async () => {
  const sid = await rawSession(gw.url, token, '2025-11-25');
  const r = await rawPost(gw.url, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, { ...bearer(), 'mcp-session-id': sid, 'mcp-protocol-version': '1999-01-01' });
  assert.equal(r.status, 400);
  assert.match(r.json.error.message, /MCP-Protocol-Version/);
  assert.equal(lastFailure().code, 'unsupported_protocol_version');
});

test('unsupported HTTP method → 405 with Allow', async () => {
  const r = await fetch(gw.url, { method: 'PUT', headers: { ...bearer(), 'content-type': 'application/json' }, body: '{}' });
  assert.equal(r.status, 405);
  assert.equal(r.headers.get('allow'), 'GET, POST, DELETE');
  assert.equal((await r.json()).error.code, -32000);
});

test('initialize carrying an Mcp-Session-Id → 400', async () => {
  const r = await rawPost(gw.url, initBody('2025-11-25'), { ...bearer(), 'mcp-session-id': 'whatever' });
  assert.equal(r.status, 400);
  assert.equal(r.json.error.code, -32600);
});

test('upstream down at initialize → 502 with a clear JSON-RPC error, no session', async () => {
  const down = await startGateway('http://127.0.0.1:9/mcp');
  try {
    const tok = await down.auth.token('bob');
    const r = await rawPost(down.url, initBody('2025-11-25', 42), { authorization: `Bearer ${tok}` });
    assert.equal(r.status, 502);
    assert.equal(r.json.id, 42);
    assert.equal(r.json.error.code, -32000);
    assert.match(r.json.error.message, /Upstream MCP server unavailable during initialize/);
    assert.equal(down.interceptor.rec.failures.at(-1)!.code, 'upstream_unavailable');
    assert.equal(down.handle.sessions(), 0);
    assert.equal(down.interceptor.rec.starts.length, 0);
    assert.equal(await down.handle.upstreamReady(), false);
  } finally {
    await down.close();
  }
});

test('upstream goes down mid-session → tools/call gets a clear error, not a hang', async () => {
  const fixture = await startConformanceServer();
  const g = await startGateway(fixture.url);
  try {
    assert.equal(await g.handle.upstreamReady(), true);
    const c = await sdkClient(g.url, await g.auth.token('carol'));
    await fixture.close();
    await assert.rejects(c.callTool({ name: 'test_simple_text', arguments: {} }), (err: Error & { code?: number }) => {
      assert.equal(err.code, -32000);
      assert.match(err.message, /Upstream MCP server unavailable during tools\/call/);
      return true;
    });
    await c.close();
  } finally {
    await g.close();
  }
});

test('upstream too slow → timeout error after upstream.timeoutMs, request cancelled upstream', async () => {
  const fixture = await startConformanceServer();
  const g = await startGateway(fixture.url, { upstream: { url: fixture.url, headers: async () => ({}), timeoutMs: 300 } });
  try {
    const c = await sdkClient(g.url, await g.auth.token('dave'));
    await assert.rejects(c.callTool({ name: 'test_slow', arguments: { ms: 20_000 } }), (err: Error & { code?: number }) => {
      assert.equal(err.code, -32001);
      assert.match(err.message, /did not answer tools\/call within 300 ms; the request was cancelled upstream/);
      return true;
    });
    for (let i = 0; i < 100 && fixture.stats.cancelled === 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(fixture.stats.cancelled, 1, 'the upstream saw notifications/cancelled');
    await c.close();
  } finally {
    await g.close();
    await fixture.close();
  }
});

for (const mode of ['html', 'bad_json', 'not_jsonrpc', 'http_500'] as Misbehaviour[]) {
  test(`upstream answering garbage (${mode}) → clear error at call time and at initialize`, async () => {
    const bad = await startMisbehavingUpstream(mode);
    const g = await startGateway(bad.url, { upstream: { url: bad.url, headers: async () => ({}), timeoutMs: 2000 } });
    try {
      const c = await sdkClient(g.url, await g.auth.token('erin'));
      await assert.rejects(c.callTool({ name: 'anything', arguments: {} }), (err: Error & { code?: number }) => {
        if (mode === 'http_500') assert.match(err.message, /Upstream MCP server answered tools\/call with HTTP 500/);
        else if (mode === 'not_jsonrpc') assert.match(err.message, /Upstream MCP server (sent an invalid response|did not answer)/);
        else assert.match(err.message, /Upstream MCP server sent an invalid response to tools\/call/);
        return true;
      });
      await c.close();
    } finally {
      await g.close();
      await bad.close();
    }
    const badInit = await startMisbehavingUpstream(mode, { breakInitialize: true });
    const g2 = await startGateway(badInit.url, { upstream: { url: badInit.url, headers: async () => ({}), timeoutMs: 2000 } });
    try {
      const r = await rawPost(g2.url, initBody('2025-11-25'), { authorization: `Bearer ${await g2.auth.token('erin')}` });
      assert.equal(r.status, 502);
      assert.match(r.json.error.message, /Upstream MCP server/);
      assert.equal(g2.handle.sessions(), 0);
    } finally {
      await g2.close();
      await badInit.close();
    }
  });
}

test('upstream that never answers initialize → 502 after the timeout, not a hang', async () => {
  const hang = await startMisbehavingUpstream('hang', { breakInitialize: true });
  const g = await startGateway(hang.url, { upstream: { url: hang.url, headers: async () => ({}), timeoutMs: 300 } });
  try {
    const r = await rawPost(g.url, initBody('2025-11-25'), { authorization: `Bearer ${await g.auth.token('frank')}` });
    assert.equal(r.status, 502);
    assert.match(r.json.error.message, /did not answer initialize within 300 ms/);
  } finally {
    await g.close();
    await hang.close();
  }
});

test('upstream without a standalone stream (MCP Toolbox) → GET gets 405 as the spec allows; the upstream is asked once', async () => {
  const up = await startMisbehavingUpstream('scripted', { answer: (id) => JSON.stringify({ jsonrpc: '2.0', id, result: {} }) });
  const g = await startGateway(up.url, { upstream: { url: up.url, headers: async () => ({}), timeoutMs: 2000 } });
  try {
    const tok = await g.auth.token('streamless');
    const sid = await rawSession(g.url, tok, '2025-11-25');
    const h = { authorization: `Bearer ${tok}`, 'mcp-session-id': sid, accept: 'text/event-stream' };
    const before = up.requests();
    const first = await fetch(g.url, { headers: h });
    assert.equal(first.status, 405);
    assert.equal((await first.json()).error.code, -32000);
    assert.equal(up.requests(), before + 1);
    assert.equal((await fetch(g.url, { headers: h })).status, 405);
    assert.equal(up.requests(), before + 1, 'the answer is remembered');
    assert.equal(g.interceptor.rec.failures.length, 0, 'not a refusal of the client: nothing to audit');
    // The session is unaffected.
    const r = await rawPost(g.url, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'x' } }, { authorization: `Bearer ${tok}`, 'mcp-session-id': sid });
    assert.equal(r.status, 200);
  } finally {
    await g.close();
    await up.close();
  }
});
