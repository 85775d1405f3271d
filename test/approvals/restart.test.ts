// Event sourcing over the real audit writer and JSONL store: a restart between approval and
// execution keeps the approval, and the exact statement text lives only in a 0600 file while
// the request is open.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog } from '../../src/audit/log.js';
import { loadOrCreateSigner } from '../../src/audit/checkpoint.js';
import { JsonlSink } from '../../src/sinks/jsonl.js';
import { readEvents } from '../../src/audit/reader.js';
import { JsonlAuditStore } from '../../src/audit/store-jsonl.js';
import { createApprovals, fileStatementStore, storeApprovalSource } from '../../src/approvals/index.js';
import { sha256 } from '../../src/approvals/binding.js';
import { fakeSql, held, policyView, reviewer, silent } from './helpers.js';

const DELETE = "DELETE FROM accounts WHERE account_id = 'A-2002'";

async function boot(data: string) {
  const sink = await JsonlSink.open({ dir: join(data, 'audit') });
  const audit = await AuditLog.open({ sink, signer: loadOrCreateSigner({ keysDir: join(data, 'keys') }), gatewayVersion: 'test', instance: 'test-1' });
  const approvals = await createApprovals({
    audit,
    source: storeApprovalSource(new JsonlAuditStore(join(data, 'audit'))),
    policy: policyView,
    sql: fakeSql,
    publicUrl: 'http://127.0.0.1:8080',
    config: { sweepSeconds: 3600 },
    log: silent,
    statements: fileStatementStore(join(data, 'approvals')),
  });
  return {
    audit,
    approvals,
    async stop() {
      await approvals.close();
      await audit.close();
    },
  };
}

test('restart between approval and execution keeps the approval; state comes from the audit files', async (t) => {
  const data = mkdtempSync(join(tmpdir(), 'bqw-approvals-'));
  t.after(() => rmSync(data, { recursive: true, force: true }));

  let g = await boot(data);
  const first = await g.approvals.gate.check(held('eve@bank.example', DELETE));
  const dropMe = await g.approvals.gate.check(held('mallory@bank.example', 'DROP TABLE customers', { required: 2 }));
  await g.approvals.service.approve(first.approvalId, reviewer('bob@bank.example'), 'verified with branch');
  await g.approvals.service.reject(dropMe.approvalId, reviewer('bob@bank.example'), 'no');

  // The exact text is held in a private file; the audit files hold only the redacted form.
  const dir = join(data, 'approvals');
  assert.equal(statSync(dir).mode & 0o777, 0o700);
  const file = join(dir, `${first.approvalId}.json`);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  const audited = readdirSync(join(data, 'audit'), { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.jsonl'))
    .map((f) => readFileSync(join(data, 'audit', f), 'utf8'))
    .join('');
  assert.ok(audited.includes(first.approvalId));
  assert.ok(!audited.includes('A-2002'), 'no clear literal in the audit store');
  await g.stop();

  g = await boot(data);
  const rebuilt = g.approvals.service.get(first.approvalId)!;
  assert.equal(rebuilt.status, 'approved');
  assert.deepEqual(
    rebuilt.approvals.map((v) => v.actor.display),
    ['bob@bank.example'],
  );
  assert.equal(g.approvals.service.get(dropMe.approvalId)!.status, 'rejected');
  assert.deepEqual(readdirSync(dir).sort(), [`${first.approvalId}.json`], 'closed requests keep no exact text');
  assert.equal(await g.approvals.service.exactText(rebuilt), DELETE);

  const call = held('eve@bank.example', DELETE);
  const run = await g.approvals.gate.check(call);
  assert.equal(run.status, 'approved');
  await g.approvals.gate.executed(call, run.approvalId, 'success');
  await g.stop();

  // And once more: the consumed approval stays consumed across restarts.
  g = await boot(data);
  assert.equal(g.approvals.service.get(first.approvalId)!.status, 'executed');
  const again = await g.approvals.gate.check(held('eve@bank.example', DELETE));
  assert.equal(again.status, 'executed', 'a re-run after a restart still hears it already ran');
  assert.equal(again.approvalId, first.approvalId);
  const asked = await g.approvals.gate.check(held('eve@bank.example', DELETE, { justification: 'run it once more' }));
  assert.equal(asked.status, 'pending');
  assert.notEqual(asked.approvalId, first.approvalId);
  await g.stop();

  // The chain holds the whole story for an examiner, in order, with matching hashes.
  const trail: string[] = [];
  for await (const { event } of readEvents(join(data, 'audit'))) {
    if (event.approval_id === first.approvalId && event.event_type.startsWith('approval_')) {
      trail.push(`${event.event_type}:${event.outcome}`);
      assert.equal(event.sql_sha256, sha256(DELETE));
    }
  }
  assert.deepEqual(trail, ['approval_requested:pending', 'approval_granted:success', 'approval_executed:pending', 'approval_executed:success']);
});

test('a tampered statement file is not shown and blocks approval until the requester re-runs', async (t) => {
  const data = mkdtempSync(join(tmpdir(), 'bqw-approvals-'));
  t.after(() => rmSync(data, { recursive: true, force: true }));
  const g = await boot(data);
  const r = await g.approvals.gate.check(held('eve@bank.example', DELETE));
  const file = join(data, 'approvals', `${r.approvalId}.json`);
  const doc = JSON.parse(readFileSync(file, 'utf8'));
  writeFileSync(file, JSON.stringify({ ...doc, sql: "DELETE FROM accounts WHERE account_id = 'A-9999'" }));
  const rec = g.approvals.service.get(r.approvalId)!;
  assert.equal(await g.approvals.service.exactText(rec), null);
  await assert.rejects(g.approvals.service.approve(r.approvalId, reviewer('bob@bank.example'), 'ok'), /statement_unavailable|not available/);
  // The re-run carries the exact text; its hash proves it, so it is restored.
  assert.equal((await g.approvals.gate.check(held('eve@bank.example', DELETE))).approvalId, r.approvalId);
  assert.equal(await g.approvals.service.exactText(rec), DELETE);
  await g.approvals.service.approve(r.approvalId, reviewer('bob@bank.example'), 'ok');
  await g.stop();
});

test('a damaged audit line stops the rebuild with a message naming the line (fail closed)', async (t) => {
  const data = mkdtempSync(join(tmpdir(), 'bqw-approvals-'));
  t.after(() => rmSync(data, { recursive: true, force: true }));
  const g = await boot(data);
  await g.approvals.gate.check(held('eve@bank.example', DELETE));
  await g.stop();
  const day = readdirSync(join(data, 'audit')).find((d) => d.startsWith('dt='))!;
  const f = readdirSync(join(data, 'audit', day)).find((n) => n.endsWith('.jsonl'))!;
  const path = join(data, 'audit', day, f);
  writeFileSync(path, readFileSync(path, 'utf8').replace('"event_type":"approval_requested"', '"event_type":"approval_requested","junk":'));
  const events = storeApprovalSource(new JsonlAuditStore(join(data, 'audit'))).load();
  await assert.rejects(
    (async () => {
      for await (const _ of events) void _;
    })(),
    /approval state cannot be rebuilt: .*\.jsonl:\d+/,
  );
});
