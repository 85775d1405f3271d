// Write-ahead audit through the real pipeline and a real JSONL audit log. The upstream is a
// function that, when called, reads the audit files from disk: so "the intent was durable
// before the upstream saw the call" is checked at the moment the upstream sees it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog } from '../../src/audit/log.js';
import { JsonlSink } from '../../src/sinks/jsonl.js';
import { loadOrCreateSigner, loadPublicKeysFromDir } from '../../src/audit/checkpoint.js';
import { readEvents } from '../../src/audit/reader.js';
import { verifyDir } from '../../src/audit/verify.js';
import type { AuditEvent } from '../../src/audit/event.js';
import type { AuditSink } from '../../src/audit/sink.js';
import { GatewayError } from '../../src/pipeline/types.js';
import { ctxFor, pipelineFor, rulesWithDirectWrites, sqlCall } from './helpers.js';

/** The JSONL sink with a switch that makes writes fail (a sink outage). */
class SwitchableSink implements AuditSink {
  readonly name = 'switchable-jsonl';
  fail = false;
  constructor(readonly inner: JsonlSink) {}
  get chainId() {
    return this.inner.chainId;
  }
  write(events: AuditEvent[]) {
    return this.fail ? Promise.reject(new Error('injected: sink unavailable')) : this.inner.write(events);
  }
  recoverHead(chainId: string) {
    return this.inner.recoverHead(chainId);
  }
  isReady() {
    return !this.fail && this.inner.isReady();
  }
  close() {
    return this.inner.close();
  }
}

async function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'bqw-intent-'));
  const rules = rulesWithDirectWrites();
  const sink = new SwitchableSink(await JsonlSink.open({ dir: join(dir, 'audit') }));
  const audit = await AuditLog.open({ sink, signer: loadOrCreateSigner({ keysDir: join(dir, 'keys') }), gatewayVersion: 't', instance: 'i' });
  const pipeline = await pipelineFor(rules.dir, audit);
  const onDisk = async () => {
    const out: AuditEvent[] = [];
    for await (const { event } of readEvents(join(dir, 'audit'))) out.push(event);
    return out;
  };
  return {
    dir,
    sink,
    audit,
    pipeline,
    onDisk,
    async cleanup() {
      await audit.close().catch(() => undefined);
      rules.cleanup();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const ROWS = { content: [{ type: 'text', text: '[]' }] };
const UPDATE = "UPDATE accounts SET status = 'frozen' WHERE account_id = 'A-7001'";
const SELECT = 'SELECT account_id, status FROM accounts LIMIT 1';

test('a write leaves a durable intent before the upstream sees it; the outcome names it; plain reads and metadata tools do not', async () => {
  const s = await setup();
  try {
    const engineer = ctxFor('eve@bank.example', ['engineer']);
    let atForward: AuditEvent[] = [];
    const upstream = async () => {
      atForward = await s.onDisk();
      return ROWS;
    };
    await s.pipeline.onRequest(engineer, 'tools/call', sqlCall(UPDATE), upstream);
    const intent = atForward.find((e) => e.event_type === 'mcp_intent');
    assert.ok(intent, 'the intent is on disk when the upstream is called');
    assert.equal(intent.outcome, 'pending');
    assert.deepEqual(intent.statement_types, ['write']);
    assert.equal(intent.decision, 'allow');
    assert.equal(intent.sql_sha256 !== null, true);
    const outcome = (await s.onDisk()).find((e) => e.event_type === 'mcp_request' && e.tool_name === 'execute_sql')!;
    assert.equal(outcome.intent_id, intent.event_id);
    assert.equal(outcome.outcome, 'success');
    assert.ok(outcome.seq > intent.seq);

    const n = (await s.onDisk()).length;
    await s.pipeline.onRequest(engineer, 'tools/call', sqlCall(SELECT), upstream);
    assert.equal(atForward.length, n, 'a plain read with a ready log is forwarded without an intent');
    await s.pipeline.onRequest(engineer, 'tools/call', { name: 'list_tables', arguments: {} }, upstream);
    const after = await s.onDisk();
    assert.equal(after.filter((e) => e.event_type === 'mcp_intent').length, 1, 'the metadata-only tool needs none either');
    assert.equal(after.filter((e) => e.event_type === 'mcp_request' && e.intent_id === null).length, 2);
  } finally {
    await s.cleanup();
  }
});

test('sink down: no call reaches the upstream without its intent — writes and reads are refused before forwarding, then heal', async () => {
  const s = await setup();
  try {
    const analyst = ctxFor('ana@bank.example', ['analyst']);
    const engineer = ctxFor('eve@bank.example', ['engineer']);
    let forwarded = 0;
    const upstream = async () => {
      forwarded++;
      return ROWS;
    };
    s.sink.fail = true;
    const expectRefused = (err: unknown) => err instanceof GatewayError && err.code === -32004 && /not sent upstream/.test(err.message) && err.data?.reason === 'audit_unavailable';
    await assert.rejects(s.pipeline.onRequest(engineer, 'tools/call', sqlCall(UPDATE), upstream), expectRefused);
    assert.equal(forwarded, 0, 'the write never reached the upstream');
    assert.equal(s.audit.isReady(), false);
    await assert.rejects(s.pipeline.onRequest(analyst, 'tools/call', sqlCall(SELECT), upstream), expectRefused);
    await assert.rejects(s.pipeline.onRequest(analyst, 'tools/list', {}, upstream), expectRefused);
    assert.equal(forwarded, 0, 'while the log is not ready, reads need an intent too');

    s.sink.fail = false;
    await s.pipeline.onRequest(analyst, 'tools/call', sqlCall(SELECT), upstream);
    assert.equal(forwarded, 1);
    const events = await s.onDisk();
    const intents = events.filter((e) => e.event_type === 'mcp_intent');
    assert.equal(intents.length, 1, 'the first read after the outage carried an intent (the log was still recovering)');
    assert.equal(events.at(-1)!.intent_id, intents[0]!.event_id);
    await s.pipeline.onRequest(analyst, 'tools/call', sqlCall(SELECT), upstream);
    assert.equal((await s.onDisk()).filter((e) => e.event_type === 'mcp_intent').length, 1, 'healthy again: reads go without');
  } finally {
    await s.cleanup();
  }
});

test('the sink fails after the call was forwarded: the client gets the audit error, and verify shows the intent without outcome', async () => {
  const s = await setup();
  try {
    const engineer = ctxFor('eve@bank.example', ['engineer']);
    await assert.rejects(
      s.pipeline.onRequest(engineer, 'tools/call', sqlCall(UPDATE), async () => {
        s.sink.fail = true; // the disk dies while the statement runs
        return ROWS;
      }),
      (err: unknown) => err instanceof GatewayError && err.code === -32004 && /response is withheld/.test(err.message),
    );
    s.sink.fail = false;
    await s.audit.close();
    const r = await verifyDir(join(s.dir, 'audit'), { publicKeys: loadPublicKeysFromDir(join(s.dir, 'keys')), requireSealed: true });
    assert.equal(r.ok, true, JSON.stringify(r.breaks));
    assert.deepEqual(r.intents, { written: 1, open: 1 });
    const open = r.notices.find((n) => n.kind === 'intent_without_outcome')!;
    assert.ok(open);
    assert.match(open.message, /execute_sql/);
    assert.match(open.message, /crashed or its audit sink failed after the call was sent upstream/);
  } finally {
    await s.cleanup();
  }
});
