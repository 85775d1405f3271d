// The HTTP API and the web page on a minimal Fastify app: bearer auth, visibility, decisions,
// session cookie, CSRF, same-origin posts, and escaping of attacker-controlled text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import type { IncomingHttpHeaders } from 'node:http';
import { AuthError, type Identity } from '../../src/identity/types.js';
import { held, identity, setup } from './helpers.js';

const DELETE = "DELETE FROM accounts WHERE account_id = 'A-4004'";
const XSS_SQL = "DELETE FROM accounts WHERE note = '</code></pre><script>alert(1)</script>'";
const XSS_JUST = '<img src=x onerror=alert(2)> "quoted" \'single\'';

const TOKENS: Record<string, Identity> = {
  'tok-eve': identity('eve@bank.example'),
  'tok-bob': identity('bob@bank.example'),
  'tok-carol': identity('carol@bank.example'),
  'tok-dave': identity('dave@bank.example'),
};

async function authenticate(headers: IncomingHttpHeaders): Promise<Identity> {
  const m = /^Bearer (.+)$/.exec(headers.authorization ?? '');
  if (!m) throw new AuthError('missing_token', 'no bearer token');
  const id = TOKENS[m[1]];
  if (!id) throw new AuthError('bad_signature', 'token signature does not verify');
  return id;
}

async function app() {
  const s = await setup();
  const fastify = Fastify();
  await s.approvals.routes(fastify, { authenticate });
  await fastify.ready();
  return { ...s, fastify };
}

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

test('API: auth, listing by visibility, detail with exact SQL, approve/reject with reasons', async () => {
  const { fastify, gate, audit, service } = await app();
  const r = await gate.check(held('eve@bank.example', DELETE));

  const anon = await fastify.inject({ method: 'GET', url: '/approvals' });
  assert.equal(anon.statusCode, 401);
  assert.equal(anon.headers['www-authenticate'], 'Bearer');
  const bad = await fastify.inject({ method: 'GET', url: '/approvals', headers: bearer('forged') });
  assert.equal(bad.statusCode, 401);
  assert.ok(audit.ofType('auth_failure').length >= 2, 'refused logins audited');

  const bobList = (await fastify.inject({ method: 'GET', url: '/approvals', headers: bearer('tok-bob') })).json();
  assert.deepEqual(bobList.approvals.map((a: { id: string }) => a.id), [r.approvalId]);
  assert.equal(bobList.approvals[0].sql_text, 'DELETE FROM accounts WHERE account_id = ?');
  assert.equal(bobList.approvals[0].exact_sql, undefined, 'exact text only in the detail view');
  const daveList = (await fastify.inject({ method: 'GET', url: '/approvals', headers: bearer('tok-dave') })).json();
  assert.deepEqual(daveList.approvals, [], 'an analyst sees nothing');
  assert.equal((await fastify.inject({ method: 'GET', url: `/approvals/${r.approvalId}`, headers: bearer('tok-dave') })).statusCode, 404);

  const detail = await fastify.inject({ method: 'GET', url: `/approvals/${r.approvalId}`, headers: bearer('tok-bob') });
  assert.equal(detail.statusCode, 200);
  const d = detail.json().approval;
  assert.equal(d.exact_sql, DELETE);
  assert.equal(d.can_approve, true);
  assert.equal(audit.ofType('console_access').at(-1)!.actor_email, 'bob@bank.example', 'who saw the exact text is recorded');
  const own = (await fastify.inject({ method: 'GET', url: `/approvals/${r.approvalId}`, headers: bearer('tok-eve') })).json().approval;
  assert.equal(own.can_approve, false);
  assert.match(own.why_not, /separation of duties/);

  const self = await fastify.inject({ method: 'POST', url: `/approvals/${r.approvalId}/approve`, headers: bearer('tok-eve'), payload: { reason: 'me' } });
  assert.equal(self.statusCode, 403);
  assert.equal(self.json().error, 'self_approval');
  const noReason = await fastify.inject({ method: 'POST', url: `/approvals/${r.approvalId}/approve`, headers: bearer('tok-bob'), payload: {} });
  assert.equal(noReason.statusCode, 400);
  const wrongSql = await fastify.inject({ method: 'POST', url: `/approvals/${r.approvalId}/approve`, headers: bearer('tok-bob'), payload: { reason: 'ok', sql_sha256: '0'.repeat(64) } });
  assert.equal(wrongSql.statusCode, 409);
  assert.equal(wrongSql.json().error, 'sql_mismatch');
  const badId = await fastify.inject({ method: 'POST', url: `/approvals/..%2F..%2Fetc/approve`, headers: bearer('tok-bob'), payload: { reason: 'ok' } });
  assert.ok(badId.statusCode === 400 || badId.statusCode === 404);

  const ok = await fastify.inject({ method: 'POST', url: `/approvals/${r.approvalId}/approve`, headers: bearer('tok-bob'), payload: { reason: 'confirmed', sql_sha256: d.sql_sha256 } });
  assert.equal(ok.statusCode, 200);
  assert.equal(ok.json().approval.status, 'approved');
  const late = await fastify.inject({ method: 'POST', url: `/approvals/${r.approvalId}/reject`, headers: bearer('tok-carol'), payload: { reason: 'actually no' } });
  assert.equal(late.statusCode, 200, 'an approved but unexecuted request can still be stopped');
  assert.equal(service.get(r.approvalId)!.status, 'rejected');
  await fastify.close();
});

function cookieOf(res: { headers: Record<string, unknown> }): string {
  const raw = res.headers['set-cookie'];
  const c = Array.isArray(raw) ? raw[0] : String(raw);
  return c;
}

const form = (o: Record<string, string>) => new URLSearchParams(o).toString();
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

test('web page: login sets a strict HttpOnly session cookie; CSRF and cross-origin posts are refused; approval works', async () => {
  const { fastify, gate, service } = await app();
  const r = await gate.check(held('eve@bank.example', DELETE));

  const login = await fastify.inject({ method: 'GET', url: '/approvals/ui' });
  assert.equal(login.statusCode, 200);
  assert.match(login.body, /name="token"/);
  assert.match(String(login.headers['content-security-policy']), /default-src 'none'/);
  assert.equal(login.headers['x-frame-options'], 'DENY');

  const refused = await fastify.inject({ method: 'POST', url: '/approvals/ui/login', headers: FORM, payload: form({ token: 'forged', next: '/approvals/ui' }) });
  assert.equal(refused.statusCode, 401);
  assert.equal(refused.headers['set-cookie'], undefined);

  const signedIn = await fastify.inject({ method: 'POST', url: '/approvals/ui/login', headers: FORM, payload: form({ token: 'tok-bob', next: 'https://evil.example/' }) });
  assert.equal(signedIn.statusCode, 303);
  assert.equal(signedIn.headers.location, '/approvals/ui', 'no open redirect');
  const setCookie = cookieOf(signedIn);
  assert.match(setCookie, /HttpOnly/);
  assert.match(setCookie, /SameSite=Strict/);
  assert.match(setCookie, /Path=\/approvals\/ui/);
  const cookie = setCookie.split(';')[0];

  const list = await fastify.inject({ method: 'GET', url: '/approvals/ui', headers: { cookie } });
  assert.match(list.body, new RegExp(r.approvalId));
  const page = await fastify.inject({ method: 'GET', url: `/approvals/ui/${r.approvalId}`, headers: { cookie } });
  assert.equal(page.statusCode, 200);
  const csrf = /name="csrf" value="([^"]+)"/.exec(page.body)![1];
  const sha = /name="sql_sha256" value="([0-9a-f]{64})"/.exec(page.body)![1];

  const noCsrf = await fastify.inject({ method: 'POST', url: `/approvals/ui/${r.approvalId}/approve`, headers: { ...FORM, cookie }, payload: form({ reason: 'ok', sql_sha256: sha }) });
  assert.equal(noCsrf.statusCode, 403);
  const wrongCsrf = await fastify.inject({ method: 'POST', url: `/approvals/ui/${r.approvalId}/approve`, headers: { ...FORM, cookie }, payload: form({ reason: 'ok', sql_sha256: sha, csrf: csrf.slice(1) + 'x' }) });
  assert.equal(wrongCsrf.statusCode, 403);
  const crossSite = await fastify.inject({ method: 'POST', url: `/approvals/ui/${r.approvalId}/approve`, headers: { ...FORM, cookie, origin: 'https://evil.example' }, payload: form({ reason: 'ok', sql_sha256: sha, csrf }) });
  assert.equal(crossSite.statusCode, 403);
  const noCookie = await fastify.inject({ method: 'POST', url: `/approvals/ui/${r.approvalId}/approve`, headers: FORM, payload: form({ reason: 'ok', sql_sha256: sha, csrf }) });
  assert.equal(noCookie.statusCode, 401);
  assert.equal(service.get(r.approvalId)!.status, 'pending');

  const done = await fastify.inject({
    method: 'POST',
    url: `/approvals/ui/${r.approvalId}/approve`,
    headers: { ...FORM, cookie, origin: 'http://127.0.0.1:8080' },
    payload: form({ reason: 'checked', sql_sha256: sha, csrf }),
  });
  assert.equal(done.statusCode, 303);
  assert.equal(done.headers.location, `/approvals/ui/${r.approvalId}?done=approve`);
  assert.equal(service.get(r.approvalId)!.status, 'approved');
  assert.equal(service.get(r.approvalId)!.approvals[0].reason, 'checked');

  const out = await fastify.inject({ method: 'POST', url: '/approvals/ui/logout', headers: { ...FORM, cookie }, payload: form({ csrf }) });
  assert.equal(out.statusCode, 303);
  const after = await fastify.inject({ method: 'GET', url: '/approvals/ui', headers: { cookie } });
  assert.match(after.body, /name="token"/, 'session gone after logout');
  await fastify.close();
});

test('web page: the requester sees no approve button and a posted self-approval is refused', async () => {
  const { fastify, gate, service } = await app();
  const r = await gate.check(held('eve@bank.example', DELETE));
  const cookie = cookieOf(await fastify.inject({ method: 'POST', url: '/approvals/ui/login', headers: FORM, payload: form({ token: 'tok-eve' }) })).split(';')[0];
  const page = await fastify.inject({ method: 'GET', url: `/approvals/ui/${r.approvalId}`, headers: { cookie } });
  assert.ok(!page.body.includes('id="approve"'));
  assert.match(page.body, /separation of duties/);
  const csrf = /name="csrf" value="([^"]+)"/.exec(page.body)![1];
  const post = await fastify.inject({ method: 'POST', url: `/approvals/ui/${r.approvalId}/approve`, headers: { ...FORM, cookie }, payload: form({ reason: 'mine', sql_sha256: service.get(r.approvalId)!.sqlSha256, csrf }) });
  assert.equal(post.statusCode, 403);
  assert.match(post.body, /separation of duties/);
  assert.equal(service.get(r.approvalId)!.status, 'pending');
  await fastify.close();
});

test('web page: SQL and justification are escaped (XSS attempt)', async () => {
  const { fastify, gate } = await app();
  const r = await gate.check(held('eve@bank.example', XSS_SQL, { justification: XSS_JUST }));
  const cookie = cookieOf(await fastify.inject({ method: 'POST', url: '/approvals/ui/login', headers: FORM, payload: form({ token: 'tok-bob' }) })).split(';')[0];
  const page = await fastify.inject({ method: 'GET', url: `/approvals/ui/${r.approvalId}`, headers: { cookie } });
  assert.equal(page.statusCode, 200);
  assert.ok(!page.body.includes('<script>'), 'no script element injected');
  assert.ok(!page.body.includes('<img'), 'no img element injected');
  assert.ok(page.body.includes('&lt;/code&gt;&lt;/pre&gt;&lt;script&gt;alert(1)&lt;/script&gt;'));
  assert.ok(page.body.includes('&lt;img src=x onerror=alert(2)&gt; &quot;quoted&quot; &#39;single&#39;'));
  await fastify.close();
});
