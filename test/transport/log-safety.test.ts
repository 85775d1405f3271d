// Operational logs must not carry query results or parameters: SDK errors can embed whole
// JSON-RPC messages, and the gateway's log summary must cut them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { safeError } from '../../src/transport/gateway.js';

test('safeError drops embedded JSON-RPC payloads (rows, SQL) from log lines', () => {
  const leak = new Error('Received a response for an unknown message ID: {"jsonrpc":"2.0","id":7,"result":{"content":[{"type":"text","text":"ssn 123-45-6789"}]}}');
  const s = safeError(leak);
  assert.doesNotMatch(JSON.stringify(s), /123-45-6789/);
  assert.match(s.err, /^Received a response for an unknown message ID: \[…\]$/);
  assert.equal(s.err_name, 'Error');
  const arr = safeError(Object.assign(new Error('bad batch ["SELECT ssn FROM customers"]'), { code: -32600 }));
  assert.doesNotMatch(arr.err, /SELECT/);
  assert.equal(arr.err_code, -32600);
  assert.ok(safeError('x'.repeat(1000)).err.length <= 160);
});
