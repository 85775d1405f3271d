// Red team, HTTP and JSON-RPC layer, against the real stack (gateway → recording proxy → MCP
// Toolbox): session hijack, token passthrough, protocol tricks and identity edge cases. An
// attack is refused when the client gets nothing it should not, the upstream receives nothing
// it should not (judged from the proxy's record), and the refusal is in the audit trail.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { generateBank } from '../../src/demo/dataset.js';
import { findLeaks } from '../helpers/leaks.js';
import { rowsOf } from '../helpers/gateway.js';
import { startRecordedStack, type RecordedStack } from './stack.js';
import { auditEvents, call, raw, rawSession, responseOf, waitForEvent } from './helpers.js';
import { first } from '../helpers/present.js';

const BANK = generateBank();
const SSN_1 = first(BANK.customers, 'demo customer').ssn;
const SSN_QUERY = 'SELECT customer_id, ssn FROM customers WHERE customer_id = 1';

let rs: RecordedStack;
let url: string;
const tokens: string[] = [];

async function token(user: string, groups: string[]): Promise<string> {
  const t = await rs.stack.token(user, groups);
  tokens.push(t);
  return t;
}

before(async () => {
  rs = await startRecordedStack();
  url = rs.stack.mcpUrl;
});
after(async () => {
  await rs?.stop();
});

/** Nothing recorded upstream since `mark` mentions `needle`. */
function upstreamNeverSaw(mark: number, needle: string): void {
  const hits = rs.upstreamBodiesSince(mark).filter((b) => b.includes(needle));
  assert.deepEqual(hits, [], `upstream received ${needle}`);
}

// ---------- 1. session hijack ----------

test("session hijack: B presents A's Mcp-Session-Id with B's valid token → 403 on POST, GET and DELETE, audited; A's session survives", async () => {
  const a = await token('alice@bank.example', ['analyst']);
  const b = await token('bob@bank.example', ['pii-reader']);
  const sidA = await rawSession(url, a);
  const mark = rs.proxy.requests.length;

  const post = await raw(url, call('execute_sql', { sql: 'SELECT ssn AS hijack_marker_1 FROM customers LIMIT 2' }), { token: b, sessionId: sidA });
  assert.equal(post.status, 403, post.text);
  assert.match(post.text, /different identity/);
  const get = await raw(url, null, { method: 'GET', token: b, sessionId: sidA, abortAfterMs: 5000 });
  assert.equal(get.status, 403, get.text);
  const del = await raw(url, null, { method: 'DELETE', token: b, sessionId: sidA });
  assert.equal(del.status, 403, del.text);
  // A cancel for A's requests sent on A's session by B is a hijack too.
  const cancel = await raw(url, { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 1 } }, { token: b, sessionId: sidA });
  assert.equal(cancel.status, 403, cancel.text);
  upstreamNeverSaw(mark, 'hijack_marker_1');

  const ev = await waitForEvent(rs.stack.dataDir, (e) => e.error_code === 'session_identity_mismatch' && e.actor_email === 'bob@bank.example');
  assert.ok(ev, 'the hijack attempt is audited with the intruder as actor');
  assert.equal(ev.http_status, 403);

  // The owner is unaffected: DELETE by B did not end the session.
  const ok = await raw(url, call('execute_sql', { sql: 'SELECT 1 AS one' }), { token: a, sessionId: sidA });
  assert.equal(ok.status, 200, ok.text);
  assert.notEqual(responseOf(ok)?.result?.isError, true, ok.text);
});

test('session hijack without any token, and with an unknown session id → 401 / 404', async () => {
  const a = await token('alice2@bank.example', ['analyst']);
  const sidA = await rawSession(url, a);
  const noTok = await raw(url, call('execute_sql', { sql: SSN_QUERY }), { sessionId: sidA });
  assert.equal(noTok.status, 401);
  const guessed = await raw(url, call('execute_sql', { sql: SSN_QUERY }), { token: a, sessionId: sidA.replace(/.$/, (c) => (c === '0' ? '1' : '0')) });
  assert.equal(guessed.status, 404);
});

// ---------- 2. token passthrough ----------

test('token passthrough: no client token (nor its Authorization header) reaches the upstream for initialize, tools/list, tools/call, GET SSE, notifications and DELETE', async () => {
  const mark = rs.proxy.requests.length;
  const t = await token('tess@bank.example', ['pii-reader']);
  const sid = await rawSession(url, t);
  const list = await raw(url, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, { token: t, sessionId: sid });
  assert.equal(list.status, 200);
  const c = await raw(url, call('execute_sql', { sql: 'SELECT 1 AS passthrough_probe' }), { token: t, sessionId: sid });
  assert.equal(c.status, 200);
  await raw(url, { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 424242, reason: 'probe' } }, { token: t, sessionId: sid });
  const get = await raw(url, null, { method: 'GET', token: t, sessionId: sid, abortAfterMs: 1500 });
  assert.ok(get.status === 200 || get.status === 405, `GET stream: ${get.status}`);
  const del = await raw(url, null, { method: 'DELETE', token: t, sessionId: sid });
  assert.ok(del.status === 200 || del.status === 204, `DELETE: ${del.status}`);
  // Closing the upstream session is asynchronous.
  for (let i = 0; i < 30 && !rs.proxy.requests.slice(mark).some((r) => r.method === 'DELETE'); i++) await new Promise((r) => setTimeout(r, 100));

  const seen = rs.proxy.requests.slice(mark);
  const methods = new Set(
    seen.map((r) =>
      `${r.method} ${(() => {
        try {
          return JSON.parse(r.body).method ?? '';
        } catch {
          return '';
        }
      })()}`.trim(),
    ),
  );
  // The upstream session is ended with DELETE when the upstream issued a session id.
  const upstreamSessions = seen.some((r) => r.headers['mcp-session-id']);
  for (const m of ['POST initialize', 'POST tools/list', 'POST tools/call', ...(upstreamSessions ? ['DELETE'] : [])]) assert.ok(methods.has(m), `upstream saw ${m}: ${[...methods].join(', ')}`);
  for (const r of seen) {
    const headerText = JSON.stringify(r.headers);
    for (const tok of tokens) {
      assert.ok(!headerText.includes(tok), `client token in upstream headers of ${r.method} ${r.body.slice(0, 80)}`);
      assert.ok(!r.body.includes(tok), `client token in upstream body of ${r.method}`);
    }
    assert.ok(r.headers.authorization === undefined || !/eyJ/.test(String(r.headers.authorization)), `a JWT-looking Authorization went upstream: ${r.headers.authorization}`);
    // Sessions are not linkable: the downstream id is not reused upstream.
    assert.notEqual(r.headers['mcp-session-id'], sid);
  }
});

// ---------- 6. protocol tricks ----------

test('JSON-RPC ids colliding across two clients: each gets its own answer (masked for the analyst, clear for the reader)', async () => {
  const a = await token('ana@bank.example', ['analyst']);
  const b = await token('pia@bank.example', ['pii-reader']);
  const [sa, sb] = await Promise.all([rawSession(url, a), rawSession(url, b)]);
  for (let round = 0; round < 3; round++) {
    const [ra, rb] = await Promise.all([
      raw(url, call('execute_sql', { sql: SSN_QUERY }, 7), { token: a, sessionId: sa }),
      raw(url, call('execute_sql', { sql: SSN_QUERY }, 7), { token: b, sessionId: sb }),
    ]);
    assert.deepEqual(findLeaks(ra.messages), [], `analyst got clear data: ${ra.text.slice(0, 300)}`);
    const clear = rowsOf(responseOf(rb)?.result);
    assert.equal(clear[0]?.ssn, SSN_1, `the reader's own answer: ${rb.text.slice(0, 300)}`);
  }
});

test("notifications/cancelled for another client's request id does not cancel it", async () => {
  const a = await token('slow@bank.example', ['analyst']);
  const b = await token('spoiler@bank.example', ['analyst']);
  const [sa, sb] = await Promise.all([rawSession(url, a), rawSession(url, b)]);
  const slow = 'WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 1500000) SELECT count(*) AS c FROM r';
  const pending = raw(url, call('execute_sql', { sql: slow }, 'victim-1'), { token: a, sessionId: sa, abortAfterMs: 60_000 });
  for (let i = 0; i < 5; i++) {
    const r = await raw(url, { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'victim-1', reason: 'spoof' } }, { token: b, sessionId: sb });
    assert.ok(r.status === 202 || r.status === 200, `cancel on own session: ${r.status}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const res = await pending;
  const msg = responseOf(res);
  assert.ok(msg, `the victim got an answer (not silently cancelled): ${res.text.slice(0, 300)}`);
  assert.equal(rowsOf(msg.result)[0]?.c, 1500000, res.text.slice(0, 300));
});

test('JSON-RPC batch (2025-03-26 session) mixing allowed and forbidden calls: every member judged on its own', async () => {
  const a = await token('batcher@bank.example', ['analyst']);
  const sid = await rawSession(url, a, '2025-03-26');
  const before = BANK.customers.length;
  const r = await raw(
    url,
    [
      call('execute_sql', { sql: 'SELECT count(*) AS n FROM customers' }, 'b1'),
      call('execute_sql', { sql: 'SELECT ssn, email FROM customers LIMIT 3' }, 'b2'),
      call('execute_sql', { sql: 'DELETE FROM customers WHERE customer_id = 1' }, 'b3'),
      { jsonrpc: '2.0', id: 'b4', method: 'resources/list' },
      call('EXECUTE_SQL', { sql: 'SELECT ssn FROM customers LIMIT 3' }, 'b5'),
      { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'not-in-this-batch' } },
    ],
    { token: a, sessionId: sid, protocolVersion: '2025-03-26' },
  );
  assert.equal(r.status, 200, r.text);
  const byId = new Map(r.messages.map((m) => [m.id, m]));
  assert.deepEqual(findLeaks(r.messages), [], r.text.slice(0, 500));
  assert.equal(byId.get('b3')?.result?.isError, true, 'DELETE by an analyst is denied inside a batch');
  assert.equal(byId.get('b4')?.error?.code, -32003, 'resources/list is denied inside a batch');
  assert.equal(byId.get('b5')?.result?.isError, true, 'unknown tool name is denied inside a batch');
  const reader = await rs.stack.client('count@bank.example', ['pii-reader']);
  const n = rowsOf(await reader.callTool({ name: 'execute_sql', arguments: { sql: 'SELECT count(*) AS n FROM customers' } }))[0]?.n;
  assert.equal(n, before, 'no customer was deleted');
});

test('JSON-RPC batch on a 2025-11-25 session is refused outright (400), nothing forwarded', async () => {
  const a = await token('batcher2@bank.example', ['pii-reader']);
  const sid = await rawSession(url, a);
  const mark = rs.proxy.requests.length;
  const r = await raw(url, [call('execute_sql', { sql: 'SELECT 1 AS batch_marker_2' }, 1), call('execute_sql', { sql: 'SELECT 2 AS batch_marker_3' }, 2)], { token: a, sessionId: sid });
  assert.equal(r.status, 400);
  upstreamNeverSaw(mark, 'batch_marker_');
});

test('a tools/call smuggled inside a JSON-RPC response (to a server→client request that was never sent) never reaches the upstream', async () => {
  const a = await token('smuggler@bank.example', ['pii-reader']);
  const sid = await rawSession(url, a);
  const mark = rs.proxy.requests.length;
  const inner = { method: 'tools/call', params: { name: 'execute_sql', arguments: { sql: 'SELECT ssn AS smuggle_marker FROM customers' } } };
  const attempts: unknown[] = [
    { jsonrpc: '2.0', id: 0, result: inner },
    { jsonrpc: '2.0', id: 'x', result: { ...inner, content: [] } },
    { jsonrpc: '2.0', id: 1, error: { code: -1, message: 'x', data: inner } },
  ];
  for (const body of attempts) {
    const r = await raw(url, body, { token: a, sessionId: sid });
    assert.ok(r.status < 500, `${r.status} ${r.text}`);
    assert.deepEqual(findLeaks(r.messages), []);
  }
  await new Promise((r) => setTimeout(r, 300));
  upstreamNeverSaw(mark, 'smuggle_marker');
});

test('a message that is both a request and a response goes through the pipeline as a request (masked for an analyst), or is refused', async () => {
  const a = await token('hybrid@bank.example', ['analyst']);
  const sid = await rawSession(url, a);
  const mark = rs.proxy.requests.length;
  const body = { ...call('execute_sql', { sql: 'SELECT ssn AS hybrid_marker FROM customers LIMIT 3' }, 55), result: { content: [] } };
  const r = await raw(url, body, { token: a, sessionId: sid });
  assert.deepEqual(findLeaks(r.messages), [], r.text.slice(0, 300));
  const forwarded = rs.upstreamBodiesSince(mark).some((b) => b.includes('hybrid_marker'));
  if (forwarded) {
    const ev = await waitForEvent(rs.stack.dataDir, (e) => e.session_id === sid && e.tool_name === 'execute_sql');
    assert.ok(ev, 'a forwarded call has its audit event');
  }
});

test('transport refusals with a valid token — evil Origin, oversized body, wrong Content-Type, missing Accept, unsupported protocol version — 403/413/415/406/400, audited, nothing forwarded', async () => {
  const a = await token('tricks@bank.example', ['pii-reader']);
  const sid = await rawSession(url, a);
  const mark = rs.proxy.requests.length;
  const probe = (n: number) => call('execute_sql', { sql: `SELECT ssn AS refused_marker_${n} FROM customers` });
  const cases: [string, Promise<Awaited<ReturnType<typeof raw>>>, number, string][] = [
    ['evil origin', raw(url, probe(1), { token: a, sessionId: sid, headers: { origin: 'http://evil.example' } }), 403, 'bad_origin'],
    ['null origin', raw(url, probe(2), { token: a, sessionId: sid, headers: { origin: 'null' } }), 403, 'bad_origin'],
    [
      'evil origin on initialize',
      raw(
        url,
        { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' } } },
        { token: a, headers: { origin: 'http://127.0.0.1.evil.example' } },
      ),
      403,
      'bad_origin',
    ],
    ['huge body', raw(url, JSON.stringify({ ...probe(3), pad: 'x'.repeat(5 * 1024 * 1024) }), { token: a, sessionId: sid }), 413, 'body_too_large'],
    ['text/plain', raw(url, probe(4), { token: a, sessionId: sid, headers: { 'content-type': 'text/plain' } }), 415, 'wrong_content_type'],
    ['json lookalike type', raw(url, probe(5), { token: a, sessionId: sid, headers: { 'content-type': 'application/jsonx' } }), 415, 'wrong_content_type'],
    ['no Accept', raw(url, probe(6), { token: a, sessionId: sid, headers: { accept: '' } }), 406, 'not_acceptable'],
    ['wildcard Accept', raw(url, probe(7), { token: a, sessionId: sid, headers: { accept: '*/*' } }), 406, 'not_acceptable'],
    ['unsupported protocol', raw(url, probe(8), { token: a, sessionId: sid, protocolVersion: '1999-01-01' }), 400, 'unsupported_protocol_version'],
    ['PUT', raw(url, probe(9), { method: 'PUT', token: a, sessionId: sid }), 405, 'method_not_allowed'],
  ];
  for (const [name, p, status, code] of cases) {
    const r = await p;
    assert.equal(r.status, status, `${name}: ${r.status} ${r.text.slice(0, 200)}`);
    const ev = await waitForEvent(rs.stack.dataDir, (e) => e.error_code === code && e.http_status === status);
    assert.ok(ev, `${name} audited as ${code}`);
  }
  upstreamNeverSaw(mark, 'refused_marker_');
});

test('client notifications: made-up and server-only notifications are not relayed upstream without a decision and an audit record', async () => {
  // The examiner may call no data tool; a notification is still a message to the database's server.
  const t = await token('notifier@ffiec.example', ['examiner']);
  const sid = await rawSession(url, t);
  const mark = rs.proxy.requests.length;
  const methods = ['notifications/custom', 'notifications/message', 'notifications/tools/list_changed', 'notifications/resources/updated', 'notifications/bqwarden/exec'];
  for (const method of methods) {
    const r = await raw(url, { jsonrpc: '2.0', method, params: { notify_marker: method, sql: 'DELETE FROM customers' } }, { token: t, sessionId: sid });
    assert.ok(r.status < 500, `${method}: ${r.status}`);
  }
  await new Promise((r) => setTimeout(r, 300));
  const relayed = rs.upstreamBodiesSince(mark).filter((b) => b.includes('notify_marker'));
  const audited = auditEvents(rs.stack.dataDir).filter((e) => e.session_id === sid && e.event_type === 'mcp_notification');
  // Either refused, or every relayed one has its audit record.
  assert.ok(relayed.length <= audited.length, `${relayed.length} notification(s) reached the upstream, ${audited.length} audited: ${relayed.map((b) => JSON.parse(b).method).join(', ')}`);
  for (const b of relayed) {
    const m = JSON.parse(b).method as string;
    assert.ok(!['notifications/message', 'notifications/tools/list_changed', 'notifications/resources/updated'].includes(m), `server-only notification ${m} relayed from a client`);
  }
});

// ---------- 9. identity edge cases through the HTTP stack ----------

/** node:http lets a request carry a header twice (fetch would merge them). */
function postWithHeaders(headers: Record<string, string | string[]>, body: unknown): Promise<{ status: number; text: string; headers: Record<string, unknown> }> {
  return requestWithHeaders('POST', url, { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers }, body);
}

function requestWithHeaders(method: string, target: string, headers: Record<string, string | string[]>, body?: unknown): Promise<{ status: number; text: string; headers: Record<string, unknown> }> {
  const u = new URL(target);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: u.hostname, port: u.port, path: u.pathname + u.search, method, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text, headers: res.headers }));
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

const INIT = { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'idtest', version: '1' } } };

test('identity: token in the query string (?access_token=) is not accepted', async () => {
  const t = await token('query@bank.example', ['pii-reader']);
  const r = await raw(`${url}?access_token=${t}`, INIT, {});
  assert.equal(r.status, 401);
  const r2 = await raw(`${url}?token=${t}`, INIT, {});
  assert.equal(r2.status, 401);
});

test('identity: Basic, empty, multi-word and non-JWT Authorization values → 401', async () => {
  const t = await token('basic@bank.example', ['analyst']);
  for (const auth of [`Basic ${Buffer.from('a:b').toString('base64')}`, 'Bearer', 'Bearer ', `Bearer ${t} extra`, `Bearer ${t},${t}`, 'Bearer not-a-jwt', `Token ${t}`, `Bearer\t${t}`]) {
    const r = await postWithHeaders({ authorization: auth }, INIT);
    assert.equal(r.status, 401, `${auth.slice(0, 30)}: ${r.status}`);
  }
});

test('identity: "bearer" scheme in another case is accepted (RFC 6750 schemes are case-insensitive) and means the same user', async () => {
  const t = await token('casey@bank.example', ['analyst']);
  const r = await postWithHeaders({ authorization: `bEaReR ${t}` }, INIT);
  assert.equal(r.status, 200, r.text);
  const sid = r.headers['mcp-session-id'] as string;
  const ev = await waitForEvent(rs.stack.dataDir, (e) => e.event_type === 'session_start' && e.session_id === sid);
  assert.equal(ev?.actor_email, 'casey@bank.example');
});

test('identity: two Authorization headers (valid token + another credential) are refused, not resolved first-wins', async () => {
  const good = await token('first@bank.example', ['analyst']);
  const other = await token('second@bank.example', ['pii-reader']);
  for (const pair of [
    [`Bearer ${good}`, 'Bearer garbage.garbage.garbage'],
    [`Bearer ${good}`, `Bearer ${other}`],
  ]) {
    const r = await postWithHeaders({ authorization: pair }, INIT);
    assert.equal(r.status, 401, `two Authorization headers accepted (${r.status}); the gateway resolved them first-wins`);
  }
  // The approvals API and the console authenticate on their own and need the same refusal.
  const approver = await token('first-approver@bank.example', ['approver']);
  const api = await requestWithHeaders('GET', `${rs.stack.url}/approvals`, { authorization: [`Bearer ${approver}`, 'Bearer garbage.garbage.garbage'] });
  assert.equal(api.status, 401, `approvals API: ${api.status}`);
});

test('identity: a spoofed IAP assertion header is ignored when IAP is not configured (no identity from it, no upgrade)', async () => {
  const header = Buffer.from(JSON.stringify({ alg: 'ES256', typ: 'JWT' })).toString('base64url');
  const payload = Buffer.from(JSON.stringify({ iss: 'https://cloud.google.com/iap', sub: 'accounts.google.com:1', email: 'boss@bank.example', aud: 'x', exp: 9999999999 })).toString('base64url');
  const forged = `${header}.${payload}.${Buffer.from('sig').toString('base64url')}`;
  const alone = await postWithHeaders({ 'x-goog-iap-jwt-assertion': forged }, INIT);
  assert.equal(alone.status, 401);
  const t = await token('iapspoof@bank.example', ['analyst']);
  const both = await postWithHeaders({ 'x-goog-iap-jwt-assertion': forged, 'x-goog-authenticated-user-email': 'accounts.google.com:boss@bank.example', authorization: `Bearer ${t}` }, INIT);
  assert.equal(both.status, 200, both.text);
  const sid = both.headers['mcp-session-id'] as string;
  const ev = await waitForEvent(rs.stack.dataDir, (e) => e.event_type === 'session_start' && e.session_id === sid);
  assert.equal(ev?.actor_email, 'iapspoof@bank.example');
  assert.deepEqual(ev?.actor_roles, ['analyst']);
});

test('identity: X-Forwarded-For is not trusted (trustProxy off): the audit keeps the real peer address', async () => {
  const t = await token('xff@bank.example', ['analyst']);
  const r = await postWithHeaders({ authorization: `Bearer ${t}`, 'x-forwarded-for': '6.6.6.6', forwarded: 'for=6.6.6.6' }, INIT);
  assert.equal(r.status, 200);
  const sid = r.headers['mcp-session-id'] as string;
  const ev = await waitForEvent(rs.stack.dataDir, (e) => e.event_type === 'session_start' && e.session_id === sid);
  assert.ok(ev);
  assert.notEqual(ev.source_ip, '6.6.6.6');
  assert.match(String(ev.source_ip), /127\.0\.0\.1/);
});

test('identity: a token for the same subject but other groups cannot widen an existing session beyond what its new token grants', async () => {
  // Roles are evaluated per request from the token presented with it, so the check here is that
  // a stale, wider token is not remembered by the session.
  const wide = await token('shift@bank.example', ['pii-reader']);
  const narrow = await token('shift@bank.example', ['analyst']);
  const sid = await rawSession(url, wide);
  const r = await raw(url, call('execute_sql', { sql: SSN_QUERY }), { token: narrow, sessionId: sid });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(findLeaks(r.messages), [], 'the analyst token on a session opened with a pii-reader token still gets masked data');
});

test('every audit event on disk from this file is well-formed enough to scan (sanity for the other checks)', () => {
  const events = auditEvents(rs.stack.dataDir);
  assert.ok(events.length > 20, `${events.length} events`);
  assert.ok(events.some((e) => e.event_type === 'http_error'));
});
