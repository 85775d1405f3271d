// The real @google-cloud/pubsub client against a local gRPC Pub/Sub with injected faults.
// Invariants checked in every case: a write() never resolves before Pub/Sub stored all of its
// events; nothing acknowledged is lost; per ordering key the events are stored in seq order
// (duplicates from lost acks carry the same event id); failures are bounded and fail closed.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { FakePubSubServer, type PublishAction } from '../fixtures/pubsub-server.js';
import { PubSubAuditSink, PubSubSinkError } from '../../src/sinks/pubsub.js';
import { AuditEventSchema, type AuditEvent } from '../../src/audit/event.js';
import { fakeChain } from './events.js';
import { at, first } from '../helpers/present.js';

process.env.METADATA_SERVER_DETECTION = 'none';

let server: FakePubSubServer;
let actions: PublishAction[] = [];
let sinks: PubSubAuditSink[] = [];

before(async () => {
  server = new FakePubSubServer({ onPublish: () => actions.shift() ?? { kind: 'ok' } });
  await server.start();
});
after(async () => {
  await server.stop();
});
beforeEach(async () => {
  for (const s of sinks) await s.close();
  sinks = [];
  actions = [];
  server.messages.length = 0;
  server.publishCalls = 0;
});

function sink(retry: Record<string, number> = {}): PubSubAuditSink {
  const s = new PubSubAuditSink({
    topic: 'audit',
    project: 'test-project',
    endpoint: server.endpoint,
    retry: { rpcTimeoutMs: 1000, totalTimeoutMs: 1500, initialBackoffMs: 5, maxBackoffMs: 20, maxAttempts: 3, ...retry },
  });
  sinks.push(s);
  return s;
}

function storedIds(): Set<string> {
  return new Set(server.messages.flatMap((m) => m.attributes.event_id ?? []));
}

/** write() that asserts, at the moment it resolves, that the server holds every event. */
async function checkedWrite(s: PubSubAuditSink, events: AuditEvent[]): Promise<void> {
  await s.write(events);
  const ids = storedIds();
  for (const e of events) assert.ok(ids.has(e.event_id), `write resolved before event seq ${e.seq} was stored`);
}

/** Per key: first occurrences in stored order must be ascending seq; duplicates same content. */
function assertOrderedNoLoss(expected: AuditEvent[]): void {
  const byKey = new Map<string, AuditEvent[]>();
  for (const e of expected) byKey.set(e.chain_id, [...(byKey.get(e.chain_id) ?? []), e]);
  for (const [key, evs] of byKey) {
    const seen = new Map<string, string>();
    const firstSeqs: number[] = [];
    for (const m of server.byKey(key)) {
      const text = m.data.toString('utf8');
      const ev = AuditEventSchema.parse(JSON.parse(text));
      assert.equal(ev.chain_id, key, 'ordering key is the chain id');
      assert.equal(m.attributes.event_id, ev.event_id);
      const prior = seen.get(ev.event_id);
      if (prior !== undefined) assert.equal(prior, text, 'a duplicate carries the same event');
      else {
        seen.set(ev.event_id, text);
        firstSeqs.push(ev.seq);
      }
    }
    assert.deepEqual(
      firstSeqs,
      evs.map((e) => e.seq),
      `chain ${key}: every event stored once in seq order`,
    );
  }
}

test('publishes every event as schema-valid JSON with the chain as ordering key', async () => {
  const s = sink();
  const a = fakeChain('chain-a', 12);
  const b = fakeChain('chain-b', 7);
  await Promise.all([...[0, 4, 8].map((i) => checkedWrite(s, a.slice(i, i + 4))), checkedWrite(s, b.slice(0, 3)), checkedWrite(s, [...b.slice(3)])]);
  assert.equal(server.messages.length, 19);
  assertOrderedNoLoss([...a, ...b]);
  const m = first(server.messages, 'published message');
  assert.equal(m.topic, 'projects/test-project/topics/audit');
  assert.deepEqual(Object.keys(m.attributes).sort(), ['chain_id', 'event_id', 'event_type', 'schema_version', 'seq']);
  assert.ok(s.isReady());
  assert.deepEqual(await s.recoverHead('chain-a'), { chain_id: 'chain-a', seq: 11, hash: at(a, 11, 'event of chain-a').hash });
  assert.equal(await s.recoverHead('unknown'), null);
});

test('a slow ack holds the write until the server answered', async () => {
  const s = sink();
  actions = [{ kind: 'delay', ms: 300 }];
  const evs = fakeChain('slow', 2);
  let resolved = false;
  const p = s.write(evs).then(() => (resolved = true));
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(resolved, false, 'write resolved while the publish was still unacknowledged');
  await p;
  assert.equal(resolved, true);
  assertOrderedNoLoss(evs);
});

test('transient UNAVAILABLE is retried and nothing is lost', async () => {
  const s = sink();
  actions = [
    { kind: 'fail', code: status.UNAVAILABLE },
    { kind: 'fail', code: status.UNAVAILABLE },
  ];
  const evs = fakeChain('flaky', 5);
  await checkedWrite(s, evs);
  assertOrderedNoLoss(evs);
  assert.ok(s.isReady());
});

test('a lost ack (DEADLINE_EXCEEDED after store) yields duplicates with the same event id, in order', async () => {
  const s = sink();
  actions = [{ kind: 'store_then_fail', code: status.DEADLINE_EXCEEDED }];
  const evs = fakeChain('dup', 4);
  await checkedWrite(s, evs);
  assert.ok(server.messages.length > evs.length, 'the retry stored a duplicate');
  assertOrderedNoLoss(evs);
});

test('a dropped connection is survived by reconnecting', async () => {
  const s = sink({ totalTimeoutMs: 5000 });
  await checkedWrite(s, fakeChain('warm', 1));
  actions = [{ kind: 'drop' }];
  const evs = fakeChain('drop', 3);
  await checkedWrite(s, evs);
  assert.ok(server.publishCalls >= 3, 'the dropped call was retried on a new connection');
  assertOrderedNoLoss(evs);
});

test('concurrent writes of one chain keep seq order when an earlier batch fails once', async () => {
  const s = sink();
  const evs = fakeChain('order', 20);
  actions = [{ kind: 'fail', code: status.UNAVAILABLE }, { kind: 'ok' }, { kind: 'fail', code: status.INTERNAL }];
  await Promise.all([0, 5, 10, 15].map((i) => checkedWrite(s, evs.slice(i, i + 5))));
  assertOrderedNoLoss(evs);
});

test('persistent outage: bounded retries, clear rejection, not ready, then recovery', async () => {
  const s = sink({ maxAttempts: 2, totalTimeoutMs: 200 });
  server.onPublish = () => ({ kind: 'fail', code: status.UNAVAILABLE });
  try {
    const evs = fakeChain('outage', 3);
    await assert.rejects(s.write(evs), (e: unknown) => {
      assert.ok(e instanceof PubSubSinkError);
      assert.equal(e.reason, 'publish_failed');
      assert.match(e.message, /chain outage seq 0\.\.2 after 2 attempts/);
      return true;
    });
    assert.equal(s.isReady(), false, 'sink must report not ready after giving up');
    assert.equal(server.messages.length, 0);
    const calls = server.publishCalls;
    assert.ok(calls >= 2 && calls < 200, `publish attempts are bounded (${calls})`);
  } finally {
    server.onPublish = () => actions.shift() ?? { kind: 'ok' };
  }
  const later = fakeChain('outage', 2, 3);
  await checkedWrite(s, later);
  assert.equal(s.isReady(), true, 'a successful publish makes the sink ready again');
  assertOrderedNoLoss(later);
});

test('a non-retryable error rejects at once without our own re-attempts', async () => {
  const s = sink({ maxAttempts: 5 });
  actions = [{ kind: 'fail', code: status.PERMISSION_DENIED, message: 'caller lacks pubsub.topics.publish' }];
  await assert.rejects(s.write(fakeChain('denied', 1)), (e: unknown) => {
    assert.ok(e instanceof PubSubSinkError);
    assert.equal(e.reason, 'publish_rejected');
    assert.equal(e.grpcCode, status.PERMISSION_DENIED);
    assert.match(e.message, /non-retryable/);
    return true;
  });
  assert.equal(server.publishCalls, 1);
  assert.equal(s.isReady(), false);
});

test('an event that does not match the audit schema is refused before publishing', async () => {
  const s = sink();
  const [ev] = fakeChain('bad', 1);
  const broken = { ...ev, seq: -1 } as AuditEvent;
  await assert.rejects(s.write([broken]), (e: unknown) => e instanceof PubSubSinkError && e.reason === 'invalid_event' && /seq/.test(e.message));
  const extra = { ...ev, unexpected_field: 'x' } as AuditEvent;
  await s.write([extra]);
  assert.equal(JSON.parse(first(server.messages, 'published message').data.toString()).unexpected_field, undefined, 'unknown keys are stripped, never published');
  assert.equal(server.publishCalls, 1);
});

test('a closed sink refuses writes', async () => {
  const s = sink();
  await s.close();
  await assert.rejects(s.write(fakeChain('closed', 1)), (e: unknown) => e instanceof PubSubSinkError && e.reason === 'closed');
  assert.equal(s.isReady(), false);
});
