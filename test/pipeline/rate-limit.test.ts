// A looping agent is cut off per identity; other callers are not affected, and every refusal
// is audited with its rule id.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createRateLimiter } from '../../src/pipeline/rate-limit.js';
import { startStack } from '../helpers/gateway.js';
import { readEvents } from '../../src/audit/reader.js';

test('token bucket: burst, then the sustained rate; refills over time; per key', () => {
  let t = 0;
  const rl = createRateLimiter({ perMinute: 60, burst: 3, now: () => t });
  assert.deepEqual([rl.take('a'), rl.take('a'), rl.take('a'), rl.take('a')], [true, true, true, false]);
  assert.equal(rl.take('b'), true, 'another identity has its own bucket');
  t += 1000; // one call per second
  assert.equal(rl.take('a'), true);
  assert.equal(rl.take('a'), false);
  t += 10 * 60_000;
  assert.equal(rl.take('a'), true, 'refilled after idling');
});

test('the gateway refuses a caller past its budget with rule rate-limit, audited; others keep working', async () => {
  const stack = await startStack({ config: { pipeline: { callsPerMinute: 1, callBurst: 3 } } });
  try {
    const loop = await stack.client('loop@bank.example', ['analyst']);
    const results = [];
    for (let i = 0; i < 5; i++) results.push(await loop.callTool({ name: 'execute_sql', arguments: { sql: `SELECT ${i} AS n` } }));
    assert.deepEqual(
      results.map((r) => r.isError === true),
      [false, false, false, true, true],
    );
    assert.match(JSON.stringify(results[3]), /rule rate-limit/);
    const other = await stack.client('calm@bank.example', ['analyst']);
    const ok = await other.callTool({ name: 'execute_sql', arguments: { sql: 'SELECT 1 AS n' } });
    assert.notEqual(ok.isError, true);
    const refusals = [];
    for await (const { event } of readEvents(join(stack.dataDir, 'audit'))) if (event.error_code === 'rate_limited') refusals.push(event);
    assert.equal(refusals.length, 2);
    assert.deepEqual(refusals[0]!.rule_ids, ['rate-limit']);
    assert.equal(refusals[0]!.actor_email, 'loop@bank.example');
  } finally {
    await stack.stop();
  }
});
