// End to end through the demo stack: official MCP SDK client → gateway → MCP Toolbox → SQLite,
// with approvers acting through the gateway's approvals API.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { REPO, rowsOf, startStack, type TestStack } from '../helpers/gateway.js';
import { readEvents } from '../../src/audit/reader.js';
import { sha256 } from '../../src/approvals/binding.js';

/** The demo rules plus one: UPDATEs expire after 3 s, so expiry can be seen end to end. */
function rulesWithShortExpiry(): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'bqw-rules-'));
  cpSync(join(REPO, 'rules'), dir, { recursive: true });
  const file = join(dir, 'access.yaml');
  const doc = parse(readFileSync(file, 'utf8')) as { statements: unknown[] };
  // First: among equally strict rules the first one listed wins.
  doc.statements.unshift({
    id: 'e2e-updates-expire-fast',
    roles: ['engineer'],
    classes: ['write'],
    kinds: ['update'],
    effect: 'approval',
    approval: { approvers: ['approver'], count: 1, expiry: '3s' },
  });
  writeFileSync(file, stringify(doc));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

type Result = { content?: { type: string; text?: string }[]; isError?: boolean };
const text = (r: Result) => (r.content ?? []).map((c) => c.text ?? '').join('\n');
const approvalId = (r: Result) => /apr-[a-z0-9]+/.exec(text(r))?.[0] ?? null;

async function sql(client: Client, statement: string, meta?: Record<string, unknown>, onprogress?: () => void): Promise<Result> {
  return (await client.callTool({ name: 'execute_sql', arguments: { sql: statement }, ...(meta ? { _meta: meta } : {}) }, undefined, {
    timeout: 60_000,
    ...(onprogress ? { onprogress } : {}),
  })) as Result;
}

async function api(stack: TestStack, user: string, groups: string[], method: 'GET' | 'POST', path: string, body?: unknown) {
  const token = await stack.token(user, groups);
  const res = await fetch(`${stack.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, json: (await res.json()) as Record<string, any> };
}

const approve = (stack: TestStack, user: string, id: string, reason = 'reviewed') => api(stack, user, ['approver'], 'POST', `/approvals/${id}/approve`, { reason });

test('approvals end to end through the demo stack', { timeout: 600_000 }, async (t) => {
  const rules = rulesWithShortExpiry();
  const stack = await startStack({ rulesDir: rules.dir, config: { approvals: { wait: { enabled: false, maxSeconds: 60, progressIntervalSeconds: 0.2 } } } });
  t.after(async () => {
    await stack.stop();
    rules.cleanup();
  });
  const probe = await fetch(`${stack.url}/approvals`);
  if (probe.status === 404) {
    t.skip('approvals are not wired into the gateway yet (src/server/app.ts: deps.approvals and approvals.routes)');
    return;
  }

  let eve = await stack.client('eve@bank.example', ['engineer']);
  const count = async (where: string) => Number(Object.values(rowsOf(await sql(eve, `SELECT COUNT(*) AS n FROM transactions WHERE ${where}`))[0] ?? {})[0]);

  await t.test('DELETE: pending → approved → runs once, its answer names the approval and the rows → a re-run hears it already ran', async () => {
    const del = 'DELETE FROM transactions WHERE txn_id = 1';
    assert.equal(await count('txn_id = 1'), 1);
    const first = await sql(eve, del);
    assert.equal(first.isError, true);
    const id = approvalId(first)!;
    assert.ok(id, text(first));
    assert.match(text(first), /approvals\/ui\/apr-/);
    assert.match(text(first), /bqwarden\.js approvals --url http:\/\/127\.0\.0\.1:\d+ --user bob@bank\.example --groups approver show apr-/);
    assert.doesNotMatch(text(first), /npx/);
    assert.equal(approvalId(await sql(eve, del)), id, 'same pending request on re-run');
    assert.equal(await count('txn_id = 1'), 1, 'nothing ran while pending');

    const list = await api(stack, 'bob@bank.example', ['approver'], 'GET', '/approvals');
    assert.ok(list.json.approvals.some((a: { id: string }) => a.id === id));
    const detail = await api(stack, 'bob@bank.example', ['approver'], 'GET', `/approvals/${id}`);
    assert.equal(detail.json.approval.exact_sql, del);
    assert.equal((await approve(stack, 'bob@bank.example', id)).status, 200);

    const run = (await sql(eve, del)) as Result & { _meta?: Record<string, any> };
    assert.notEqual(run.isError, true, text(run));
    assert.match(text(run), new RegExp(`executed under approval ${id} — requested by eve@bank\\.example, approved by bob@bank\\.example \\("reviewed"\\); rows affected: 1\\.`));
    assert.deepEqual(run._meta?.['bqwarden/approval'], { id, status: 'executed', requester: 'eve@bank.example', approvers: [{ by: 'bob@bank.example', reason: 'reviewed' }], rows_affected: 1 });
    assert.equal(await count('txn_id = 1'), 0, 'executed');
    const again = await sql(eve, del);
    assert.equal(again.isError, true);
    assert.equal(approvalId(again), id, 'a re-run names the approval that was used, no new request');
    assert.match(text(again), /already ran at .* \(success, 1 row affected\)/);
    const list2 = await api(stack, 'bob@bank.example', ['approver'], 'GET', '/approvals');
    assert.equal(list2.json.approvals.filter((a: { sql_sha256: string }) => a.sql_sha256 === sha256(del)).length, 1, 'no duplicate for approvers to approve');
  });

  await t.test('self-approval refused; another user and altered SQL cannot ride on an approval', async () => {
    const both = await stack.client('erin@bank.example', ['engineer', 'approver']);
    const del = 'DELETE FROM transactions WHERE txn_id = 2';
    const id = approvalId(await sql(both, del))!;
    const self = await api(stack, 'erin@bank.example', ['engineer', 'approver'], 'POST', `/approvals/${id}/approve`, { reason: 'mine' });
    assert.equal(self.status, 403);
    assert.equal(self.json.error, 'self_approval');

    assert.equal((await approve(stack, 'bob@bank.example', id)).status, 200);
    const altered = await sql(both, 'DELETE FROM transactions WHERE txn_id = 2 OR txn_id = 3');
    assert.equal(altered.isError, true);
    assert.notEqual(approvalId(altered), id);
    const otherUser = await sql(eve, del);
    assert.equal(otherUser.isError, true, 'eve cannot use erin’s approval');
    assert.equal(await count('txn_id IN (2, 3)'), 2);
    const own = await sql(both, del);
    assert.notEqual(own.isError, true, text(own));
    assert.equal(await count('txn_id = 2'), 0);
  });

  await t.test('expired approval does not execute', async () => {
    const upd = "UPDATE transactions SET currency = 'EUR' WHERE txn_id = 5";
    const id = approvalId(await sql(eve, upd))!;
    assert.equal((await approve(stack, 'bob@bank.example', id)).status, 200);
    await new Promise((r) => setTimeout(r, 3500));
    const late = await sql(eve, upd);
    assert.equal(late.isError, true);
    assert.notEqual(approvalId(late), id);
    assert.match(text(late), /expired/);
    assert.equal(await count("txn_id = 5 AND currency = 'EUR'"), 0, 'nothing ran');
    const refused = await approve(stack, 'carol@bank.example', id);
    assert.equal(refused.status, 409);
  });

  await t.test('a restart between approval and execution keeps the approval', async () => {
    const del = 'DELETE FROM transactions WHERE txn_id = 4';
    const id = approvalId(await sql(eve, del))!;
    assert.equal((await approve(stack, 'bob@bank.example', id)).status, 200);
    await stack.restart();
    eve = await stack.client('eve@bank.example', ['engineer']);
    const run = await sql(eve, del);
    assert.notEqual(run.isError, true, text(run));
    assert.equal(await count('txn_id = 4'), 0);
  });

  await t.test('wait option: the call stays open with progress and executes when approved', async () => {
    const del = 'DELETE FROM transactions WHERE txn_id = 6';
    let progress = 0;
    const call = sql(eve, del, { 'bqwarden/wait_for_approval': 30 }, () => progress++);
    let id: string | undefined;
    while (!id) {
      await new Promise((r) => setTimeout(r, 100));
      const list = await api(stack, 'bob@bank.example', ['approver'], 'GET', '/approvals');
      id = list.json.approvals.find((a: { status: string; sql_sha256: string }) => a.status === 'pending' && a.sql_sha256 === sha256(del))?.id;
    }
    while (progress === 0) await new Promise((r) => setTimeout(r, 50));
    assert.equal((await approve(stack, 'bob@bank.example', id)).status, 200);
    const done = await call;
    assert.notEqual(done.isError, true, text(done));
    assert.equal(await count('txn_id = 6'), 0);
  });

  await t.test('DROP needs two distinct approvers', async () => {
    const drop = 'DROP TABLE transactions';
    const id = approvalId(await sql(eve, drop))!;
    assert.equal((await approve(stack, 'bob@bank.example', id)).status, 200);
    const twice = await approve(stack, 'bob@bank.example', id);
    assert.equal(twice.status, 409);
    const still = await sql(eve, drop);
    assert.equal(still.isError, true);
    assert.equal(approvalId(still), id, 'one approval of two: still pending');
    assert.equal((await approve(stack, 'carol@bank.example', id)).status, 200);
    const run = await sql(eve, drop);
    assert.notEqual(run.isError, true, text(run));
  });

  await t.test('the audit chain shows who asked, who approved, and that the executed text is the approved text', async () => {
    const events = [];
    for await (const { event } of readEvents(join(stack.dataDir, 'audit'))) events.push(event);
    const del = 'DELETE FROM transactions WHERE txn_id = 1';
    const req = events.find((e) => e.event_type === 'approval_requested' && e.sql_sha256 === sha256(del))!;
    assert.equal(req.actor_email, 'eve@bank.example');
    assert.ok(!req.sql_text!.includes('txn_id = 1'), `literals redacted in the audit: ${req.sql_text}`);
    const id = req.approval_id!;
    const trail = events.filter((e) => e.approval_id === id);
    const granted = trail.find((e) => e.event_type === 'approval_granted')!;
    assert.equal(granted.actor_email, 'bob@bank.example');
    const executed = trail.find((e) => e.event_type === 'mcp_request' && e.outcome === 'success')!;
    assert.ok(executed, 'the executed call names the approval it consumed');
    assert.equal(executed.sql_sha256, req.sql_sha256);
    assert.deepEqual(executed.approval_approvers, ['bob@bank.example']);
    const done = trail.find((e) => e.event_type === 'approval_executed' && e.outcome === 'success')!;
    assert.equal(done.response_json, '{"rows_affected":1}');
    assert.match(executed.sql_executed ?? '', /SELECT changes\(\) AS bqwarden_rows_affected$/, 'the count the gateway added is on record');
  });
});
