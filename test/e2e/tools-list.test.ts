// tools/list through the real stack (MCP SDK client → gateway → MCP Toolbox): each role reads, in
// the tool's description and annotations, the dialect, what it will see masked, what waits for an
// approver and what is refused — and a read-only analyst is never told the tool is destructive,
// whatever the upstream says (Toolbox marks execute_sql destructiveHint: true).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startStack } from '../helpers/gateway.js';

test('tools/list explains each tool to the caller’s roles, with annotations that hold for them', { timeout: 300_000 }, async (t) => {
  const stack = await startStack();
  t.after(() => stack.stop());

  const analyst = await stack.client('alice@bank.example', ['analyst']);
  const tools = (await analyst.listTools()).tools;
  const sql = tools.find((x) => x.name === 'execute_sql')!;
  assert.ok(sql, tools.map((x) => x.name).join(','));
  assert.equal(sql.annotations?.destructiveHint, false, 'a read-only analyst is not told the tool is destructive');
  assert.equal(sql.annotations?.readOnlyHint, true);
  assert.match(sql.description!, /^Use this tool to execute SQL\.\n\nbqwarden \(for your role analyst\): write SQLite SQL; unqualified table names resolve to demo\.main\./, 'the upstream text first, then the gateway’s');
  assert.match(sql.description!, /pii\.ssn → last 4 characters only/);
  assert.match(sql.description!, /Masking happens in the database before your query runs/);
  assert.match(sql.description!, /Runs directly: SELECT\. Refused: INSERT, UPDATE, DELETE/);
  assert.doesNotMatch(sql.description!, /approval/i, 'nothing an analyst can get approved');
  const meta = tools.find((x) => x.name === 'list_tables')!;
  assert.equal(meta.annotations?.destructiveHint, false);
  assert.match(meta.description!, /no rows/);

  const engineer = await stack.client('eve@bank.example', ['engineer']);
  const eng = (await engineer.listTools()).tools.find((x) => x.name === 'execute_sql')!;
  assert.equal(eng.annotations?.destructiveHint, true, 'an engineer can change data (after approval)');
  assert.equal(eng.annotations?.readOnlyHint, false);
  assert.match(eng.description!, /pii\.ssn → keyed token/);
  assert.match(eng.description!, /Held for approval by another person .*: INSERT, UPDATE, DELETE, MERGE and CREATE \(1 approval from approver\); TRUNCATE and DROP \/ ALTER \/ CREATE OR REPLACE \(2 approvals from approver\)\./);

  const reader = await stack.client('pat@bank.example', ['pii-reader']);
  const clear = (await reader.listTools()).tools.find((x) => x.name === 'execute_sql')!;
  assert.match(clear.description!, /You see every classified column in clear/);
  assert.equal(clear.annotations?.destructiveHint, false);

  // A refusal through the stack says what to do instead.
  const refused = (await analyst.callTool({ name: 'execute_sql', arguments: { sql: 'DELETE FROM transactions WHERE txn_id = 1' } })) as { isError?: boolean; content: { text: string }[] };
  assert.equal(refused.isError, true);
  assert.match(refused.content[0].text, /\(rule default-deny\)\. You may read it\. You may run SELECT directly\.$/);
});
