// The one auth-failure path of the browser pages and their APIs: every refused credential is
// audited (auth_failure, with the page it was refused at and the identity layer's reason), and
// the text a stranger controls — User-Agent, the issuer inside a forged token, the identity
// provider's error description on the sign-in callback — goes through the masking detectors
// before it is stored, as the pipeline does for MCP calls. Attack first: put an SSN and a card
// number in each and look for them in the audit files.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { generateBank } from '../../src/demo/dataset.js';
import { startStack, type TestStack } from '../helpers/gateway.js';
import { CookieJar } from '../helpers/oauth.js';
import { auditEvents } from '../security/helpers.js';
import { at } from '../helpers/present.js';

const SSN = at(generateBank().customers, 2, 'demo customer').ssn;
const CARD = '4111 1111 1111 1111';
const HOSTILE = `Mozilla/5.0 (ssn ${SSN}; card ${CARD})`;

let stack: TestStack;
before(async () => {
  stack = await startStack();
});
after(async () => {
  await stack?.stop();
});

function auditText(): string {
  const dir = join(stack.dataDir, 'audit');
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else if (e.name.endsWith('.jsonl')) out.push(readFileSync(join(d, e.name), 'utf8'));
    }
  };
  walk(dir);
  return out.join('\n');
}

/** An unsigned token naming an "issuer" that is attacker text (it ends up in the refusal message). */
function forgedToken(iss: string): string {
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${b64({ alg: 'ES256', typ: 'JWT' })}.${b64({ iss, sub: 'x', aud: stack.mcpUrl, exp: 4_000_000_000 })}.${'A'.repeat(86)}`;
}

test('refused credentials on the console, the approvals page and API are audited once each, with client text scanned', async () => {
  const surfaces: [string, string][] = [
    ['/console', 'console/login'],
    ['/approvals/ui', 'approvals/ui'],
    ['/approvals', 'approvals/api'],
  ];
  for (const [path, surface] of surfaces) {
    const before = auditEvents(stack.dataDir).filter((e) => e.event_type === 'auth_failure' && e.mcp_method === surface).length;
    const res = await fetch(`${stack.url}${path}`, { headers: { authorization: `Bearer ${forgedToken(`https://idp.example/${SSN}/${CARD}`)}`, 'user-agent': HOSTILE }, redirect: 'manual' });
    assert.equal(res.status, 401, path);
    const events = auditEvents(stack.dataDir).filter((e) => e.event_type === 'auth_failure' && e.mcp_method === surface);
    assert.equal(events.length, before + 1, `${path}: exactly one auth_failure event`);
    const e = events.at(-1)!;
    assert.equal(e.error_code, 'wrong_issuer');
    assert.equal(e.http_status, 401);
    assert.match(String(e.error_message), /not trusted/);
    assert.ok(e.user_agent, 'the user agent is recorded (scanned)');
  }
  const text = auditText();
  assert.ok(!text.includes(SSN), 'no SSN from a User-Agent or forged issuer at rest');
  assert.ok(!text.includes(CARD) && !text.includes(CARD.replace(/ /g, '')), 'no card number at rest');
});

test("the identity provider's error text on the sign-in callback is scanned before it is stored", async () => {
  const jar = new CookieJar();
  const start = await fetch(`${stack.url}/auth/login?next=/console`, { redirect: 'manual' });
  jar.store(new URL(stack.url), start.headers);
  const state = new URL(start.headers.get('location')!).searchParams.get('state')!;
  const cb = new URL(`${stack.url}/auth/callback`);
  cb.search = new URLSearchParams({ error: 'access_denied', error_description: `denied for ${SSN}`, state }).toString();
  const res = await fetch(cb, { headers: { cookie: jar.header(cb), 'user-agent': HOSTILE }, redirect: 'manual' });
  assert.equal(res.status, 401);
  assert.equal(
    res.headers.getSetCookie().some((c) => c.startsWith('bqw_session=') && !/Max-Age=0/i.test(c)),
    false,
  );
  const e = auditEvents(stack.dataDir)
    .filter((x) => x.event_type === 'auth_failure' && x.mcp_method === 'web/sign-in')
    .at(-1);
  assert.ok(e, 'the refused sign-in is audited');
  assert.equal(e.error_code, 'idp_refused');
  assert.match(String(e.error_message), /access_denied/);
  assert.ok(!auditText().includes(SSN));
});

test('signed-in viewers: the console and the approvals API store the User-Agent scanned too', async () => {
  // The attack: an authenticated person types an SSN into their User-Agent and looks at pages
  // that write their own events (console_access, approval views).
  const examiner = await stack.token('erin@bank.example', ['examiner']);
  const page = await fetch(`${stack.url}/console`, { headers: { authorization: `Bearer ${examiner}`, 'user-agent': HOSTILE } });
  assert.equal(page.status, 200);
  const view = auditEvents(stack.dataDir)
    .filter((e) => e.event_type === 'console_access')
    .at(-1);
  assert.ok(view, 'the console view is audited');
  assert.ok(view.user_agent && !String(view.user_agent).includes(SSN), 'console_access: the User-Agent is scanned');

  const eve = await stack.client('eve@bank.example', ['engineer']);
  const held = JSON.stringify(await eve.callTool({ name: 'execute_sql', arguments: { sql: 'DELETE FROM transactions WHERE txn_id = 7' } }));
  const id = /apr-[a-z0-9]+/.exec(held)?.[0];
  assert.ok(id, `the DELETE is held for approval: ${held.slice(0, 200)}`);
  const approver = await stack.token('bob@bank.example', ['approver']);
  const detail = await fetch(`${stack.url}/approvals/${id}`, { headers: { authorization: `Bearer ${approver}`, 'user-agent': HOSTILE } });
  assert.equal(detail.status, 200);
  const seen = auditEvents(stack.dataDir).filter((e) => e.approval_id === id && String(e.mcp_method).startsWith('approvals/api'));
  assert.ok(seen.length > 0, "the approver's view is audited");
  for (const e of seen) assert.ok(e.user_agent && !String(e.user_agent).includes(SSN), `${e.event_type}: the User-Agent is scanned`);
  assert.ok(!auditText().includes(SSN), 'no SSN from a User-Agent at rest');
});
