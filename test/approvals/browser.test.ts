// The approval web page driven in headless Chromium against the demo stack: a reviewer signs
// in through the demo authorization server, opens the pending request, approves it, and the
// engineer's re-run executes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { rowsOf, startStack } from '../helpers/gateway.js';
import { chromiumMissing, demoSignIn, launchChromium } from '../helpers/browser.js';
import { first } from '../helpers/present.js';

type Result = { content?: { type: string; text?: string }[]; isError?: boolean };
const text = (r: Result) => (r.content ?? []).map((c) => c.text ?? '').join('\n');

test('a reviewer approves through the web page in a real browser', { timeout: 300_000 }, async (t) => {
  const missing = chromiumMissing();
  if (missing) {
    t.skip(missing);
    return;
  }
  const stack = await startStack();
  let browser: Browser | null = null;
  t.after(async () => {
    await browser?.close().catch(() => undefined);
    await stack.stop();
  });
  if ((await fetch(`${stack.url}/approvals`)).status === 404) {
    t.skip('approvals are not wired into the gateway yet (src/server/app.ts: deps.approvals and approvals.routes)');
    return;
  }

  const eve = await stack.client('eve@bank.example', ['engineer']);
  // Attacker-controlled text in both the statement and the justification.
  const del = "DELETE FROM transactions WHERE txn_id = 11 AND currency <> '<img src=x onerror=alert(1)>'";
  const call = () => eve.callTool({ name: 'execute_sql', arguments: { sql: del, justification: '<script>alert(2)</script> CHG-11' } }) as Promise<Result>;
  const held = await call();
  assert.equal(held.isError, true);
  const id = /apr-[a-z0-9]+/.exec(text(held))![0];

  // A rejected request and the requester's second try with a new justification: one call, two
  // requests, which the list must show together (a stale duplicate never looks new).
  const upd = "UPDATE accounts SET status = 'frozen' WHERE account_id = 'A-1002'";
  const firstTry = (await eve.callTool({ name: 'execute_sql', arguments: { sql: upd, justification: 'fraud case 17' } })) as Result;
  const rejectedId = /apr-[a-z0-9]+/.exec(text(firstTry))![0];
  const bobToken = await stack.token('bob@bank.example', ['approver']);
  const rej = await fetch(`${stack.url}/approvals/${rejectedId}/reject`, {
    method: 'POST',
    headers: { authorization: `Bearer ${bobToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ reason: 'which case?' }),
  });
  assert.equal(rej.status, 200);
  const secondTry = (await eve.callTool({ name: 'execute_sql', arguments: { sql: upd, justification: 'fraud case 17, confirmed by the case officer' } })) as Result;
  const retryId = /apr-[a-z0-9]+/.exec(text(secondTry))![0];
  assert.notEqual(retryId, rejectedId);

  browser = await launchChromium();
  const page = await browser.newPage();
  const dialogs: string[] = [];
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });

  await page.goto(`${stack.url}/approvals/ui`);
  await demoSignIn(page, 'bob@bank.example', ['approver']);
  await page.waitForSelector(`tr[data-id="${id}"]`);
  // The list says what each request is: SQL in its audit form, requester, time and age, justification.
  const rowText = (await page.textContent(`tr[data-id="${id}"]`))!;
  assert.match(rowText, /DELETE/);
  assert.match(rowText, /DELETE FROM transactions WHERE txn_id = \? AND currency <> \?/, 'literals redacted in the list');
  assert.match(rowText, /eve@bank\.example/);
  assert.match(rowText, /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/);
  assert.match(rowText, /\d+ (s|min) ago/);
  assert.match(rowText, /<script>alert\(2\)<\/script> CHG-11/, 'justification shown as text');
  assert.equal(await page.locator(`tr[data-id="${rejectedId}"][data-duplicate-of="${retryId}"]`).count(), 1, 'the rejected first try is grouped under the retry');
  assert.match((await page.textContent('tr.dup-note'))!, new RegExp(`1 other request \\(${rejectedId} rejected\\)`));
  const cookies = await page.context().cookies();
  const session = cookies.find((c) => c.name === 'bqw_session')!;
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, 'Lax');

  await page.click(`a[href="/approvals/ui/${id}"]`);
  await page.waitForSelector('#sql');
  assert.equal((await page.textContent('#sql'))!.trim(), del, 'the exact statement, as text');
  assert.match((await page.textContent('#justification'))!, /<script>alert\(2\)<\/script> CHG-11/);
  assert.equal(await page.locator('#sql img, script').count(), 0, 'nothing injected into the DOM');
  assert.match((await page.textContent('#requester'))!, /eve@bank\.example/);

  await page.fill('#approve-reason', 'verified duplicate transaction');
  await page.click('#approve');
  await page.waitForSelector('.flash.ok');
  assert.match((await page.textContent('#approvals'))!, /bob@bank\.example/);
  assert.deepEqual(dialogs, [], 'no script ran');

  const res = await fetch(`${stack.url}/approvals/${id}`, { headers: { authorization: `Bearer ${await stack.token('bob@bank.example', ['approver'])}` } });
  const state = (await res.json()) as { approval: { status: string; approvals: { by: string; reason: string }[] } };
  assert.equal(state.approval.status, 'approved');
  assert.deepEqual(
    state.approval.approvals.map((a) => [a.by, a.reason]),
    [['bob@bank.example', 'verified duplicate transaction']],
  );

  const run = await call();
  assert.notEqual(run.isError, true, text(run));
  const left = rowsOf(await eve.callTool({ name: 'execute_sql', arguments: { sql: 'SELECT COUNT(*) AS n FROM transactions WHERE txn_id = 11' } }));
  assert.equal(Number(Object.values(first(left, 'count row'))[0]), 0);
});
