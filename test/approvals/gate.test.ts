// The gate and service together, on an in-memory audit log: hold, bind, separation of duties,
// single use, expiry, rejection, wait, and fail-closed behaviour.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GatewayError } from '../../src/pipeline/types.js';
import { ApprovalError } from '../../src/approvals/index.js';
import { sha256 } from '../../src/approvals/binding.js';
import { held, identity, reviewer, setup } from './helpers.js';
import { present, only } from '../helpers/present.js';

const DELETE = "DELETE FROM accounts WHERE account_id = 'A-1001'";

function textOf(r: Record<string, unknown>): string {
  return (r.content as { text: string }[]).map((c) => c.text).join('\n');
}

test('first call is held: approval_requested recorded with redacted SQL, exact text kept apart, result says what to do', async () => {
  const { gate, audit, statements, approvals } = await setup();
  const r = await gate.check(held('eve@bank.example', DELETE, { justification: 'ticket CHG-42: close duplicate account' }));
  assert.equal(r.status, 'pending');
  if (!('result' in r)) return;
  const [ev] = audit.ofType('approval_requested');
  assert.ok(ev, 'approval_requested written');
  assert.equal(ev.approval_id, r.approvalId);
  assert.equal(ev.actor_email, 'eve@bank.example');
  assert.equal(ev.approval_requester, 'eve@bank.example');
  assert.equal(ev.sql_sha256, sha256(DELETE));
  assert.equal(ev.sql_text, 'DELETE FROM accounts WHERE account_id = ?', 'literals redacted in the audit');
  assert.ok(!JSON.stringify(ev).includes('A-1001'), 'no clear literal anywhere in the event');
  assert.deepEqual(ev.target_tables, ['main.accounts']);
  assert.deepEqual(ev.statement_types, ['write']);
  assert.equal(ev.justification, 'ticket CHG-42: close duplicate account');
  assert.equal(ev.approvals_required, 1);
  assert.equal(ev.approval_expires_at, '2026-03-02T11:00:00.000Z');
  assert.equal(ev.outcome, 'pending');
  assert.equal(await statements.get(r.approvalId, sha256(DELETE)), DELETE, 'exact text held for reviewers');
  const text = textOf(r.result);
  assert.match(text, new RegExp(r.approvalId));
  assert.match(text, /http:\/\/127\.0\.0\.1:8080\/approvals\/ui\/apr-/);
  assert.match(text, /^  bqwarden approvals show apr-[a-z0-9]+$/m, 'the show command, complete');
  assert.match(text, /^  bqwarden approvals approve apr-[a-z0-9]+$/m, 'the approve command, complete');
  assert.doesNotMatch(text, /npx/, 'never a registry lookup');
  assert.match(text, /re-run this exact call/);
  assert.equal(r.result.isError, true);
  assert.equal(present((r.result._meta as Record<string, { id: string }>)['bqwarden/approval'], 'bqwarden/approval in _meta').id, r.approvalId);
  await approvals.close();
});

test('re-running while pending returns the same request, no duplicate event', async () => {
  const { gate, audit } = await setup();
  const a = await gate.check(held('eve@bank.example', DELETE));
  const b = await gate.check(held('eve@bank.example', DELETE));
  assert.equal(a.approvalId, b.approvalId);
  assert.equal(b.status, 'pending');
  assert.equal(audit.ofType('approval_requested').length, 1);
  // Concurrent identical first calls also collapse into one request.
  const [c, d] = await Promise.all([gate.check(held('mallory@bank.example', DELETE)), gate.check(held('mallory@bank.example', DELETE))]);
  assert.equal(c.approvalId, d.approvalId);
  assert.equal(audit.ofType('approval_requested').length, 2);
});

test('approve → re-run executes once → a re-run afterwards answers "already executed"; a new justification asks again', async () => {
  const { gate, service, audit, statements } = await setup();
  const first = await gate.check(held('eve@bank.example', DELETE));
  await service.approve(first.approvalId, reviewer('bob@bank.example'), 'checked with the account owner');
  const granted = audit.ofType('approval_granted');
  const grant = only(granted, 'approval_granted event');
  assert.equal(grant.actor_email, 'bob@bank.example');
  assert.deepEqual(grant.approval_approvers, ['bob@bank.example']);
  assert.equal(grant.decision_reason, 'checked with the account owner');

  const call = held('eve@bank.example', DELETE);
  const run = await gate.check(call);
  assert.equal(run.status, 'approved');
  if (run.status !== 'approved') return;
  assert.equal(run.approvalId, first.approvalId);
  assert.deepEqual(run.approvers, ['bob@bank.example']);
  assert.equal(run.requester, 'eve@bank.example');
  const claim = audit.ofType('approval_executed');
  assert.equal(claim.length, 1, 'consumption recorded before forwarding');
  assert.equal(claim[0]!.outcome, 'pending');
  assert.deepEqual(run.votes, [{ by: 'bob@bank.example', reason: 'checked with the account owner' }]);
  await gate.executed(call, run.approvalId, 'success', 1);
  const done = audit.ofType('approval_executed');
  assert.equal(done.length, 2);
  assert.equal(done[1]!.outcome, 'success');
  assert.equal(done[1]!.response_json, '{"rows_affected":1}');
  assert.equal(service.get(run.approvalId)!.execution?.rowsAffected, 1);
  assert.equal(done[1]!.sql_sha256, sha256(DELETE), 'executed text hash = approved text hash');
  assert.equal(service.get(run.approvalId)!.execution?.outcome, 'success');
  await new Promise((r) => setImmediate(r));
  assert.equal(await statements.get(run.approvalId, sha256(DELETE)), null, 'exact text dropped once closed');

  // The agent re-runs the call (a lost answer, a retry loop): it hears what happened, and no
  // second request appears for an approver to approve by mistake.
  const again = await gate.check(held('eve@bank.example', DELETE));
  assert.equal(again.status, 'executed');
  assert.equal(again.approvalId, first.approvalId);
  assert.equal(audit.ofType('approval_requested').length, 1, 'no duplicate request');
  if ('result' in again) {
    assert.equal(again.result.isError, true, 'nothing ran this time');
    assert.match(textOf(again.result), /already ran at .* \(success, 1 row affected\), approved by bob@bank\.example \("checked with the account owner"\)/);
    assert.match(textOf(again.result), /new justification/);
  }
  // Asking to run it a second time, with a reason: a new request, which says what came before.
  const second = await gate.check(held('eve@bank.example', DELETE, { justification: 'the row came back after the sync; delete it again' }));
  assert.equal(second.status, 'pending');
  assert.notEqual(second.approvalId, first.approvalId);
  if ('result' in second) assert.match(textOf(second.result), /already ran it once/);
});

test('once a statement ran, an open duplicate of the same call is spent (superseded), so approving it cannot run it again', async () => {
  const { gate, service, audit } = await setup();
  // Two open requests for one call: the second made under a stricter requirement (policy changed).
  const weak = await gate.check(held('eve@bank.example', DELETE, { required: 1 }));
  const strict = await gate.check(held('eve@bank.example', DELETE, { required: 2 }));
  assert.notEqual(weak.approvalId, strict.approvalId);
  await service.approve(weak.approvalId, reviewer('bob@bank.example'), 'ok');
  const call = held('eve@bank.example', DELETE, { required: 1 });
  const run = await gate.check(call);
  assert.equal(run.status, 'approved');
  await gate.executed(call, run.approvalId, 'success', 1);
  const rec = service.get(strict.approvalId)!;
  assert.equal(rec.status, 'rejected');
  assert.equal(rec.rejection?.actor.display, 'bqwarden');
  assert.match(rec.rejection?.reason ?? '', new RegExp(`superseded: the same statement already ran under ${weak.approvalId}`));
  await assert.rejects(service.approve(strict.approvalId, reviewer('carol@bank.example'), 'late'), (e: ApprovalError) => e.code === 'not_open');
  assert.equal(audit.ofType('approval_rejected').length, 1);
});

test('an approval is used once even under concurrent re-runs', async () => {
  const { gate, service } = await setup();
  const first = await gate.check(held('eve@bank.example', DELETE));
  await service.approve(first.approvalId, reviewer('bob@bank.example'), 'ok');
  const results = await Promise.all([1, 2, 3, 4].map(() => gate.check(held('eve@bank.example', DELETE))));
  assert.equal(results.filter((r) => r.status === 'approved').length, 1);
});

test('self-approval is refused (same subject+issuer, and same email under another identity) and audited', async () => {
  const { gate, service, audit } = await setup();
  const r = await gate.check(held('eng-approver@bank.example', DELETE));
  await assert.rejects(service.approve(r.approvalId, reviewer('eng-approver@bank.example'), 'looks fine'), (e: ApprovalError) => e.code === 'self_approval' && e.httpStatus === 403);
  // Same person at another issuer, or with a different subject but the same email.
  const other = reviewer('eng-approver@bank.example', { subject: 'okta|123', issuer: 'https://okta.example', email: 'Eng-Approver@Bank.example' });
  other.roles = ['approver'];
  await assert.rejects(service.approve(r.approvalId, other, 'looks fine'), (e: ApprovalError) => e.code === 'self_approval');
  const refusals = audit.ofType('http_error');
  assert.equal(refusals.length, 2);
  assert.equal(refusals[0]!.error_code, 'approval_self_approval');
  assert.equal(refusals[0]!.approval_id, r.approvalId);
  assert.equal(service.get(r.approvalId)!.status, 'pending');
  assert.equal(audit.ofType('approval_granted').length, 0);
});

test('only holders of the approver role, and only people, may approve', async () => {
  const { gate, service } = await setup();
  const r = await gate.check(held('eve@bank.example', DELETE));
  // Another engineer or an analyst cannot even see it (the statement is sensitive).
  await assert.rejects(service.approve(r.approvalId, reviewer('mallory@bank.example'), 'sure'), (e: ApprovalError) => e.code === 'not_found');
  await assert.rejects(service.approve(r.approvalId, reviewer('dave@bank.example'), 'sure'), (e: ApprovalError) => e.code === 'not_found');
  await assert.rejects(service.approve(r.approvalId, reviewer('bob@bank.example', { actorType: 'agent' }), 'sure'), (e: ApprovalError) => e.code === 'actor_type_not_allowed');
  await assert.rejects(service.approve(r.approvalId, reviewer('bob@bank.example'), '   '), (e: ApprovalError) => e.code === 'reason_required');
  await assert.rejects(service.approve(r.approvalId, reviewer('bob@bank.example'), 'ok', 'f'.repeat(64)), (e: ApprovalError) => e.code === 'sql_mismatch');
  assert.equal(service.get(r.approvalId)!.status, 'pending');
});

test('altered SQL, altered arguments, or another user cannot ride on an approval', async () => {
  const { gate, service } = await setup();
  const r = await gate.check(held('eve@bank.example', DELETE));
  await service.approve(r.approvalId, reviewer('bob@bank.example'), 'ok');
  const altered = await gate.check(held('eve@bank.example', DELETE.replace("'A-1001'", "'A-1001' OR 1=1")));
  assert.equal(altered.status, 'pending');
  assert.notEqual(altered.approvalId, r.approvalId);
  const whitespace = await gate.check(held('eve@bank.example', DELETE + ' '));
  assert.equal(whitespace.status, 'pending', 'exact text: even whitespace matters');
  const args = await gate.check(held('eve@bank.example', DELETE, { args: { project: 'prod' } }));
  assert.equal(args.status, 'pending', 'another argument changed');
  const other = await gate.check(held('mallory@bank.example', DELETE));
  assert.equal(other.status, 'pending', 'another user');
  assert.notEqual(other.approvalId, r.approvalId);
  const sameEmailOtherIssuer = await gate.check(held('x', DELETE, { id: identity('eve@bank.example', { issuer: 'https://other.example' }) }));
  assert.equal(sameEmailOtherIssuer.status, 'pending', 'binding is subject+issuer');
  // The justification is not part of the binding; the original call still executes.
  const ok = await gate.check(held('eve@bank.example', DELETE, { justification: 'different words' }));
  assert.equal(ok.status, 'approved');
});

test('a call whose analysis is of another text is denied (binding integrity)', async () => {
  const { gate } = await setup();
  const call = held('eve@bank.example', DELETE);
  call.analysis = { ...call.analysis, sha256: sha256('SELECT 1') };
  await assert.rejects(gate.check(call), (e: GatewayError) => e instanceof GatewayError && /sha256 differs/.test(e.message));
  const noRoles = held('eve@bank.example', DELETE, { roles: [] });
  await assert.rejects(gate.check(noRoles), (e: GatewayError) => /names no approver roles/.test(e.message));
});

test('expired: approval after expiry refused; an approved request past expiry does not execute', async () => {
  const { gate, service, clock, audit } = await setup();
  const a = await gate.check(held('eve@bank.example', DELETE, { expires: 600 }));
  clock.advance(601);
  await assert.rejects(service.approve(a.approvalId, reviewer('bob@bank.example'), 'late'), (e: ApprovalError) => e.code === 'expired');
  assert.equal(audit.ofType('approval_expired').length, 1);
  assert.equal(service.get(a.approvalId)!.status, 'expired');

  const b = await gate.check(held('eve@bank.example', DELETE, { expires: 600 }));
  assert.notEqual(b.approvalId, a.approvalId);
  if (b.status !== 'approved') assert.match(textOf(b.result), /previous request .* expired/);
  await service.approve(b.approvalId, reviewer('bob@bank.example'), 'ok');
  clock.advance(601);
  const c = await gate.check(held('eve@bank.example', DELETE, { expires: 600 }));
  assert.equal(c.status, 'pending', 'approved but expired: not executed');
  assert.notEqual(c.approvalId, b.approvalId);
  assert.equal(service.get(b.approvalId)!.status, 'expired');
  assert.equal(audit.ofType('approval_executed').length, 0);
});

test('the sweep closes open requests past expiry', async () => {
  const { gate, service, clock, audit } = await setup();
  await gate.check(held('eve@bank.example', DELETE, { expires: 60 }));
  await gate.check(held('mallory@bank.example', DELETE, { expires: 6000 }));
  clock.advance(61);
  assert.equal(await service.sweep(), 1);
  assert.equal(audit.ofType('approval_expired').length, 1);
  assert.equal(await service.sweep(), 0);
});

test('two-approver rule needs two distinct approvers', async () => {
  const { gate, service } = await setup();
  const drop = 'DROP TABLE transactions';
  const r = await gate.check(held('eve@bank.example', drop, { required: 2, kind: 'drop_table', cls: 'ddl' }));
  await service.approve(r.approvalId, reviewer('bob@bank.example'), 'first');
  assert.equal((await gate.check(held('eve@bank.example', drop, { required: 2, kind: 'drop_table', cls: 'ddl' }))).status, 'pending');
  await assert.rejects(service.approve(r.approvalId, reviewer('bob@bank.example'), 'again'), (e: ApprovalError) => e.code === 'already_voted');
  const bobElsewhere = reviewer('bob@bank.example', { subject: 'bob-2', issuer: 'https://idp2.example', email: 'BOB@bank.example' });
  bobElsewhere.roles = ['approver'];
  await assert.rejects(service.approve(r.approvalId, bobElsewhere, 'again'), (e: ApprovalError) => e.code === 'already_voted');
  await service.approve(r.approvalId, reviewer('carol@bank.example'), 'second');
  const run = await gate.check(held('eve@bank.example', drop, { required: 2, kind: 'drop_table', cls: 'ddl' }));
  assert.equal(run.status, 'approved');
  if (run.status === 'approved') assert.deepEqual(run.approvers, ['bob@bank.example', 'carol@bank.example']);
});

test('a request made under a weaker requirement does not satisfy a stricter policy', async () => {
  const { gate, service } = await setup();
  const r = await gate.check(held('eve@bank.example', DELETE, { required: 1 }));
  await service.approve(r.approvalId, reviewer('bob@bank.example'), 'ok');
  const stricter = await gate.check(held('eve@bank.example', DELETE, { required: 2 }));
  assert.equal(stricter.status, 'pending');
  assert.notEqual(stricter.approvalId, r.approvalId);
});

test('rejected closes the request; a re-run answers "rejected"; with a new justification it opens a new one and says why the last was rejected', async () => {
  const { gate, service, audit } = await setup();
  const r = await gate.check(held('eve@bank.example', DELETE));
  await service.reject(r.approvalId, reviewer('bob@bank.example'), 'wrong account');
  assert.equal(audit.ofType('approval_rejected')[0]?.decision_reason, 'wrong account');
  await assert.rejects(service.approve(r.approvalId, reviewer('carol@bank.example'), 'ok'), (e: ApprovalError) => e.code === 'not_open');
  const same = await gate.check(held('eve@bank.example', DELETE));
  assert.equal(same.status, 'rejected');
  assert.equal(same.approvalId, r.approvalId);
  if ('result' in same) assert.match(textOf(same.result), /rejected by bob@bank\.example at .*: wrong account\. Nothing was executed\.\nTo ask again/);
  assert.equal(audit.ofType('approval_requested').length, 1);
  const again = await gate.check(held('eve@bank.example', DELETE, { justification: 'account A-1001 confirmed with the owner' }));
  assert.equal(again.status, 'pending');
  assert.notEqual(again.approvalId, r.approvalId);
  if ('result' in again) assert.match(textOf(again.result), /rejected by bob@bank\.example: wrong account/);
  // The requester may withdraw their own request, but an unrelated engineer may not reject it.
  await assert.rejects(service.reject(again.approvalId, reviewer('mallory@bank.example'), 'no'), (e: ApprovalError) => e.code === 'not_found');
  await service.reject(again.approvalId, reviewer('eve@bank.example'), 'typo in ticket');
  assert.equal(service.get(again.approvalId)!.status, 'rejected');
});

test('fails closed when the audit log cannot record the request', async () => {
  const { gate, audit, service } = await setup();
  audit.failNext = 1;
  await assert.rejects(gate.check(held('eve@bank.example', DELETE)), (e: GatewayError) => e instanceof GatewayError && e.code === -32004);
  assert.equal(service.state.byId.size, 0);
  const r = await gate.check(held('eve@bank.example', DELETE));
  audit.failNext = 1;
  await assert.rejects(service.approve(r.approvalId, reviewer('bob@bank.example'), 'ok'), (e: ApprovalError) => e.code === 'audit_unavailable');
  assert.equal(service.get(r.approvalId)!.status, 'pending', 'nothing changed when the vote was not durable');
  await service.approve(r.approvalId, reviewer('bob@bank.example'), 'ok');
  audit.failNext = 1;
  await assert.rejects(gate.check(held('eve@bank.example', DELETE)), (e: GatewayError) => e instanceof GatewayError && e.code === -32004);
  assert.equal(service.get(r.approvalId)!.status, 'approved', 'claim not durable → not consumed, not executed');
  assert.equal((await gate.check(held('eve@bank.example', DELETE))).status, 'approved');
});

test('wait: the call is held open with progress and returns approved as soon as it is approved', async () => {
  const { gate, service } = await setup({ config: { wait: { enabled: false, maxSeconds: 30, progressIntervalSeconds: 0.05 } } });
  const progress: string[] = [];
  const pending = gate.check(held('eve@bank.example', DELETE, { meta: { 'bqwarden/wait_for_approval': true }, progress: (_p, _t, m) => progress.push(m ?? '') }));
  // Wait for the request to exist and some progress to flow, then approve.
  while (progress.length < 2) await new Promise((r) => setTimeout(r, 20));
  const [rec] = service.state.byId.values();
  assert.ok(rec, 'the held request is recorded');
  await service.approve(rec.id, reviewer('bob@bank.example'), 'ok');
  const r = await pending;
  assert.equal(r.status, 'approved');
  assert.match(progress[0]!, /waiting for approval apr-/);
});

test('wait: rejection ends the wait with rejected; cancellation ends it with pending', async () => {
  const { gate, service } = await setup({ config: { wait: { enabled: true, maxSeconds: 30, progressIntervalSeconds: 1 } } });
  const p = gate.check(held('eve@bank.example', DELETE));
  while (service.state.byId.size === 0) await new Promise((r) => setTimeout(r, 10));
  const [rec] = service.state.byId.values();
  assert.ok(rec, 'the held request is recorded');
  await service.reject(rec.id, reviewer('bob@bank.example'), 'no');
  assert.equal((await p).status, 'rejected');

  const ac = new AbortController();
  const q = gate.check(held('eve@bank.example', DELETE, { signal: ac.signal, justification: 'asking again' }));
  setTimeout(() => ac.abort(), 50);
  assert.equal((await q).status, 'pending');
  // A client that opts out gets an immediate answer even though waiting is configured.
  assert.equal(gate.waitSeconds(held('eve@bank.example', DELETE, { meta: { 'bqwarden/wait_for_approval': false } })), 0);
  assert.equal(gate.waitSeconds(held('eve@bank.example', DELETE, { meta: { 'bqwarden/wait_for_approval': 9999 } })), 30, 'capped by maxSeconds');
});
