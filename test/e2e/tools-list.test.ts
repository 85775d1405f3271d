// tools/list through the real stack (MCP SDK client → gateway → MCP Toolbox): each role reads, in
// the tool's description and annotations, the dialect, what it will see masked, what waits for an
// approver and what is refused — and a read-only analyst is never told the tool is destructive,
// whatever the upstream says (Toolbox marks execute_sql destructiveHint: true).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { rowsOf, startStack } from '../helpers/gateway.js';
import { formatReplay, replaySession } from '../../src/audit/replay.js';
import { first } from '../helpers/present.js';
import { JsonlAuditStore } from '../../src/audit/store-jsonl.js';

test('tools/list explains each tool to the caller’s roles, with annotations that hold for them', { timeout: 300_000 }, async (t) => {
  const stack = await startStack();
  t.after(() => stack.stop());

  const analyst = await stack.client('alice@bank.example', ['analyst']);
  const tools = (await analyst.listTools()).tools;
  const sql = tools.find((x) => x.name === 'execute_sql')!;
  assert.ok(sql, tools.map((x) => x.name).join(','));
  assert.equal(sql.annotations?.destructiveHint, false, 'a read-only analyst is not told the tool is destructive');
  assert.equal(sql.annotations?.readOnlyHint, true);
  assert.match(
    sql.description!,
    /^Use this tool to execute SQL\.\n\nbqwarden \(for your role analyst\): write SQLite SQL; unqualified table names resolve to demo\.main\./,
    'the upstream text first, then the gateway’s',
  );
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
  assert.match(
    eng.description!,
    /Held for approval by another person .*: INSERT, UPDATE, DELETE, MERGE and CREATE \(1 approval from approver\); TRUNCATE and DROP \/ ALTER \/ CREATE OR REPLACE \(2 approvals from approver\)\./,
  );

  const reader = await stack.client('pat@bank.example', ['pii-reader']);
  const clear = (await reader.listTools()).tools.find((x) => x.name === 'execute_sql')!;
  assert.match(clear.description!, /You see every classified column in clear/);
  assert.equal(clear.annotations?.destructiveHint, false);

  // A refusal through the stack says what to do instead.
  const refused = (await analyst.callTool({ name: 'execute_sql', arguments: { sql: 'DELETE FROM transactions WHERE txn_id = 1' } })) as { isError?: boolean; content: { text: string }[] };
  assert.equal(refused.isError, true);
  assert.match(first(refused.content, 'refusal content').text, /\(rule default-deny\)\. You may read it\. You may run SELECT directly\.$/);

  // The stored copy is tokenised although the pii-reader saw clear values: the stored event says
  // so per column, and the replay labels it.
  const rows = rowsOf(await reader.callTool({ name: 'execute_sql', arguments: { sql: 'SELECT full_name, ssn FROM customers ORDER BY customer_id LIMIT 1' } }));
  assert.match(String(first(rows, 'clear row').ssn), /^\d{3}-\d{2}-\d{4}$/, 'the pii-reader sees the SSN in clear');
  const { readEvents } = await import('../../src/audit/reader.js');
  let stored: { session_id: string | null; response_json: string | null } | null = null;
  for await (const { event } of readEvents(join(stack.dataDir, 'audit'))) if (event.actor_email === 'pat@bank.example' && event.sql_text?.startsWith('SELECT full_name, ssn')) stored = event;
  assert.ok(stored?.response_json);
  const copy = JSON.parse(stored.response_json);
  assert.deepEqual(copy._meta['bqwarden/stored_copy'].columns.ssn, { classification: 'pii.ssn', released: 'clear', stored: 'pseudonym' });
  assert.doesNotMatch(stored.response_json, new RegExp(String(first(rows, 'clear row').ssn)), 'no clear SSN at rest');
  const replay = formatReplay(stored.session_id!, await replaySession(new JsonlAuditStore(join(stack.dataDir, 'audit')), stored.session_id!));
  assert.match(replay, /the caller received: full_name clear \(stored tokenised \(pseudonym\)\); ssn clear \(stored tokenised \(pseudonym\)\)/);
  assert.match(replay, /response — stored copy \(audit at rest: masked for storage whatever the caller saw\):/);
});
