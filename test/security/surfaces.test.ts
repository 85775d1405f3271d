// Red team, the gateway's other surfaces, against the real stack: MCP methods beyond tools,
// the unauthenticated /metrics endpoint (label injection and cardinality), and stored XSS —
// attacker-chosen text (tool names, User-Agent, client name, SQL comments, justifications)
// rendered in the examiner console and the approver's review page, where a script running in
// an approver's browser could approve its own author's change.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateBank } from '../../src/demo/dataset.js';
import { startRecordedStack, type RecordedStack } from './stack.js';
import { auditEvents, call, raw, rawSession, responseOf } from './helpers.js';
import { CookieJar, walkDemoLogin } from '../helpers/oauth.js';
import { at } from '../helpers/present.js';

const SSN = at(generateBank().customers, 2, 'demo customer').ssn;
const XSS = ['<script>alert(1)</script>', '<img src=x onerror=alert(2)>', '"><svg onload=alert(3)>', "'-alert(4)-'", '</textarea><script>alert(5)</script>'];

let rs: RecordedStack;
let url: string;

before(async () => {
  rs = await startRecordedStack();
  url = rs.stack.mcpUrl;
});
after(async () => {
  await rs?.stop();
});

async function get(path: string, user: string, groups: string[]): Promise<{ status: number; text: string; headers: Headers }> {
  const token = await rs.stack.token(user, groups);
  const res = await fetch(`${rs.stack.url}${path}`, { headers: { authorization: `Bearer ${token}`, accept: 'text/html' }, redirect: 'manual' });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

/** Raw payload text that would run as markup if the page did not escape it. */
function unescaped(html: string): string[] {
  return XSS.filter((x) => /[<>]/.test(x) && html.includes(x));
}

test('MCP methods beyond tools (resources, prompts, completion, sampling, logging, tasks, made-up) are refused for an analyst, audited, never forwarded', async () => {
  const token = await rs.stack.token('methods@bank.example', ['analyst']);
  const sid = await rawSession(url, token);
  const mark = rs.proxy.requests.length;
  const methods: [string, Record<string, unknown>][] = [
    ['resources/list', {}],
    ['resources/read', { uri: 'file:///etc/passwd' }],
    ['resources/templates/list', {}],
    ['prompts/list', {}],
    ['prompts/get', { name: 'x' }],
    ['completion/complete', { ref: { type: 'ref/prompt', name: 'x' }, argument: { name: 'a', value: 'b' } }],
    ['sampling/createMessage', { messages: [], maxTokens: 1 }],
    ['elicitation/create', { message: 'x', requestedSchema: { type: 'object', properties: {} } }],
    ['logging/setLevel', { level: 'debug' }],
    ['tasks/list', {}],
    ['bqwarden/admin', { grant: 'pii-reader' }],
    ['tools/call ', { name: 'execute_sql', arguments: { sql: 'SELECT 1' } }],
    ['TOOLS/CALL', { name: 'execute_sql', arguments: { sql: 'SELECT 1' } }],
  ];
  for (const [method, params] of methods) {
    const r = await raw(url, { jsonrpc: '2.0', id: `m-${method}`, method, params }, { token, sessionId: sid });
    const msg = responseOf(r);
    assert.ok(msg?.error, `${method} was not refused: ${r.status} ${r.text.slice(0, 200)}`);
  }
  const forwarded = rs.upstreamBodiesSince(mark).map((b) => {
    try {
      return JSON.parse(b).method as string;
    } catch {
      return '';
    }
  });
  assert.deepEqual(
    forwarded.filter((m) => methods.some(([x]) => x === m)),
    [],
    'refused methods reached the upstream',
  );
  const denied = auditEvents(rs.stack.dataDir).filter((e) => e.session_id === sid && e.decision === 'deny');
  assert.ok(denied.length >= 8, `refusals audited (${denied.length})`);
});

test('/metrics (unauthenticated) never shows client-chosen text (an SSN in a made-up method name)', async () => {
  const token = await rs.stack.token('metrics@bank.example', ['analyst']);
  const sid = await rawSession(url, token);
  await raw(url, { jsonrpc: '2.0', id: 1, method: `x/${SSN}`, params: {} }, { token, sessionId: sid });
  const text = await (await fetch(`${rs.stack.url}/metrics`)).text();
  assert.ok(!text.includes(SSN), 'client text (an SSN in a method name) is published on /metrics');
});

test('/metrics: client-chosen method names cannot grow its series without bound', async () => {
  const token = await rs.stack.token('metrics2@bank.example', ['analyst']);
  const sid = await rawSession(url, token);
  for (let i = 0; i < 200; i++) await raw(url, { jsonrpc: '2.0', id: 100 + i, method: `spam/${i}`, params: {} }, { token, sessionId: sid });
  const text = await (await fetch(`${rs.stack.url}/metrics`)).text();
  const series = text.split('\n').filter((l) => l.startsWith('bqwarden_mcp_requests_total{')).length;
  assert.ok(series < 50, `bqwarden_mcp_requests_total has ${series} series after 200 made-up method names`);
});

test('examiner console: non-examiners are refused (403), strangers get the login page, never audit data', async () => {
  for (const [user, groups] of [
    ['an@bank.example', ['analyst']],
    ['pr@bank.example', ['pii-reader']],
    ['ap@bank.example', ['approver']],
    ['en@bank.example', ['engineer']],
  ] as [string, string[]][]) {
    const r = await get('/console/events', user, groups);
    assert.equal(r.status, 403, `${groups}: ${r.status}`);
    assert.ok(!r.text.includes('mcp_request'), 'no events listed');
  }
  const anon = await fetch(`${rs.stack.url}/console/events`, { redirect: 'manual' });
  assert.ok(!(await anon.text()).includes('session_start'), 'no events for a stranger');
  const forged = await fetch(`${rs.stack.url}/console/events`, { headers: { authorization: 'Bearer a.b.c' }, redirect: 'manual' });
  assert.equal(forged.status, 401);
});

test('login CSRF: another site cannot sign the examiner in as someone else', async () => {
  const base = rs.stack.url;
  // Attack 1: the attacker signs in as themself and sends the victim the callback URL (with
  // the attacker's code). The victim's browser has no sign-in of its own in flight.
  const attacker = new CookieJar();
  const planted = await walkDemoLogin(`${base}/auth/login?next=/console`, { user: 'mallory@bank.example', groups: ['examiner'] }, `${base}/auth/callback`, attacker);
  const victim = await fetch(planted, { redirect: 'manual' });
  assert.equal(victim.status, 401);
  assert.equal(
    victim.headers.getSetCookie().some((c) => c.startsWith('bqw_session=') && !/Max-Age=0/.test(c)),
    false,
    'no session planted',
  );
  // Attack 2: the victim did start a sign-in (a flow cookie of their own); the attacker's code does not match its state.
  const own = new CookieJar();
  const start = await fetch(`${base}/auth/login?next=/console`, { redirect: 'manual' });
  own.store(new URL(base), start.headers);
  const mixed = await fetch(planted, { headers: { cookie: own.header(planted) }, redirect: 'manual' });
  assert.equal(mixed.status, 401);
  // Attack 3: a cross-site page posts the demo login form (its Origin is the attacker's).
  const page = await fetch(`${base}/auth/login?next=/console`, { redirect: 'manual' });
  const jar = new CookieJar();
  jar.store(new URL(base), page.headers);
  let url = new URL(page.headers.get('location')!, base);
  for (let i = 0; i < 5 && !url.pathname.includes('/interaction/'); i++) {
    const r = await fetch(url, { headers: { cookie: jar.header(url) }, redirect: 'manual' });
    jar.store(url, r.headers);
    url = new URL(r.headers.get('location')!, url);
  }
  const form = await fetch(url, { headers: { cookie: jar.header(url) } });
  const csrf = /name="csrf" value="([^"]+)"/.exec(await form.text())![1]!;
  jar.store(url, form.headers);
  const cross = await fetch(url, {
    method: 'POST',
    headers: { cookie: jar.header(url), origin: 'http://evil.example', 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ csrf, user: 'mallory@bank.example', groups: 'examiner' }).toString(),
    redirect: 'manual',
  });
  assert.equal(cross.status, 403);
  const failures = auditEvents(rs.stack.dataDir).filter((e) => e.event_type === 'auth_failure' && e.mcp_method === 'web/sign-in');
  assert.ok(failures.length >= 2, 'refused sign-ins are audited');
});

test('stored XSS: attacker text in tool names, User-Agent, client name and SQL is escaped in the examiner console', async () => {
  const token = await rs.stack.token('xss@bank.example', ['analyst']);
  const init = await raw(
    url,
    { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: at(XSS, 2, 'xss payload'), version: at(XSS, 1, 'xss payload') } } },
    { token, headers: { 'user-agent': at(XSS, 0, 'xss payload') } },
  );
  const sid = init.headers.get('mcp-session-id')!;
  assert.ok(sid);
  for (const x of XSS) {
    await raw(url, call(x, { sql: 'SELECT 1' }), { token, sessionId: sid, headers: { 'user-agent': x } });
    await raw(url, call('execute_sql', { sql: `SELECT 1 AS one /* ${x} */`, justification: x }), { token, sessionId: sid, headers: { 'user-agent': x } });
  }
  await new Promise((r) => setTimeout(r, 700)); // the console index refreshes every 500 ms
  const pages = ['/console/events', `/console/events?actor=${encodeURIComponent('xss@bank.example')}`, `/console/sessions/${sid}`];
  const ev = auditEvents(rs.stack.dataDir).filter((e) => e.session_id === sid && e.event_type === 'mcp_request');
  for (const e of ev.slice(0, 6)) pages.push(`/console/events/${e.chain_id}/${e.seq}`);
  let seen = 0;
  for (const p of pages) {
    const r = await get(p, 'exam-xss@ffiec.example', ['examiner']);
    if (r.status !== 200) continue;
    seen++;
    assert.deepEqual(unescaped(r.text), [], `${p} renders attacker markup unescaped`);
    assert.match(r.headers.get('content-security-policy') ?? '', /script-src|default-src/, `${p} has a CSP`);
  }
  assert.ok(seen >= 3, `console pages reachable for the examiner (${seen})`);
});

test("stored XSS: an engineer's SQL comments and justification are escaped on the approver's review page", async (t) => {
  const probe = await fetch(`${rs.stack.url}/approvals`);
  if (probe.status === 404) return t.skip('approvals are not wired into the gateway');
  const token = await rs.stack.token('xss-eng@bank.example', ['engineer']);
  const sid = await rawSession(url, token);
  const ids: string[] = [];
  for (const [i, x] of XSS.entries()) {
    const r = await raw(url, call('execute_sql', { sql: `DELETE FROM transactions WHERE txn_id = ${200 + i} /* ${x} */ AND merchant <> '${x.replace(/'/g, "''")}'`, justification: x }), {
      token,
      sessionId: sid,
    });
    const id = /apr-[a-z0-9]+/.exec(r.text)?.[0];
    if (id) ids.push(id);
  }
  assert.ok(ids.length >= 3, `approval requests created (${ids.length})`);
  const approver = await rs.stack.token('xss-approver@bank.example', ['approver']);
  let seen = 0;
  for (const path of ['/approvals/ui', ...ids.map((id) => `/approvals/ui/${id}`)]) {
    const res = await fetch(`${rs.stack.url}${path}`, { headers: { authorization: `Bearer ${approver}`, accept: 'text/html' }, redirect: 'manual' });
    const html = await res.text();
    if (res.status !== 200) continue;
    seen++;
    assert.deepEqual(unescaped(html), [], `${path} renders attacker markup unescaped`);
    assert.match(res.headers.get('content-security-policy') ?? '', /script-src|default-src/);
  }
  assert.ok(seen >= 2, `review pages reachable for the approver (${seen})`);
});
