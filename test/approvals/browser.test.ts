// The approval web page driven in headless Chromium against the demo stack: a reviewer signs
// in through the demo authorization server, opens the pending request, approves it, and the
// engineer's re-run executes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { rowsOf, startStack } from '../helpers/gateway.js';
import { chromiumMissing, demoSignIn, launchChromium } from '../helpers/browser.js';

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
  assert.deepEqual(state.approval.approvals.map((a) => [a.by, a.reason]), [['bob@bank.example', 'verified duplicate transaction']]);

  const run = await call();
  assert.notEqual(run.isError, true, text(run));
  const left = rowsOf(await eve.callTool({ name: 'execute_sql', arguments: { sql: 'SELECT COUNT(*) AS n FROM transactions WHERE txn_id = 11' } }));
  assert.equal(Number(Object.values(left[0])[0]), 0);
});
