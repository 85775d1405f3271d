// Red team, approvals: an engineer tries to run a change that needs approval without a valid
// one — by editing the approved statement (whitespace, comments, case, extra arguments), by
// having someone else replay it, by approving it themselves (directly, through a second group,
// through a second account with the same email), by running it twice concurrently on one
// approval, and by approving with roles that may not approve. Judged by the database: the
// row an unapproved statement would change must stay as it was.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { startStack, rowsOf, type TestStack } from '../helpers/gateway.js';
import { CookieJar, walkDemoLogin } from '../helpers/oauth.js';

type Result = { content?: { type: string; text?: string }[]; isError?: boolean };

let stack: TestStack;
let eve: Client;
let reader: Client;
let wired = true;

before(async () => {
  // No waiting: a held call answers "pending" at once.
  stack = await startStack({ config: { approvals: { wait: { enabled: false } } } });
  const probe = await fetch(`${stack.url}/approvals`);
  wired = probe.status !== 404;
  eve = await stack.client('eve@bank.example', ['engineer']);
  reader = await stack.client('reader@bank.example', ['pii-reader']);
});
after(async () => {
  await stack?.stop();
});

const text = (r: Result) => (r.content ?? []).map((c) => c.text ?? '').join('\n');
const approvalIdOf = (r: Result) => /apr-[a-z0-9]+/.exec(text(r))?.[0] ?? null;

async function run(client: Client, sql: string, extra: Record<string, unknown> = {}): Promise<Result> {
  try {
    return (await client.callTool({ name: 'execute_sql', arguments: { sql, ...extra } }, undefined, { timeout: 60_000 })) as Result;
  } catch (err) {
    return { isError: true, content: [{ type: 'text', text: (err as Error).message }] };
  }
}

async function api(user: string, groups: string[], method: 'GET' | 'POST', path: string, body?: unknown) {
  const token = await stack.token(user, groups);
  const res = await fetch(`${stack.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, json: (await res.json().catch(() => ({}))) as Record<string, any> };
}

const approve = (user: string, groups: string[], id: string) => api(user, groups, 'POST', `/approvals/${id}/approve`, { reason: 'looks fine' });

async function txnExists(id: number): Promise<boolean> {
  return rowsOf(await reader.callTool({ name: 'execute_sql', arguments: { sql: `SELECT count(*) AS n FROM transactions WHERE txn_id = ${id}` } }))[0]?.n === 1;
}

async function amount(id: number): Promise<number> {
  return Number(rowsOf(await reader.callTool({ name: 'execute_sql', arguments: { sql: `SELECT amount FROM transactions WHERE txn_id = ${id}` } }))[0]?.amount);
}

/** Eve asks for `sql`; an approver approves it; returns the approval id. */
async function approvedRequest(sql: string, requester: Client = eve): Promise<string> {
  const first = await run(requester, sql);
  assert.equal(first.isError, true, `held, not run: ${text(first)}`);
  const id = approvalIdOf(first);
  assert.ok(id, `an approval id in: ${text(first)}`);
  const ok = await approve('bob@bank.example', ['approver'], id);
  assert.equal(ok.status, 200, JSON.stringify(ok.json));
  return id;
}

test('approved DELETE cannot be run in an edited form (whitespace, comment, case, extra clause, extra argument)', async (t) => {
  if (!wired) return t.skip('approvals are not wired into the gateway (src/server/app.ts)');
  const approved = 'DELETE FROM transactions WHERE txn_id = 101';
  await approvedRequest(approved);
  const edits = [
    'DELETE  FROM transactions WHERE txn_id = 101',
    'DELETE FROM transactions WHERE txn_id = 101 -- approved',
    '/* ok */ DELETE FROM transactions WHERE txn_id = 101',
    'delete from transactions where txn_id = 101',
    'DELETE FROM transactions WHERE txn_id = 101 OR txn_id = 102',
    'DELETE FROM transactions WHERE txn_id = 101;',
    'DELETE FROM transactions WHERE txn_id = 101; DELETE FROM transactions WHERE txn_id = 102',
    'DELETE FROM transactions WHERE txn_id = 101\n',
  ];
  for (const sql of edits) {
    const r = await run(eve, sql);
    assert.equal(r.isError, true, `edited statement ran on the approval: ${JSON.stringify(sql)} → ${text(r).slice(0, 200)}`);
  }
  const extraArg = await run(eve, approved, { dry_run: false });
  assert.equal(extraArg.isError, true, 'changed arguments ran on the approval');
  assert.ok(await txnExists(101), 'row 101 still there: nothing but the exact approved call may consume it');
  assert.ok(await txnExists(102), 'row 102 still there');
  // The exact call still works once (the defence is binding, not breakage).
  const exact = await run(eve, approved);
  assert.notEqual(exact.isError, true, text(exact));
  assert.equal(await txnExists(101), false);
});

test("another engineer replaying eve's approved statement does not consume eve's approval", async (t) => {
  if (!wired) return t.skip('approvals are not wired into the gateway');
  const sql = 'DELETE FROM transactions WHERE txn_id = 111';
  await approvedRequest(sql);
  const mallory = await stack.client('mallory@bank.example', ['engineer']);
  const replay = await run(mallory, sql);
  assert.equal(replay.isError, true, `mallory ran eve's approved statement: ${text(replay)}`);
  assert.ok(await txnExists(111));
  // Same email, different subject (a second account of another person cannot claim it either).
  const lookalike = await stack.client('eve@bank.example.evil', ['engineer']);
  assert.equal((await run(lookalike, sql)).isError, true);
  assert.ok(await txnExists(111));
});

test('an approved statement runs once: a replay after execution and two concurrent runs do not double-apply', async (t) => {
  if (!wired) return t.skip('approvals are not wired into the gateway');
  const before = await amount(121);
  const sql = 'UPDATE transactions SET amount = amount + 1000 WHERE txn_id = 121';
  await approvedRequest(sql);
  const eve2 = await stack.client('eve@bank.example', ['engineer']);
  const [a, b] = await Promise.all([run(eve, sql), run(eve2, sql)]);
  const ran = [a, b].filter((r) => r.isError !== true).length;
  assert.equal(ran, 1, `exactly one concurrent run executes (${text(a).slice(0, 100)} | ${text(b).slice(0, 100)})`);
  const again = await run(eve, sql);
  assert.equal(again.isError, true, 'a replay after execution is held again');
  assert.equal(await amount(121), before + 1000, 'applied exactly once');
});

test('self-approval is refused: directly, via a second group, and via a second account with the same email in another case', async (t) => {
  if (!wired) return t.skip('approvals are not wired into the gateway');
  const both = await stack.client('erin@bank.example', ['engineer', 'approver']);
  const sql = 'DELETE FROM transactions WHERE txn_id = 131';
  const first = await run(both, sql);
  const id = approvalIdOf(first);
  assert.ok(id, text(first));
  const self = await approve('erin@bank.example', ['engineer', 'approver'], id);
  assert.equal(self.status, 403, `self-approval: ${JSON.stringify(self.json)}`);
  const selfApproverOnly = await approve('erin@bank.example', ['approver'], id);
  assert.equal(selfApproverOnly.status, 403, `self-approval with only the approver group: ${JSON.stringify(selfApproverOnly.json)}`);
  const otherCase = await approve('ERIN@bank.example', ['approver'], id);
  assert.equal(otherCase.status, 403, `same email, other subject: ${JSON.stringify(otherCase.json)}`);
  assert.equal((await run(both, sql)).isError, true);
  assert.ok(await txnExists(131));
});

test('approval by roles that may not approve (engineer, analyst, examiner, no role) is refused', async (t) => {
  if (!wired) return t.skip('approvals are not wired into the gateway');
  const sql = 'DELETE FROM transactions WHERE txn_id = 141';
  const id = approvalIdOf(await run(eve, sql));
  assert.ok(id);
  for (const [user, groups] of [
    ['mallory@bank.example', ['engineer']],
    ['dave@bank.example', ['analyst']],
    ['exam@ffiec.example', ['examiner']],
    ['nobody@bank.example', []],
    ['groupie@bank.example', ['Approver']],
    ['groupie2@bank.example', ['approver ']],
  ] as [string, string[]][]) {
    const r = await approve(user, groups, id);
    assert.ok(r.status === 403 || r.status === 404, `${user} ${groups.join(',')}: ${r.status} ${JSON.stringify(r.json)}`);
  }
  assert.equal((await run(eve, sql)).isError, true);
  assert.ok(await txnExists(141));
});

test('a two-approval change (DROP) is not satisfied by one approver twice or by one approver under two accounts with one email', async (t) => {
  if (!wired) return t.skip('approvals are not wired into the gateway');
  const sql = 'DROP TABLE IF EXISTS redteam_scratch';
  const id = approvalIdOf(await run(eve, sql));
  assert.ok(id);
  assert.equal((await approve('bob@bank.example', ['approver'], id)).status, 200);
  const twice = await approve('bob@bank.example', ['approver'], id);
  assert.notEqual(twice.status, 200, 'the same approver counted twice');
  const alias = await approve('BOB@bank.example', ['approver'], id);
  assert.notEqual(alias.status, 200, 'the same approver counted twice under a second subject with the same email');
  const r = await run(eve, sql);
  assert.equal(r.isError, true, `ran with one distinct approver: ${text(r)}`);
});

test('approving with a forged statement hash, or a made-up id, is refused', async (t) => {
  if (!wired) return t.skip('approvals are not wired into the gateway');
  const sql = 'DELETE FROM transactions WHERE txn_id = 151';
  const id = approvalIdOf(await run(eve, sql));
  assert.ok(id);
  const forged = await api('bob@bank.example', ['approver'], 'POST', `/approvals/${id}/approve`, { reason: 'x', sql_sha256: '0'.repeat(64) });
  assert.ok(forged.status >= 400, `approved with a hash of another statement: ${forged.status}`);
  const madeUp = await approve('bob@bank.example', ['approver'], 'apr-aaaaaaaaaaaa');
  assert.ok(madeUp.status === 404 || madeUp.status === 400, String(madeUp.status));
  assert.ok(await txnExists(151), 'nothing ran on a refused approval');
  // Extra body fields (a different statement) are either refused or ignored: the approval still
  // binds the statement the engineer asked for, never one named by the approver's request.
  const total = async () => Number(rowsOf(await reader.callTool({ name: 'execute_sql', arguments: { sql: 'SELECT count(*) AS n FROM transactions' } }))[0]?.n);
  const before = await total();
  const injected = await api('bob@bank.example', ['approver'], 'POST', `/approvals/${id}/approve`, { reason: 'x', sql: 'DELETE FROM transactions' });
  if (injected.status === 200) {
    const r = await run(eve, sql);
    assert.notEqual(r.isError, true, text(r));
    assert.equal(await total(), before - 1, "exactly the approved row went, not the statement in the approver's body");
  } else {
    assert.ok(injected.status >= 400);
    assert.ok(await txnExists(151));
  }
});

test('the approvals API refuses requests without a valid token and an approval id cannot be used as a bearer', async (t) => {
  if (!wired) return t.skip('approvals are not wired into the gateway');
  const id = approvalIdOf(await run(eve, 'DELETE FROM transactions WHERE txn_id = 161'));
  assert.ok(id);
  for (const auth of [undefined, `Bearer ${id}`, 'Bearer x.y.z']) {
    const res: Response = await fetch(`${stack.url}/approvals/${id}/approve`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) },
      body: JSON.stringify({ reason: 'x' }),
    });
    assert.equal(res.status, 401);
  }
  assert.ok(await txnExists(161));
});

/** A browser session on the review UI: its cookie and the CSRF token of the detail page. */
async function uiSession(user: string, id: string): Promise<{ cookie: string; csrf: string; sha: string }> {
  const token = await stack.token(user, ['approver']);
  const res = await fetch(`${stack.url}/approvals/ui/${id}`, { headers: { authorization: `Bearer ${token}`, accept: 'text/html' }, redirect: 'manual' });
  const html = await res.text();
  const cookie = res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
  const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';
  const sha = /name="sql_sha256" value="([0-9a-f]{64})"/.exec(html)?.[1] ?? '';
  assert.ok(cookie && csrf && sha, `review page for ${user}: ${res.status}`);
  return { cookie, csrf, sha };
}

async function uiPost(path: string, form: Record<string, string>, headers: Record<string, string>): Promise<Response> {
  return fetch(`${stack.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(form).toString(), redirect: 'manual' });
}

test("review UI: approve form posts without the CSRF token, with another session's token, or from another origin are refused", async (t) => {
  if (!wired) return t.skip('approvals are not wired into the gateway');
  const sql = 'DELETE FROM transactions WHERE txn_id = 171';
  const id = approvalIdOf(await run(eve, sql));
  assert.ok(id);
  const bob = await uiSession('bob@bank.example', id);
  const carol = await uiSession('carol@bank.example', id);
  const path = `/approvals/ui/${id}/approve`;
  const attempts: [string, Record<string, string>, Record<string, string>][] = [
    ['no csrf', { reason: 'x', sql_sha256: bob.sha }, { cookie: bob.cookie }],
    ['csrf of another session', { reason: 'x', sql_sha256: bob.sha, csrf: carol.csrf }, { cookie: bob.cookie }],
    ['evil origin', { reason: 'x', sql_sha256: bob.sha, csrf: bob.csrf }, { cookie: bob.cookie, origin: 'http://evil.example' }],
    ['null origin', { reason: 'x', sql_sha256: bob.sha, csrf: bob.csrf }, { cookie: bob.cookie, origin: 'null' }],
    ['no cookie (csrf alone)', { reason: 'x', sql_sha256: bob.sha, csrf: bob.csrf }, {}],
  ];
  for (const [name, form, headers] of attempts) {
    const r = await uiPost(path, form, headers);
    assert.ok(r.status === 401 || r.status === 403, `${name}: ${r.status}`);
  }
  assert.equal((await run(eve, sql)).isError, true, 'still pending after the forged posts');
  assert.ok(await txnExists(171));
  // The genuine form works (the guards are not just breakage).
  const ok = await uiPost(path, { reason: 'reviewed', sql_sha256: bob.sha, csrf: bob.csrf }, { cookie: bob.cookie, origin: stack.url });
  assert.equal(ok.status, 303);
});

test('review UI: sign-in does not redirect off-site (next=//evil.example and friends)', async (t) => {
  if (!wired) return t.skip('approvals are not wired into the gateway');
  for (const next of ['//evil.example', 'https://evil.example/approvals/ui', '/approvals/ui/../../evil', '/\\evil.example', '/approvals/ui@evil.example', '/approvals/ui/%2F%2Fevil.example']) {
    const jar = new CookieJar();
    const callback = await walkDemoLogin(`${stack.url}/auth/login?next=${encodeURIComponent(next)}`, { user: 'bob@bank.example', groups: ['approver'] }, `${stack.url}/auth/callback`, jar);
    const r = await fetch(callback, { headers: { cookie: jar.header(callback) }, redirect: 'manual' });
    assert.equal(r.status, 303, `${next}: ${r.status}`);
    const loc = r.headers.get('location') ?? '';
    assert.ok(/^\/(approvals\/ui|console)/.test(loc) && !loc.startsWith('//') && !loc.includes('evil'), `${next} → ${loc}`);
  }
});
