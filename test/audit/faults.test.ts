// Faults of issue 13, each with the local fakes and the real parts: the expected client error,
// no execution without its intent record, nothing acknowledged lost.
//   upstream killed mid-call        real MCP Toolbox (SIGKILL) under the full gateway
//   Pub/Sub UNAVAILABLE for 30 s    real @google-cloud/pubsub client against the gRPC fake
//   disk full on the audit dir      a 512 KiB tmpfs over <data>/audit (needs root; skips otherwise)
//   clock skew                      the audit log's clock set back an hour and forward a day
// KMS unavailable is in test/gcp/kms-signer.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { startStack, rowsOf } from '../helpers/gateway.js';
import { readEvents } from '../../src/audit/reader.js';
import { loadOrCreateSigner, loadPublicKeysFromDir } from '../../src/audit/checkpoint.js';
import { createVerifier, verifyDir } from '../../src/audit/verify.js';
import { normalizeEvent } from '../../src/audit/normalize.js';
import { AuditLog } from '../../src/audit/log.js';
import { AnchorExporter, dirAnchorStore } from '../../src/audit/anchors.js';
import type { AuditEvent, AuditEventInput } from '../../src/audit/event.js';
import { PubSubAuditSink } from '../../src/sinks/pubsub.js';
import { GatewayError } from '../../src/pipeline/types.js';
import { FakePubSubServer } from '../fixtures/pubsub-server.js';
import { ctxFor, pipelineFor, rulesWithDirectWrites, sqlCall } from '../pipeline/helpers.js';
import { openLog, request, tempData } from './helpers.js';

process.env.METADATA_SERVER_DETECTION = 'none';

async function eventsIn(auditDir: string): Promise<AuditEvent[]> {
  const out: AuditEvent[] = [];
  for await (const { event } of readEvents(auditDir)) out.push(event);
  return out;
}

async function until(what: string, check: () => Promise<boolean> | boolean, tries = 600): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`gave up waiting for ${what}`);
}

type ToolResult = { isError?: boolean; content?: { text?: string }[] };

test('upstream killed mid-call: the write had its intent first, the client gets an error, the outcome links the intent, the chain verifies', { timeout: 180_000 }, async () => {
  const rules = rulesWithDirectWrites();
  const stack = await startStack({ rulesDir: rules.dir });
  try {
    const eve: Client = await stack.client('eve@bank.example', ['engineer']);
    const auditDir = join(stack.dataDir, 'audit');
    // A write that keeps SQLite busy for seconds, so the kill lands while Toolbox runs it.
    const slow = 'UPDATE accounts SET status = status WHERE account_id IN (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 200000000) SELECT CAST(x AS TEXT) FROM c)';
    const call = eve.callTool({ name: 'execute_sql', arguments: { sql: slow } }, undefined, { timeout: 120_000 }).then(
      (r) => ({ result: r as ToolResult, error: null as Error | null }),
      (err: Error) => ({ result: null, error: err }),
    );
    await until('the intent on disk', async () => (await eventsIn(auditDir)).some((e) => e.event_type === 'mcp_intent'));
    await new Promise((r) => setTimeout(r, 300)); // let the statement start inside Toolbox
    stack.toolbox.child.kill('SIGKILL');
    const { result, error } = await call;
    const text = error ? error.message : JSON.stringify(result);
    assert.ok(error || result?.isError, `the client sees a failure, not success: ${text.slice(0, 300)}`);
    assert.match(text, /upstream|fetch failed|ECONNRESET|socket|terminated|closed/i);

    const events = await eventsIn(auditDir);
    const intent = events.find((e) => e.event_type === 'mcp_intent')!;
    const outcome = events.find((e) => e.intent_id === intent.event_id)!;
    assert.ok(outcome, 'the failed call has an outcome linked to its intent');
    assert.equal(outcome.outcome, 'error');
    assert.equal(outcome.error_code, 'upstream_error');
    assert.ok(outcome.seq > intent.seq);
    const r = await verifyDir(auditDir, { publicKeys: loadPublicKeysFromDir(join(stack.dataDir, 'keys')) });
    assert.equal(r.ok, true, JSON.stringify(r.breaks));
    assert.deepEqual(r.intents, { written: 1, open: 0 });
  } finally {
    await stack.stop();
    rules.cleanup();
  }
});

test('Pub/Sub UNAVAILABLE for 30 s: calls are refused with the audit error and never forwarded; afterwards they flow, and every acknowledged event is in the topic, in one verifiable chain', {
  timeout: 180_000,
}, async () => {
  let down = false;
  const pubsub = new FakePubSubServer({ onPublish: () => (down ? { kind: 'fail', code: status.UNAVAILABLE, message: 'injected: the service is unavailable' } : { kind: 'ok' }) });
  await pubsub.start();
  const rules = rulesWithDirectWrites();
  const dir = mkdtempSync(join(tmpdir(), 'bqw-pubsub-outage-'));
  try {
    const sink = new PubSubAuditSink({
      topic: 'audit',
      project: 'test-project',
      endpoint: pubsub.endpoint,
      retry: { rpcTimeoutMs: 1000, totalTimeoutMs: 2000, initialBackoffMs: 20, maxBackoffMs: 200, maxAttempts: 2 },
    });
    const signer = loadOrCreateSigner({ keysDir: join(dir, 'keys') });
    const log = await AuditLog.open({ sink, signer, gatewayVersion: 't', instance: 'gw-outage' });
    const acknowledged: AuditEvent[] = [];
    const audit = {
      append: (i: AuditEventInput) => log.append(i).then((e) => (acknowledged.push(e), e)),
      isReady: () => log.isReady(),
    };
    const pipeline = await pipelineFor(rules.dir, audit);
    let forwarded = 0;
    const upstream = async () => {
      forwarded++;
      return { content: [{ type: 'text', text: '[]' }] };
    };
    const engineer = ctxFor('eve@bank.example', ['engineer']);
    const analyst = ctxFor('ana@bank.example', ['analyst']);
    const write = "UPDATE accounts SET status = 'frozen' WHERE account_id = 1";
    const read = 'SELECT account_id FROM accounts LIMIT 1';
    await pipeline.onRequest(engineer, 'tools/call', sqlCall(write), upstream);
    assert.equal(forwarded, 1);

    down = true;
    const start = Date.now();
    let refused = 0;
    const refusal = (e: unknown) => e instanceof GatewayError && e.code === -32004 && e.data?.reason === 'audit_unavailable';
    // Calls keep coming during the outage: every one is refused before the upstream sees it
    // (the first read's own record fails after forwarding: withheld, and its upstream call is counted).
    await assert.rejects(pipeline.onRequest(engineer, 'tools/call', sqlCall(write), upstream), (e: unknown) => refusal(e) && /not sent upstream/.test((e as Error).message));
    refused++;
    const forwardedAtOutage = forwarded;
    while (Date.now() - start < 30_000) {
      await assert.rejects(
        pipeline.onRequest(refused % 2 ? analyst : engineer, 'tools/call', sqlCall(refused % 2 ? read : write), upstream),
        (e: unknown) => refusal(e) && /not sent upstream/.test((e as Error).message),
      );
      refused++;
      await new Promise((r) => setTimeout(r, 1000));
    }
    assert.equal(forwarded, forwardedAtOutage, `none of the ${refused} calls during the 30 s outage reached the upstream`);
    assert.equal(log.isReady(), false);

    down = false;
    await pipeline.onRequest(analyst, 'tools/call', sqlCall(read), upstream);
    await pipeline.onRequest(engineer, 'tools/call', sqlCall(write), upstream);
    assert.equal(forwarded, forwardedAtOutage + 2);
    await log.close();

    const stored = new Map<string, AuditEvent>();
    for (const m of pubsub.messages) {
      const e = normalizeEvent(JSON.parse(m.data.toString('utf8')));
      stored.set(e.event_id, e);
    }
    assert.deepEqual(
      acknowledged.filter((e) => !stored.has(e.event_id)).map((e) => e.seq),
      [],
      'nothing acknowledged is lost',
    );
    const v = createVerifier({ publicKeys: [signer.publicKeyPem], requireSealed: true });
    for (const e of [...stored.values()].sort((a, b) => a.seq - b.seq)) v.push(e);
    const r = v.finish();
    assert.equal(r.ok, true, JSON.stringify(r.breaks));
    assert.equal(r.chains.length, 1, 'one chain across the outage');
    assert.equal(r.intents.open, 0, 'every intent that was stored has its outcome');
  } finally {
    rules.cleanup();
    await pubsub.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('disk full on the audit directory: a write is refused with the audit error and does not execute; after space returns it runs once', { timeout: 180_000 }, async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'bqw-diskfull-'));
  const auditDir = join(dataDir, 'audit');
  mkdirSync(auditDir, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=512k,mode=0755', 'tmpfs', auditDir], { stdio: 'pipe' });
  } catch (err) {
    rmSync(dataDir, { recursive: true, force: true });
    return t.skip(`cannot mount a tmpfs over the audit directory (needs root and mount permission): ${String((err as Error).message).split('\n')[0]}`);
  }
  const rules = rulesWithDirectWrites();
  const stack = await startStack({ dataDir, rulesDir: rules.dir });
  const filler = join(auditDir, 'filler.bin');
  try {
    const eve = await stack.client('eve@bank.example', ['engineer']);
    const status = async () => String(Object.values(rowsOf(await eve.callTool({ name: 'execute_sql', arguments: { sql: 'SELECT status FROM accounts WHERE account_id = 1' } }))[0] ?? {})[0]);
    const before = await status();
    const fd = openSync(filler, 'w');
    try {
      for (;;) writeSync(fd, Buffer.alloc(4096, 0x41));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
    } finally {
      closeSync(fd);
    }
    // A full tmpfs still has slack in the last page of the open audit file, so a small event can
    // land after the filler hits ENOSPC. Reads (audited, executing nothing) use up that slack
    // until the log itself refuses; only then is the disk full for the audit log too.
    let logFull = false;
    for (let i = 0; i < 200 && !logFull; i++)
      logFull = await status().then(
        () => false,
        () => true,
      );
    assert.ok(logFull, 'the audit log reached the full disk');
    const update = "UPDATE accounts SET status = 'frozen-by-test' WHERE account_id = 1";
    const refused = await eve.callTool({ name: 'execute_sql', arguments: { sql: update } }).then(
      (r) => JSON.stringify(r),
      (e: Error) => e.message,
    );
    assert.match(refused, /write-ahead audit record could not be written, so the call was not sent upstream/);
    // The agent learns that nothing ran, not the gateway's file system (the log keeps the detail).
    assert.ok(!refused.includes(dataDir) && !/ENOSPC|no space left/i.test(refused), `the sink's error reached the agent: ${refused}`);

    unlinkSync(filler);
    assert.equal(await status(), before, 'the refused write never ran');
    const ok = (await eve.callTool({ name: 'execute_sql', arguments: { sql: update } })) as ToolResult;
    assert.notEqual(ok.isError, true, JSON.stringify(ok));
    assert.equal(await status(), 'frozen-by-test');
    const events = await eventsIn(auditDir);
    const writes = events.filter((e) => e.event_type === 'mcp_intent' && e.statement_types.includes('write'));
    assert.equal(writes.length, 1, 'one write intent: the refused call left none (the disk was full)');
    assert.ok(events.some((e) => e.intent_id === writes[0]!.event_id && e.outcome === 'success'));
    // The first read after the outage found the log still recovering, so it carried an intent too.
    const r = await verifyDir(auditDir, { publicKeys: loadPublicKeysFromDir(join(dataDir, 'keys')) });
    assert.equal(r.ok, true, JSON.stringify(r.breaks));
    assert.equal(r.intents.open, 0);
  } finally {
    await stack.stop();
    rules.cleanup();
    try {
      execFileSync('umount', [auditDir], { stdio: 'pipe' });
    } catch {
      execFileSync('umount', ['-l', auditDir], { stdio: 'pipe' });
    }
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('clock skew: the gateway clock set back an hour and forward a day — the chain, intents and anchors still verify; verify names the regression', async () => {
  const t = tempData();
  try {
    let clock = Date.parse('2026-06-01T23:30:00.000Z');
    const { log } = await openLog(t.audit, t.keys, { now: () => clock });
    const store = dirAnchorStore(join(t.data, 'anchors'));
    const exporter = new AnchorExporter({ log, store, instance: 'skewed', now: () => clock });
    const intent = await log.append({ ...request(1), event_type: 'mcp_intent', outcome: 'pending' });
    await exporter.flush();
    clock -= 3_600_000; // NTP steps the clock back an hour mid-call
    await log.append({ ...request(1), intent_id: intent.event_id });
    await exporter.flush();
    clock += 86_400_000 + 3_600_000; // and then a day forward
    await log.append(request(2));
    await log.close();
    await exporter.close();
    const r = await verifyDir(t.audit, { publicKeys: loadPublicKeysFromDir(t.keys), requireSealed: true, anchors: { store: store.name, ...(await store.list()) } });
    assert.equal(r.ok, true, JSON.stringify(r.breaks));
    assert.deepEqual(r.intents, { written: 1, open: 0 });
    assert.equal(r.anchors?.checked, 3);
    const regression = r.notices.find((n) => n.kind === 'time_regression')!;
    assert.match(regression.message, /earlier than the previous event's 2026-06-01T23:30:00\.000Z/);
  } finally {
    t.cleanup();
  }
});
