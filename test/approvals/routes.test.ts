// The HTTP API and the web page on a minimal Fastify app: bearer auth, visibility, decisions,
// session cookie, CSRF, same-origin posts, and escaping of attacker-controlled text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import type { IncomingHttpHeaders } from 'node:http';
import { AuthError, type Identity } from '../../src/identity/types.js';
import { held, identity, setup } from './helpers.js';
import { testWeb } from '../helpers/web.js';

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
  const id = TOKENS[m[1]!];
  if (!id) throw new AuthError('bad_signature', 'token signature does not verify');
  return id;
}

async function app() {
  const s = await setup();
  const fastify = Fastify();
  const web = testWeb(authenticate, s.audit);
  await web.routes(fastify);
  await s.approvals.routes(fastify, { authenticate, web });
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
  assert.deepEqual(
    bobList.approvals.map((a: { id: string }) => a.id),
    [r.approvalId],
  );
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

/** The cookies a browser would keep from a response (name=value pairs). */
function cookiesOf(res: { headers: Record<string, unknown> }, prev = ''): string {
  const raw = res.headers['set-cookie'];
  const jar = new Map(prev ? prev.split('; ').map((c) => c.split('=', 2) as [string, string]) : []);
  for (const c of Array.isArray(raw) ? raw : raw ? [String(raw)] : []) {
    const [pair] = c.split(';');
    const i = pair.indexOf('=');
    if (/Max-Age=0|Expires=Thu, 01 Jan 1970/i.test(c)) jar.delete(pair.slice(0, i));
    else jar.set(pair.slice(0, i), pair.slice(i + 1));
  }
  return [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
}

const form = (o: Record<string, string>) => new URLSearchParams(o).toString();
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const ORIGIN = 'http://127.0.0.1:8080';

test('web page: header sign-in sets a Lax HttpOnly session cookie; CSRF and cross-origin posts are refused; approval works', async () => {
  const { fastify, gate, service, audit } = await app();
  const r = await gate.check(held('eve@bank.example', DELETE));

  const anon = await fastify.inject({ method: 'GET', url: '/approvals/ui' });
  assert.equal(anon.statusCode, 401, 'no sign-in configured here: nobody gets in without a credential');
  assert.match(anon.body, /no browser sign-in configured/);
  assert.match(String(anon.headers['content-security-policy']), /default-src 'none'/);
  assert.equal(anon.headers['x-frame-options'], 'DENY');
  assert.equal(anon.headers['referrer-policy'], 'same-origin');

  const refused = await fastify.inject({ method: 'GET', url: '/approvals/ui', headers: bearer('forged') });
  assert.equal(refused.statusCode, 401);
  assert.equal(refused.headers['set-cookie'], undefined);
  assert.equal(audit.ofType('auth_failure').at(-1)!.mcp_method, 'approvals/ui');
  assert.equal(audit.ofType('auth_failure').at(-1)!.error_code, 'bad_signature');

  const signedIn = await fastify.inject({ method: 'GET', url: `/approvals/ui/${r.approvalId}`, headers: bearer('tok-bob') });
  assert.equal(signedIn.statusCode, 200);
  const setCookie = ([] as string[]).concat(signedIn.headers['set-cookie'] as string[]).find((c) => c.startsWith('bqw_session='))!;
  assert.match(setCookie, /HttpOnly/);
  assert.match(setCookie, /SameSite=Lax/);
  assert.match(setCookie, /Path=\//);
  const cookie = cookiesOf(signedIn);
  const csrf = /name="csrf" value="([^"]+)"/.exec(signedIn.body)![1]!;
  const sha = /name="sql_sha256" value="([0-9a-f]{64})"/.exec(signedIn.body)![1]!;

  const list = await fastify.inject({ method: 'GET', url: '/approvals/ui', headers: { cookie } });
  assert.match(list.body, new RegExp(r.approvalId));

  const post = (headers: Record<string, string>, body: Record<string, string>) =>
    fastify.inject({ method: 'POST', url: `/approvals/ui/${r.approvalId}/approve`, headers: { ...FORM, ...headers }, payload: form(body) });
  assert.equal((await post({ cookie, origin: ORIGIN }, { reason: 'ok', sql_sha256: sha })).statusCode, 403, 'no CSRF token');
  assert.equal((await post({ cookie, origin: ORIGIN }, { reason: 'ok', sql_sha256: sha, csrf: csrf.slice(1) + 'x' })).statusCode, 403, 'wrong CSRF token');
  assert.equal((await post({ cookie, origin: 'https://evil.example' }, { reason: 'ok', sql_sha256: sha, csrf })).statusCode, 403, 'another origin');
  assert.equal((await post({ cookie, origin: 'null' }, { reason: 'ok', sql_sha256: sha, csrf })).statusCode, 403, 'opaque origin');
  assert.equal((await post({ origin: ORIGIN }, { reason: 'ok', sql_sha256: sha, csrf })).statusCode, 401, 'no session cookie');
  assert.equal(service.get(r.approvalId)!.status, 'pending');

  const done = await post({ cookie, origin: ORIGIN }, { reason: 'checked', sql_sha256: sha, csrf });
  assert.equal(done.statusCode, 303);
  assert.equal(done.headers.location, `/approvals/ui/${r.approvalId}?done=approve`);
  assert.equal(service.get(r.approvalId)!.status, 'approved');
  assert.equal(service.get(r.approvalId)!.approvals[0]?.reason, 'checked');

  const out = await fastify.inject({ method: 'POST', url: '/auth/logout', headers: { ...FORM, cookie, origin: ORIGIN }, payload: form({ csrf }) });
  assert.equal(out.statusCode, 303);
  const after = await fastify.inject({ method: 'GET', url: '/approvals/ui', headers: { cookie: cookiesOf(out, cookie) } });
  assert.equal(after.statusCode, 401, 'session gone after sign-out');
  await fastify.close();
});

test('web page: the requester sees no approve button and a posted self-approval is refused', async () => {
  const { fastify, gate, service } = await app();
  const r = await gate.check(held('eve@bank.example', DELETE));
  const page = await fastify.inject({ method: 'GET', url: `/approvals/ui/${r.approvalId}`, headers: bearer('tok-eve') });
  const cookie = cookiesOf(page);
  assert.ok(!page.body.includes('id="approve"'));
  assert.match(page.body, /separation of duties/);
  const csrf = /name="csrf" value="([^"]+)"/.exec(page.body)![1]!;
  const post = await fastify.inject({
    method: 'POST',
    url: `/approvals/ui/${r.approvalId}/approve`,
    headers: { ...FORM, cookie, origin: ORIGIN },
    payload: form({ reason: 'mine', sql_sha256: service.get(r.approvalId)!.sqlSha256, csrf }),
  });
  assert.equal(post.statusCode, 403);
  assert.match(post.body, /separation of duties/);
  assert.equal(service.get(r.approvalId)!.status, 'pending');
  await fastify.close();
});

test('web page: SQL and justification are escaped (XSS attempt)', async () => {
  const { fastify, gate } = await app();
  const r = await gate.check(held('eve@bank.example', XSS_SQL, { justification: XSS_JUST }));
  const page = await fastify.inject({ method: 'GET', url: `/approvals/ui/${r.approvalId}`, headers: bearer('tok-bob') });
  assert.equal(page.statusCode, 200);
  assert.ok(!page.body.includes('<script>'), 'no script element injected');
  assert.ok(!page.body.includes('<img'), 'no img element injected');
  assert.ok(page.body.includes('&lt;/code&gt;&lt;/pre&gt;&lt;script&gt;alert(1)&lt;/script&gt;'));
  assert.ok(page.body.includes('&lt;img src=x onerror=alert(2)&gt; &quot;quoted&quot; &#39;single&#39;'));
  await fastify.close();
});
