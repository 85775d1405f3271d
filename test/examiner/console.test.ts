// The examiner console over a seeded audit store: the index answers the examiner's
// questions, only the examiner role gets in, every access is itself audited, and in headless
// Chromium an examiner signs in, filters, and drills from a tile to an event to the replay.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, readFileSync, appendFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import Fastify from 'fastify';
import { startWebApp, testWeb, type WebApp } from '../helpers/web.js';
import { chromiumMissing, demoSignIn, launchChromium } from '../helpers/browser.js';
import { registerConsoleRoutes, type ConsoleHandle } from '../../src/console/routes.js';
import { AuditIndex } from '../../src/console/audit-index.js';
import { JsonlAuditStore } from '../../src/audit/store-jsonl.js';
import { approvalFlags, columnAccess, listEvents, overview, parseFilter } from '../../src/console/queries.js';
import { readEvents } from '../../src/audit/reader.js';
import type { AuditEvent } from '../../src/audit/event.js';
import { fakeAuthenticate, rolesFromGroups, seedAuditStore, SSN_COL, type Seeded } from './seed.js';
import { present, at, first } from '../helpers/present.js';

const day = (offset: number) => new Date(Date.now() - offset * 86_400_000).toISOString().slice(0, 10);
const DAYS: [string, string, string] = [day(3), day(2), day(1)];

let seed: Seeded;
let handle: ConsoleHandle;
let base: string;

let webApp: WebApp;

before(async () => {
  seed = await seedAuditStore(DAYS);
  // The gateway's wiring for the console: the demo authorization server and the real
  // authenticator; the fixed test tokens (tok-<email>-<group>) are accepted too, for the HTTP tests.
  webApp = await startWebApp(
    async (a, web) => {
      handle = await registerConsoleRoutes(a, { store: new JsonlAuditStore(seed.auditDir), web, rolesFor: rolesFromGroups, audit: seed.log, publicKeys: seed.publicKeys, refreshIntervalMs: 0 });
    },
    { audit: seed.log, wrapAuthenticate: (real) => (h) => (/^Bearer tok-/.test(String(h.authorization)) ? fakeAuthenticate(h as Record<string, unknown>) : real(h)) },
  );
  base = webApp.base;
});

after(async () => {
  await webApp?.close();
  await seed?.log.close().catch(() => undefined);
  if (seed) rmSync(seed.dir, { recursive: true, force: true });
});

function sessionEventsFor(ix: AuditIndex, session: string): number {
  const id = ix.sessions.find(session);
  for (let i = 0; i < ix.count; i++) if (ix.session.data[i] === id) return i;
  throw new Error(`no event of ${session}`);
}

async function allEvents(): Promise<AuditEvent[]> {
  const out: AuditEvent[] = [];
  for await (const r of readEvents(seed.auditDir)) out.push(r.event);
  return out;
}

test('index: who saw the SSN column in clear and who masked', async () => {
  const ix = new AuditIndex(new JsonlAuditStore(seed.auditDir));
  await ix.refresh();
  const rows = columnAccess(ix, {}).filter((r) => r.column === SSN_COL);
  const byActor = Object.fromEntries(rows.map((r) => [r.actor, r]));
  const petra = present(byActor['petra@bank.example'], "petra's SSN access row");
  const alice = present(byActor['alice@bank.example'], "alice's SSN access row");
  assert.deepEqual({ clear: petra.clear, masked: petra.masked }, { clear: 1, masked: 0 });
  assert.deepEqual({ clear: alice.clear, masked: alice.masked }, { clear: 0, masked: 1 });
  assert.equal(first(rows, 'SSN access row').classification, 'ssn');
  // The drill-down filter finds exactly petra's call.
  const { filter } = parseFilter({ column: SSN_COL, visibility: 'clear' });
  const { total, indexes } = listEvents(ix, filter, 0, 10);
  assert.equal(total, 1);
  assert.equal(ix.actors.get(present(ix.actor.data[first(indexes, 'matching event')], 'actor of the matching event')), 'petra@bank.example');
});

test('index: denials by rule, time window and approvals with separation-of-duties flags', async () => {
  const ix = new AuditIndex(new JsonlAuditStore(seed.auditDir));
  await ix.refresh();
  const all = overview(ix, {});
  assert.equal(all.denialsByRule.find((r) => r.key === 'deny-ddl-analyst')?.n, 1);
  assert.equal(all.authFailures, 1);
  const d3 = overview(ix, parseFilter({ from: DAYS[2], to: DAYS[2] }).filter);
  assert.equal(d3.denied, 0, 'the DROP was on day 1, outside the window');
  const a = ix.approvalsById.get(seed.approvalId)!;
  assert.equal(a.requester, 'eve@bank.example');
  assert.deepEqual(
    a.grants.map((g) => g.approver),
    ['bob@bank.example'],
  );
  const flags = approvalFlags(a);
  assert.deepEqual(flags, { selfApproved: false, textDiffers: false, latencySeconds: 270, status: 'executed' });
  // A refusal no rule made is filed under what refused it; the approval workflow is counted
  // apart from policy decisions and denials (the grant is not an "allow").
  assert.ok(!all.denialsByRule.some((r) => r.key === '(no rule id)'));
  assert.equal(all.denialsByRule.find((r) => r.key === 'auth_failure: expired')?.n, 1);
  assert.deepEqual(all.approvalEvents.map((c) => c.key).sort(), ['executed (success)', 'granted', 'requested']);
  const allowDecisions = all.decisions.find((d) => d.key === 'allow')?.n ?? 0;
  assert.equal(allowDecisions, 2, 'allow decisions are the pii-reader and CI reads, not the approval grant');
});

test('http: the overview, approvals and event pages say who rejected and why, and label the stored copy per column', async () => {
  const rejected = 'apr-rejected0001';
  await seed.log.append({
    event_type: 'approval_requested',
    actor_email: 'eve@bank.example',
    actor_subject: 'sub-eve',
    approval_id: rejected,
    tool_name: 'execute_sql',
    sql_sha256: '9'.repeat(64),
    approval_expires_at: '2099-01-01T00:00:00.000Z',
    approval_requester: 'eve@bank.example',
    statement_kinds: ['delete'],
    target_tables: ['bank.main.accounts'],
    decision: 'approval_required',
    outcome: 'pending',
  });
  await seed.log.append({
    event_type: 'approval_rejected',
    actor_email: 'carol@bank.example',
    actor_subject: 'sub-carol',
    approval_id: rejected,
    decision: 'deny',
    outcome: 'denied',
    decision_reason: 'wrong account',
  });
  // A pii-reader's read: the caller saw the SSN in clear, the stored copy holds a token.
  await seed.log.append({
    event_type: 'mcp_request',
    actor_email: 'petra@bank.example',
    actor_subject: 'sub-petra',
    session_id: 'sess-pii-0002',
    mcp_method: 'tools/call',
    tool_name: 'execute_sql',
    decision: 'allow',
    outcome: 'success',
    response_json: JSON.stringify({
      _meta: {
        'bqwarden/stored_copy': {
          columns: { name: { classification: null, released: 'clear', stored: 'clear' }, ssn: { classification: 'pii.ssn', released: 'clear', stored: 'pseudonym' } },
          detectors: { released: [], stored: [] },
        },
      },
      content: [{ type: 'text', text: '{"name":"Ann","ssn":"tok_3f9a"}' }],
    }),
  });
  const auth = { authorization: 'Bearer tok-erin@bank.example-examiner' };
  const appr = await (await fetch(`${base}/console/approvals`, { headers: auth })).text();
  assert.match(appr, /<td class="closing">carol@bank\.example at [^<]* — wrong account<\/td>/);
  const over = await (await fetch(`${base}/console`, { headers: auth })).text();
  assert.doesNotMatch(over, /\(no rule id\)/);
  assert.match(over, /id="approval-events"[\s\S]*rejected/);
  const ix = handle.index;
  await ix.refresh();
  const i = sessionEventsFor(ix, 'sess-pii-0002');
  const page = await (await fetch(`${base}/console/events/${encodeURIComponent(ix.chains.get(ix.chain.data[i]!)!)}/${ix.seq.data[i]}`, { headers: auth })).text();
  assert.match(page, /Response — stored copy \(audit at rest: masked for storage whatever the caller saw\)/);
  assert.match(page, /<tr><td>ssn<\/td><td>pii\.ssn<\/td><td class="released">clear<\/td><td>tokenised \(pseudonym\)<\/td><\/tr>/);
  assert.doesNotMatch(page, /Response as released/);
});

test('index: a self-approval and an edited statement are flagged (attack)', async () => {
  const ix = new AuditIndex(new JsonlAuditStore(seed.auditDir));
  await ix.refresh();
  const a = structuredClone(ix.approvalsById.get(seed.approvalId)!);
  a.grants.push({ approver: 'eve@bank.example', at: first(a.grants, 'grant').at, eventIndex: 0 });
  a.executions.push({ at: first(a.executions, 'execution').at, by: 'eve@bank.example', sha256: 'f'.repeat(64), outcome: 'success', eventIndex: 0 });
  const flags = approvalFlags(a);
  assert.equal(flags.selfApproved, true);
  assert.equal(flags.textDiffers, true);
});

test('index: reads only what was appended, and never a half-written line', async () => {
  const ix = new AuditIndex(new JsonlAuditStore(seed.auditDir));
  await ix.refresh();
  const n = ix.count;
  await seed.log.append({ event_type: 'session_start', actor_email: 'late@bank.example', session_id: 'sess-late' });
  await ix.refresh();
  assert.equal(ix.count, n + 1);
  assert.equal(ix.actors.find('late@bank.example') > 0, true);
  // A line being written (no newline yet) is left for the next refresh, not indexed as garbage.
  const files = readdirSync(seed.auditDir)
    .filter((d) => d.startsWith('dt='))
    .sort();
  const lastDir = join(seed.auditDir, at(files, -1, 'audit date directory'));
  const lastFile = join(
    lastDir,
    readdirSync(lastDir)
      .filter((f) => f.endsWith('.jsonl'))
      .sort()
      .pop()!,
  );
  const copy = new AuditIndex(new JsonlAuditStore(seed.auditDir));
  appendFileSync(lastFile, '{"event_id":"half');
  await copy.refresh();
  assert.equal(copy.invalidCount, 0);
  assert.equal(copy.count, ix.count);
  // Undo the fake partial write so the writer's file stays clean for the other tests.
  const text = readFileSync(lastFile, 'utf8');
  const { writeFileSync } = await import('node:fs');
  writeFileSync(lastFile, text.slice(0, text.lastIndexOf('\n') + 1));
});

test('http: no credential is sent to sign in; a bad token is refused and recorded', async () => {
  const r1 = await fetch(`${base}/console/events?actor=x`, { redirect: 'manual' });
  assert.equal(r1.status, 303);
  assert.equal(r1.headers.get('location'), `/auth/login?next=${encodeURIComponent('/console/events?actor=x')}`);
  assert.equal(r1.headers.get('set-cookie'), null);
  const r2 = await fetch(`${base}/console`, { headers: { authorization: 'Bearer forged' } });
  assert.equal(r2.status, 401);
  assert.match(await r2.text(), /Examiner sign-in/);
  const ev = (await allEvents()).filter((e) => e.event_type === 'auth_failure' && e.mcp_method === 'console/login');
  assert.ok(ev.length >= 1, 'auth failure audited');
});

test('http: an analyst (or approver without the role) is refused, and the refusal is audited', async () => {
  const r = await fetch(`${base}/console/events?actor=petra@bank.example`, { headers: { authorization: 'Bearer tok-alice@bank.example-analyst' } });
  assert.equal(r.status, 403);
  const body = await r.text();
  assert.match(body, /examiner role only/);
  assert.doesNotMatch(body, /petra@bank\.example<\/td>/, 'no audit data leaks into the refusal');
  const denied = (await allEvents()).filter((e) => e.event_type === 'console_access' && e.actor_email === 'alice@bank.example');
  assert.equal(denied.at(-1)?.outcome, 'denied');
  assert.equal(denied.at(-1)?.error_code, 'console_forbidden');
});

test('http: an examiner gets the overview; the access is written to the audit log first', async () => {
  const before = (await allEvents()).filter((e) => e.event_type === 'console_access' && e.actor_email === 'erin@bank.example').length;
  const r = await fetch(`${base}/console`, { headers: { authorization: 'Bearer tok-erin@bank.example-examiner' } });
  assert.equal(r.status, 200);
  const sessionCookie = r.headers.getSetCookie().find((c) => c.startsWith('bqw_session=')) ?? '';
  for (const attr of [/Path=\//, /HttpOnly/, /SameSite=Lax/]) assert.match(sessionCookie, attr);
  assert.match(r.headers.get('content-security-policy') ?? '', /script-src 'self'/);
  const body = await r.text();
  assert.match(body, /Who saw classified columns/);
  assert.match(body, new RegExp(seed.approvalId));
  const after = (await allEvents()).filter((e) => e.event_type === 'console_access' && e.actor_email === 'erin@bank.example');
  assert.equal(after.length, before + 1);
  assert.equal(after.at(-1)?.mcp_method, 'console/overview');
});

test('http: a page whose access cannot be audited is not shown (fail closed)', async () => {
  const app2 = Fastify();
  await registerConsoleRoutes(app2, {
    store: new JsonlAuditStore(seed.auditDir),
    web: testWeb((h) => fakeAuthenticate(h as Record<string, unknown>), seed.log),
    rolesFor: rolesFromGroups,
    audit: { append: async () => Promise.reject(new Error('disk full')) },
    index: handle.index,
  });
  const r = await app2.inject({ method: 'GET', url: '/console', headers: { authorization: 'Bearer tok-erin@bank.example-examiner' } });
  assert.equal(r.statusCode, 503);
  assert.match(r.body, /could not be recorded/);
  assert.doesNotMatch(r.body, /petra/);
  await app2.close();
});

test('http: audit data in pages is escaped (stored XSS attempt in a SQL text)', async () => {
  await seed.log.append({
    event_type: 'mcp_request',
    actor_email: 'mallory@bank.example',
    session_id: 'sess-xss',
    mcp_method: 'tools/call',
    sql_text: '<script>alert(1)</script>',
    decision: 'deny',
    outcome: 'denied',
  });
  const r = await fetch(`${base}/console/sessions/sess-xss`, { headers: { authorization: 'Bearer tok-erin@bank.example-examiner' } });
  const body = await r.text();
  assert.equal(r.status, 200);
  assert.ok(!body.includes('<script>alert(1)</script>'));
  assert.ok(body.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
});

test('http: filters that cannot be read are refused, not ignored', async () => {
  const r = await fetch(`${base}/console/events?decision=maybe`, { headers: { authorization: 'Bearer tok-erin@bank.example-examiner' } });
  assert.equal(r.status, 400);
  assert.match(await r.text(), /decision must be one of/);
});

test('browser: examiner signs in through the identity provider, filters, drills from the clear-SSN count to the replay; integrity panel runs the verifier; signs out', async (t) => {
  const missing = chromiumMissing();
  if (missing) {
    t.skip(missing);
    return;
  }
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    const posts: { url: string; origin: string | undefined }[] = [];
    page.on('request', (r) => {
      if (r.method() === 'POST') posts.push({ url: r.url(), origin: r.headers().origin });
    });
    await page.goto(`${base}/console`);
    await demoSignIn(page, 'erin@bank.example', ['examiner']);
    await page.waitForSelector('text=Who saw classified columns');
    assert.equal(new URL(page.url()).pathname, '/console', 'back on the page sign-in started from');
    await page.waitForSelector('#chart[data-ready="1"]');
    const session = (await page.context().cookies()).find((c) => c.name === 'bqw_session')!;
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, 'Lax');

    // Filter: one user.
    await page.fill('input[name=actor]', 'petra@bank.example');
    await page.click('#apply');
    await page.waitForURL(/actor=petra/);
    assert.equal(await page.locator('[data-tile="denied"] .n').innerText(), '0');

    // Click 1: the clear count for the SSN column → the events list.
    await page.click('#column-access a.bad');
    await page.waitForURL(/visibility=clear/);
    const rows = page.locator('#events tr[data-event]');
    assert.equal(await rows.count(), 1);
    // Click 2: the session replay.
    await rows.first().locator('a.session').click();
    await page.waitForSelector('#replay');
    const replay = await page.locator('#replay').innerText();
    assert.match(replay, /SELECT name, ssn FROM customers/);
    assert.match(replay, /Response — stored copy \(audit at rest: masked for storage whatever the caller saw\)/);

    // Approvals: requester, approver, both separation-of-duties flags "no".
    await page.goto(`${base}/console/approvals`);
    const appr = await page.locator('#approvals').innerText();
    assert.match(appr, /eve@bank\.example/);
    assert.match(appr, /bob@bank\.example/);
    assert.doesNotMatch(appr, /YES/);

    // Integrity panel runs the real verifier.
    await page.goto(`${base}/console/integrity`);
    await page.click('#run-verify');
    await page.waitForSelector('#verdict');
    assert.match(await page.locator('#verdict').innerText(), /Chain intact/);
    assert.deepEqual(errors, [], 'no script or CSP errors in the page');

    // Sign out: the browser's own form post (its real Origin), then the identity provider's.
    await page.click('header button[type=submit]');
    await page.waitForSelector('#logout-yes');
    await page.click('#logout-yes');
    await page.waitForSelector('text=You are signed out');
    const signOut = posts.find((p) => p.url === `${base}/auth/logout`);
    assert.equal(signOut?.origin, base, 'the browser named this origin on its own');
    const again = await page.goto(`${base}/console`);
    assert.match(new URL(again!.url()).pathname, /\/dev-issuer\/interaction\//, 'signed out everywhere: the login page again');

    // A non-examiner in the browser is refused.
    const other = await (await browser.newContext()).newPage();
    await other.goto(`${base}/console`);
    await demoSignIn(other, 'alice@bank.example', ['analyst']);
    await other.waitForSelector('text=examiner role only');
  } finally {
    await browser.close();
  }
});
