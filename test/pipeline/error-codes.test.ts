// The audit's error_code is a closed list (the error catalog, src/common/errors.ts). Every thrower
// the pipeline has is driven here through the real pipeline and a real JSONL audit log, so a code
// missing from the catalog fails the append (and this test) instead of denying calls in
// production; and an error whose detail an agent may not read never reaches the client.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog } from '../../src/audit/log.js';
import { JsonlSink } from '../../src/sinks/jsonl.js';
import { loadOrCreateSigner } from '../../src/audit/checkpoint.js';
import { readEvents } from '../../src/audit/reader.js';
import type { AuditEvent } from '../../src/audit/event.js';
import { ERROR_CATALOG, ERROR_CODES, GatewayError } from '../../src/common/errors.js';
import type { PipelineDeps } from '../../src/pipeline/deps.js';
import type { HttpFailure } from '../../src/pipeline/types.js';
import { createRateLimiter } from '../../src/pipeline/rate-limit.js';
import { toClientError } from '../../src/transport/session.js';
import { ctxFor, pipelineFor, sqlCall } from './helpers.js';
import { REPO } from '../helpers/gateway.js';

const SECRET_CARD = '4111 1111 1111 1111';
const SECRET_MAIL = 'eve.secret@bank.example';

async function setup(over: Partial<PipelineDeps> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'bqw-errcodes-'));
  const sink = await JsonlSink.open({ dir: join(dir, 'audit') });
  const audit = await AuditLog.open({ sink, signer: loadOrCreateSigner({ keysDir: join(dir, 'keys') }), gatewayVersion: 't', instance: 'i' });
  const pipeline = await pipelineFor(join(REPO, 'rules'), audit, over);
  return {
    pipeline,
    async events() {
      const out: AuditEvent[] = [];
      for await (const { event } of readEvents(join(dir, 'audit'))) out.push(event);
      return out;
    },
    async cleanup() {
      await audit.close().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A refusal before the pipeline, as the transport reports it. */
const httpFailure = (code: HttpFailure['code'], message: string, httpStatus: number): HttpFailure => ({
  code,
  message,
  httpStatus,
  identity: null,
  sessionId: null,
  sourceIp: null,
  userAgent: null,
  method: null,
});

const ROWS = async () => ({ content: [{ type: 'text', text: '[{"account_id":"A-1","status":"open"}]' }] });
const refusedWith = async (p: Promise<unknown>): Promise<GatewayError> => {
  try {
    await p;
  } catch (err) {
    return toClientError(err, () => undefined);
  }
  assert.fail('the call was not refused');
};

test('every refusal the pipeline writes carries a catalog code (driven through the real pipeline and audit log)', async () => {
  const s = await setup({ rateLimiter: createRateLimiter({ perMinute: 1, burst: 2 }) });
  try {
    const analyst = ctxFor('ann@bank.example', ['analyst']);
    const engineer = ctxFor('eve@bank.example', ['engineer']);
    const nobody = ctxFor('zed@bank.example', []);
    // method_denied: a caller with no role may not call tools.
    await refusedWith(s.pipeline.onRequest(nobody, 'tools/call', sqlCall('SELECT 1'), ROWS));
    // missing_sql, then rate_limited (burst 2 spent by the analyst).
    const missing = await s.pipeline.onRequest(analyst, 'tools/call', { name: 'execute_sql', arguments: {} }, ROWS);
    assert.equal(missing.isError, true);
    await s.pipeline.onRequest(analyst, 'tools/call', sqlCall('DELETE FROM accounts WHERE 1 = 1'), ROWS);
    const limited = await s.pipeline.onRequest(analyst, 'tools/call', sqlCall('SELECT 1'), ROWS);
    assert.match(JSON.stringify(limited), /rule rate-limit/);
    // approvals_disabled: an engineer's write needs approval, and this gateway has none.
    await s.pipeline.onRequest(engineer, 'tools/call', sqlCall("UPDATE accounts SET status = 'frozen' WHERE account_id = 'A-1'"), ROWS);
    // upstream_error: the upstream fails, whatever reason it gives for it.
    const hostile = async () => {
      throw new GatewayError(-32000, 'upstream broke', { reason: 'upstream_chose_this_reason' } as Record<string, unknown>);
    };
    await refusedWith(s.pipeline.onRequest(engineer, 'tools/call', sqlCall('SELECT account_id FROM accounts'), hostile));
    // notification_not_allowed
    await assert.rejects(s.pipeline.onNotification(analyst, 'notifications/message', {}));
    // client_error: the client could not answer a relayed request.
    await assert.rejects(
      s.pipeline.onServerRequest!(analyst, 'roots/list', {}, async () => {
        throw new Error('client gone');
      }),
    );
    // auth: the identity layer's reason, and an HTTP refusal's code.
    await s.pipeline.onHttpFailure(httpFailure('auth_failed', 'Unauthorized (expired): token expired', 401));
    await s.pipeline.onHttpFailure(httpFailure('malformed_json', 'Parse error', 400));

    const codes = (await s.events()).map((e) => e.error_code).filter((c) => c !== null);
    for (const c of codes) assert.ok((ERROR_CODES as readonly string[]).includes(c), c);
    for (const want of [
      'method_denied',
      'missing_sql',
      'policy_denied',
      'rate_limited',
      'approvals_disabled',
      'upstream_error',
      'notification_not_allowed',
      'client_error',
      'expired',
      'malformed_json',
    ])
      assert.ok(codes.includes(want as never), `${want} was audited (saw ${codes.join(', ')})`);
    assert.ok(!codes.includes('upstream_chose_this_reason' as never));
  } finally {
    await s.cleanup();
  }
});

test('attack: a code the catalog lacks is audited as unlisted_error_code naming it (scanned), not a lost record or a crash', async () => {
  // A stage that throws a refusal whose reason nobody listed (here the rate limiter, stage one).
  const s = await setup({
    rateLimiter: {
      take() {
        throw new GatewayError(-32000, `refused near ${SECRET_CARD}`, { reason: 'brand_new_reason' } as Record<string, unknown>);
      },
    },
  });
  try {
    const analyst = ctxFor('ann@bank.example', ['analyst']);
    const err = await refusedWith(s.pipeline.onRequest(analyst, 'tools/call', sqlCall('SELECT 1'), ROWS));
    assert.equal(err.errorCode, 'unlisted_error_code');
    // The client hears the catalog's summary, not the unlisted error's text.
    assert.doesNotMatch(JSON.stringify(err.forClient()), /4111|brand_new_reason/);
    // An unauthenticated caller's made-up reason in the refusal text ends the same way.
    await s.pipeline.onHttpFailure(httpFailure('auth_failed', 'Unauthorized (made_up_reason): no', 401));
    const events = await s.events();
    const call = events.find((e) => e.tool_name === 'execute_sql');
    assert.ok(call, 'the refused call has its record');
    assert.equal(call.error_code, 'unlisted_error_code');
    assert.equal(call.outcome, 'error');
    assert.match(call.error_message ?? '', /unlisted error code "brand_new_reason"/);
    assert.doesNotMatch(call.error_message ?? '', /4111 1111 1111 1111/, 'the detail is scanned before it is stored');
    const auth = events.find((e) => e.event_type === 'auth_failure');
    assert.equal(auth?.error_code, 'unlisted_error_code');
    assert.match(auth?.error_message ?? '', /unlisted error code "made_up_reason"/);
  } finally {
    await s.cleanup();
  }
});

test('attack: an internal error whose text holds data (a masking failure) never reaches the client; the audit keeps it, scanned', async () => {
  const s = await setup({
    mask: () => {
      throw new Error(`cannot mask cell ${SECRET_CARD} for ${SECRET_MAIL}`);
    },
  });
  try {
    const analyst = ctxFor('ann@bank.example', ['analyst']);
    const err = await refusedWith(s.pipeline.onRequest(analyst, 'tools/call', sqlCall('SELECT account_id, status FROM accounts'), ROWS));
    assert.equal(err.errorCode, 'masking_failed');
    assert.equal(ERROR_CATALOG.masking_failed.agent, false);
    const seen = JSON.stringify(err.forClient());
    assert.doesNotMatch(seen, /4111|eve\.secret|cannot mask/);
    assert.match(seen, /could not be masked.*masking_failed/);
    const ev = (await s.events()).find((e) => e.tool_name === 'execute_sql');
    assert.equal(ev?.error_code, 'masking_failed');
    assert.match(ev?.error_message ?? '', /could not be masked/);
    assert.doesNotMatch(ev?.error_message ?? '', /4111 1111 1111 1111|eve\.secret@bank\.example/);
  } finally {
    await s.cleanup();
  }
});

test('attack: a part that fails while deciding (approval state, tool pins) tells the agent what failed, never its own error text', async () => {
  const PATH_TEXT = "ENOSPC: no space left on device, open '/srv/bqwarden/statements/apr-x.sql'";
  const failing = async () => {
    throw new Error(PATH_TEXT);
  };
  const update = sqlCall("UPDATE accounts SET status = 'frozen' WHERE account_id = 'A-1'");
  const cases: [string, Partial<PipelineDeps>][] = [
    ['tool_pins_unavailable', { pins: { onCall: failing, onList: failing } as unknown as PipelineDeps['pins'] }],
    ['approvals_unavailable', { approvals: { check: failing, executed: async () => undefined } as unknown as PipelineDeps['approvals'] }],
  ];
  for (const [code, deps] of cases) {
    const s = await setup(deps);
    try {
      const engineer = ctxFor('eve@bank.example', ['engineer']);
      const call = await s.pipeline.onRequest(engineer, 'tools/call', update, ROWS);
      assert.equal(call.isError, true, code);
      assert.doesNotMatch(JSON.stringify(call), /ENOSPC|\/srv\/bqwarden/, `${code}: the agent reads that the check failed, not the gateway internals`);
      if (deps.pins) {
        const list = await refusedWith(s.pipeline.onRequest(engineer, 'tools/list', {}, async () => ({ tools: [] })));
        assert.doesNotMatch(JSON.stringify(list.forClient()), /ENOSPC|\/srv\/bqwarden/, 'tools/list');
      }
      // The operator still learns the cause: the audit keeps it (scanned).
      const refused = (await s.events()).filter((e) => e.error_code === code);
      assert.ok(refused.length >= 1, code);
      for (const e of refused) assert.match(e.error_message ?? '', /ENOSPC/, `${code}: the audit keeps the cause`);
    } finally {
      await s.cleanup();
    }
  }
});
