// An approved write whose write-ahead intent cannot be written never reaches the upstream: the
// approval must not be recorded as executed (it did not run), and the refusal is left to the
// runner to audit — the stage must not claim the call as audited.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { forward } from '../../src/pipeline/stages/forward.js';
import type { Kit } from '../../src/pipeline/kit.js';
import type { ToolCall } from '../../src/pipeline/call.js';
import { GatewayError } from '../../src/pipeline/types.js';

test('intent not written: the approved statement is not sent, not recorded as executed, and not marked audited', async () => {
  const executed: string[] = [];
  const logged: string[] = [];
  let sent = 0;
  const kit = {
    deps: {
      writer: null,
      audit: { append: () => Promise.reject(new Error('injected: sink unavailable')), isReady: () => false },
      approvals: { executed: async (_held: unknown, id: string) => void executed.push(id) },
      log: { error: (o: { err?: string }) => void logged.push(o.err ?? '') },
    },
    forward: async () => {
      sent++;
      return { content: [] };
    },
  } as unknown as Kit;
  const call = {
    ctx: {},
    ev: { event_type: 'mcp_request' },
    params: { name: 'execute_sql', arguments: { sql: 'DELETE FROM t' } },
    args: { sql: 'DELETE FROM t' },
    shape: { kind: 'sql', sqlArgument: 'sql' },
    decision: null,
    analysis: null,
    sql: 'DELETE FROM t',
    executed: null,
    approvalId: 'apr-1',
    approved: null,
    held: { id: 'held' },
    audited: false,
  } as unknown as ToolCall;
  await assert.rejects(
    Promise.resolve(forward.run(kit, call)),
    (e: unknown) => e instanceof GatewayError && /write-ahead audit record could not be written/.test(e.message) && !e.message.includes('injected'),
  );
  assert.deepEqual(logged, ['injected: sink unavailable'], "the sink's own text goes to the operator's log, not the agent");
  assert.equal(sent, 0, 'nothing went upstream');
  assert.deepEqual(executed, [], 'the approval is not recorded as executed');
  assert.equal(call.audited, false, 'the runner still audits the refusal');
});
