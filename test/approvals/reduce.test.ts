// The pure fold from audit events to approval state, including events that should never have
// been written (the fold must not count them even if they are in the log).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AuditEvent, AuditEventInput } from '../../src/audit/event.js';
import { reduceApprovals, statusAt } from '../../src/approvals/reduce.js';
import { Clock, FakeAudit } from './helpers.js';

const clock = new Clock();

function build() {
  const audit = new FakeAudit(clock);
  const ev = (input: AuditEventInput) => audit.append(input);
  return { audit, ev };
}

const person = (email: string, roles: string[]) => ({ actor_subject: email, actor_email: email, actor_issuer: 'iss', actor_roles: roles, actor_type: 'human' as const });

function requested(id: string, required = 1, extra: Partial<AuditEventInput> = {}): AuditEventInput {
  return {
    event_type: 'approval_requested',
    ...person('eve@bank.example', ['engineer']),
    approval_id: id,
    tool_name: 'execute_sql',
    sql_sha256: 'a'.repeat(64),
    sql_text: 'DELETE FROM accounts WHERE id = ?',
    approvals_required: required,
    approval_expires_at: '2026-03-02T11:00:00.000Z',
    target_tables: ['main.accounts'],
    statement_types: ['write'],
    request_json: JSON.stringify({ approval: { approver_roles: ['approver'], args_sha256: 'b'.repeat(64) } }),
    outcome: 'pending',
    ...extra,
  };
}

const grant = (id: string, email: string, roles = ['approver'], extra: Partial<AuditEventInput> = {}): AuditEventInput => ({
  event_type: 'approval_granted',
  ...person(email, roles),
  approval_id: id,
  outcome: 'success',
  decision_reason: 'ok',
  ...extra,
});

test('request → grant → approved → claim → executed', async () => {
  const { audit, ev } = build();
  await ev(requested('apr-aaaaaa'));
  let s = reduceApprovals(audit.events);
  const r = s.byId.get('apr-aaaaaa')!;
  assert.equal(r.status, 'pending');
  assert.deepEqual(r.approverRoles, ['approver']);
  assert.equal(r.argsSha256, 'b'.repeat(64));
  await ev(grant('apr-aaaaaa', 'bob@bank.example'));
  s = reduceApprovals(audit.events);
  assert.equal(s.byId.get('apr-aaaaaa')!.status, 'approved');
  await ev({ event_type: 'approval_executed', ...person('eve@bank.example', ['engineer']), approval_id: 'apr-aaaaaa', outcome: 'pending' });
  await ev({ event_type: 'approval_executed', ...person('eve@bank.example', ['engineer']), approval_id: 'apr-aaaaaa', outcome: 'success' });
  s = reduceApprovals(audit.events);
  const done = s.byId.get('apr-aaaaaa')!;
  assert.equal(done.status, 'executed');
  assert.equal(done.execution?.outcome, 'success');
  assert.deepEqual(s.anomalies, []);
});

test('the fold refuses self-approval, duplicate approvers, non-approvers and late votes even if they were logged', async () => {
  const { audit, ev } = build();
  await ev(requested('apr-bbbbbb', 2));
  await ev(grant('apr-bbbbbb', 'eve@bank.example', ['approver'])); // requester
  await ev(grant('apr-bbbbbb', 'bob@bank.example'));
  await ev(grant('apr-bbbbbb', 'BOB@bank.example')); // same person, other case
  await ev(grant('apr-bbbbbb', 'dave@bank.example', ['analyst'])); // not an approver
  await ev(grant('apr-bbbbbb', 'carol@bank.example', ['approver'], { event_time: '2026-03-02T11:00:00.000Z' })); // at expiry
  const s = reduceApprovals(audit.events);
  const r = s.byId.get('apr-bbbbbb')!;
  assert.equal(r.status, 'pending');
  assert.deepEqual(
    r.approvals.map((v) => v.actor.display),
    ['bob@bank.example'],
  );
  assert.equal(s.anomalies.length, 4);
  assert.match(s.anomalies.map((a) => a.reason).join('\n'), /self-approval[\s\S]*same approver[\s\S]*without an approver role[\s\S]*after the request expired/);
});

test('two distinct approvers satisfy a two-approver rule', async () => {
  const { audit, ev } = build();
  await ev(requested('apr-cccccc', 2));
  await ev(grant('apr-cccccc', 'bob@bank.example'));
  assert.equal(reduceApprovals(audit.events).byId.get('apr-cccccc')!.status, 'pending');
  await ev(grant('apr-cccccc', 'carol@bank.example'));
  assert.equal(reduceApprovals(audit.events).byId.get('apr-cccccc')!.status, 'approved');
});

test('rejected and expired close a request; later votes and claims do not reopen it', async () => {
  const { audit, ev } = build();
  await ev(requested('apr-dddddd'));
  await ev({ event_type: 'approval_rejected', ...person('bob@bank.example', ['approver']), approval_id: 'apr-dddddd', decision_reason: 'no', outcome: 'denied' });
  await ev(grant('apr-dddddd', 'carol@bank.example'));
  await ev(requested('apr-eeeeee'));
  await ev(grant('apr-eeeeee', 'carol@bank.example'));
  await ev({ event_type: 'approval_expired', approval_id: 'apr-eeeeee', outcome: 'denied' });
  await ev({ event_type: 'approval_executed', approval_id: 'apr-eeeeee', outcome: 'pending' });
  const s = reduceApprovals(audit.events);
  assert.equal(s.byId.get('apr-dddddd')!.status, 'rejected');
  assert.equal(s.byId.get('apr-dddddd')!.rejection?.reason, 'no');
  assert.equal(s.byId.get('apr-eeeeee')!.status, 'expired');
  assert.equal(s.anomalies.length, 2);
});

test('an execution without a claim, a claim before approval, and an unreadable binding do not count', async () => {
  const { audit, ev } = build();
  await ev(requested('apr-ffffff'));
  await ev({ event_type: 'approval_executed', approval_id: 'apr-ffffff', outcome: 'pending' });
  await ev({ event_type: 'approval_executed', approval_id: 'apr-ffffff', outcome: 'success' });
  await ev(requested('apr-gggggg', 1, { request_json: '{not json' }));
  await ev(grant('apr-gggggg', 'bob@bank.example'));
  const s = reduceApprovals(audit.events);
  assert.equal(s.byId.get('apr-ffffff')!.status, 'pending');
  assert.equal(s.byId.get('apr-gggggg')!.status, 'pending', 'no approver roles readable → nobody can approve');
  assert.equal(s.byId.get('apr-gggggg')!.argsSha256, null);
  assert.equal(s.anomalies.length, 3);
});

test('idempotent over replays, ignores other event types, and is deterministic', async () => {
  const { audit, ev } = build();
  await ev({ event_type: 'mcp_request', approval_id: 'apr-hhhhhh', outcome: 'success' });
  await ev(requested('apr-hhhhhh'));
  await ev(grant('apr-hhhhhh', 'bob@bank.example'));
  const twice: AuditEvent[] = [...audit.events, ...audit.events];
  const a = reduceApprovals(twice);
  const b = reduceApprovals(audit.events);
  assert.deepEqual([...a.byId.values()], [...b.byId.values()]);
  assert.equal(a.anomalies.length, 0);
  assert.equal(a.byId.get('apr-hhhhhh')!.status, 'approved');
});

test('statusAt: an open request past its expiry reads as expired before any event says so', async () => {
  const { audit, ev } = build();
  await ev(requested('apr-iiiiii'));
  const r = reduceApprovals(audit.events).byId.get('apr-iiiiii')!;
  assert.equal(statusAt(r, Date.parse('2026-03-02T10:59:59.999Z')), 'pending');
  assert.equal(statusAt(r, Date.parse('2026-03-02T11:00:00.000Z')), 'expired');
});
