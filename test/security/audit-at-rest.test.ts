// Red team, audit store at rest: after traffic that legitimately releases clear PII (pii-reader)
// and traffic that tries to plant PII (literals, free-text arguments, client metadata, broken
// requests), every JSONL line under <dataDir>/audit is parsed and scanned with findLeaks. The
// compliance claim under test (docs/audit.md, docs/masking.md): "masked values never stored
// in clear; literals kept only where policy allows".
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { Client as SdkClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { generateBank } from '../../src/demo/dataset.js';
import type { AuditEvent } from '../../src/audit/event.js';
import { findLeaks } from '../helpers/leaks.js';
import { rowsOf, startStack, type TestStack } from '../helpers/gateway.js';
import { auditEvents, call, filesUnder, raw, rawSession } from './helpers.js';
import { at } from '../helpers/present.js';

const BANK = generateBank();
const C = at(BANK.customers, 7, 'demo customer');

let stack: TestStack;

before(async () => {
  stack = await startStack();
});
after(async () => {
  await stack?.stop();
});

/** "<event_type>.<field>: <kind> <value>" for every clear dataset value in the events. */
function leaksIn(events: AuditEvent[]): string[] {
  const out = new Set<string>();
  for (const e of events) {
    for (const [field, value] of Object.entries(e)) {
      for (const l of findLeaks(value)) out.add(`${e.event_type}.${field}: ${l.kind} ${l.value}`);
    }
  }
  return [...out].sort();
}

async function settle(): Promise<void> {
  // Session-end and notification events are written after the response; let them land.
  await new Promise((r) => setTimeout(r, 300));
}

async function clientAs(user: string, groups: string[], opts: { userAgent?: string; clientName?: string } = {}): Promise<Client> {
  const token = await stack.token(user, groups);
  const c = new SdkClient({ name: opts.clientName ?? 'redteam', version: '1.0.0' });
  const headers: Record<string, string> = { Authorization: `Bearer ${token}` };
  if (opts.userAgent) headers['User-Agent'] = opts.userAgent;
  await c.connect(new StreamableHTTPClientTransport(new URL(stack.mcpUrl), { requestInit: { headers } }));
  return c;
}

test('the scanner can fail: a planted clear SSN in an event is found', () => {
  const fake = { event_type: 'mcp_request', response_json: JSON.stringify({ content: [{ type: 'text', text: JSON.stringify({ ssn: C.ssn }) }] }) } as unknown as AuditEvent;
  assert.deepEqual(leaksIn([fake]), [`mcp_request.response_json: ssn ${C.ssn}`]);
});

test('analyst queries carrying customer literals (denied or masked) leave no clear value in the audit store', async () => {
  const user = 'lit-analyst@bank.example';
  const a = await clientAs(user, ['analyst']);
  const sqls = [
    `SELECT customer_id FROM customers WHERE ssn = '${C.ssn}'`,
    `SELECT customer_id, full_name FROM customers WHERE email = '${C.email}'`,
    `SELECT customer_id FROM customers WHERE date_of_birth = '${C.date_of_birth}'`,
    `DELETE FROM customers WHERE ssn = '${C.ssn}'`,
    `SELEC customer_id FROM customers WHERE ssn = '${C.ssn}'`,
    `SELECT customer_id FROM customers WHERE full_name = "${C.ssn}"`,
    `SELECT '${C.ssn}' AS planted`,
    `SELECT ssn, email, date_of_birth FROM customers WHERE customer_id = ${C.customer_id}`,
  ];
  for (const sql of sqls) await a.callTool({ name: 'execute_sql', arguments: { sql } }).catch(() => undefined);
  await a.close();
  await settle();
  const mine = auditEvents(stack.dataDir).filter((e) => e.actor_email === user);
  assert.ok(mine.filter((e) => e.event_type === 'mcp_request').length >= sqls.length, 'every call is audited');
  assert.deepEqual(leaksIn(mine), []);
});

test('pii-reader results (legitimately clear for that client) are not stored in clear in the audit store', async () => {
  const user = 'clear-reader@bank.example';
  const r = await clientAs(user, ['pii-reader']);
  const res = await r.callTool({ name: 'execute_sql', arguments: { sql: `SELECT customer_id, ssn, email, date_of_birth FROM customers WHERE customer_id = ${C.customer_id}` } });
  assert.equal(rowsOf(res)[0]?.ssn, C.ssn, 'precondition: the reader sees the clear SSN');
  const acct = BANK.accounts.find((a) => a.customer_id === C.customer_id)!;
  const res2 = await r.callTool({
    name: 'execute_sql',
    arguments: {
      sql: `SELECT a.account_number, a.account_number || '' AS n2, c.date_of_birth AS d, t.card_number FROM accounts a JOIN customers c USING (customer_id) LEFT JOIN transactions t ON t.account_id = a.account_id WHERE a.account_id = ${acct.account_id} LIMIT 3`,
    },
  });
  assert.ok(
    findLeaks(res2).some((l) => l.kind === 'account_number'),
    `precondition: clear account number released: ${JSON.stringify(res2).slice(0, 300)}`,
  );
  // Literals in a cleared role's SQL are redacted too (keepLiterals is not set for pii-reader).
  await r.callTool({ name: 'execute_sql', arguments: { sql: `SELECT customer_id FROM customers WHERE ssn = '${C.ssn}' OR email = '${C.email}'` } });
  await r.close();
  await settle();
  const mine = auditEvents(stack.dataDir).filter((e) => e.actor_email === user);
  assert.ok(mine.filter((e) => e.tool_name === 'execute_sql' && e.response_json).length >= 3, 'responses are recorded (as tokens)');
  assert.deepEqual(leaksIn(mine), []);
});

test('free-text tool arguments (justification, extra arguments, _meta) do not put customer data in the audit store in clear', async () => {
  const user = 'chatty@bank.example';
  const a = await clientAs(user, ['analyst']);
  await a.callTool({ name: 'execute_sql', arguments: { sql: 'SELECT count(*) AS n FROM customers', justification: `case for customer ${C.ssn}` } }).catch(() => undefined);
  await a.callTool({ name: 'execute_sql', arguments: { sql: 'SELECT count(*) AS n FROM customers', note: `email ${C.email}` } }).catch(() => undefined);
  await a.callTool({ name: 'execute_sql', arguments: { sql: 'SELECT count(*) AS n FROM customers' }, _meta: { justification: `ssn ${C.ssn}` } }).catch(() => undefined);
  await a.close();
  await settle();
  const mine = auditEvents(stack.dataDir).filter((e) => e.actor_email === user);
  assert.deepEqual(leaksIn(mine), []);
});

test('client-controlled metadata (User-Agent, clientInfo.name) does not put customer data in the audit store in clear', async () => {
  const user = 'meta@bank.example';
  const a = await clientAs(user, ['analyst'], { userAgent: `agent/1.0 (${C.ssn})`, clientName: `client ${C.email}` });
  await a.callTool({ name: 'execute_sql', arguments: { sql: 'SELECT 1 AS one' } }).catch(() => undefined);
  await a.close();
  await settle();
  const mine = auditEvents(stack.dataDir).filter((e) => e.actor_email === user);
  assert.deepEqual(leaksIn(mine), []);
});

test('refused HTTP requests (malformed JSON, invalid params, bad tokens) do not put customer data in the audit store in clear', async () => {
  const user = 'broken@bank.example';
  const token = await stack.token(user, ['analyst']);
  const sid = await rawSession(stack.mcpUrl, token);
  await raw(stack.mcpUrl, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"execute_sql","arguments":{"sql":"${C.ssn}"}}`, { token, sessionId: sid });
  await raw(stack.mcpUrl, `${C.ssn} is not json`, { token, sessionId: sid });
  await raw(stack.mcpUrl, { jsonrpc: '2.0', id: 2, method: 'initialize', params: { protocolVersion: C.ssn, capabilities: {}, clientInfo: { name: 1 } } }, { token });
  await raw(stack.mcpUrl, { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: { ssn: C.ssn }, arguments: {} } }, { token, sessionId: sid });
  // A token whose (unverified) issuer is customer data: the refusal names the issuer.
  const forged = [
    Buffer.from(JSON.stringify({ alg: 'ES256', typ: 'JWT' })).toString('base64url'),
    Buffer.from(JSON.stringify({ iss: `https://${C.email}/`, sub: C.ssn, exp: 9999999999 })).toString('base64url'),
    'c2ln',
  ].join('.');
  await raw(stack.mcpUrl, call('execute_sql', { sql: 'SELECT 1' }), { token: forged });
  await settle();
  const failures = auditEvents(stack.dataDir).filter((e) => e.event_type === 'http_error' || e.event_type === 'auth_failure');
  assert.ok(failures.length >= 4, `refusals audited (${failures.length})`);
  assert.deepEqual(leaksIn(failures), []);
});

test('the audit store as a whole: every file under <dataDir>/audit, raw bytes included, scanned after all traffic', async () => {
  await settle();
  const files = filesUnder(`${stack.dataDir}/audit`);
  assert.ok(
    files.some((f) => f.endsWith('.jsonl')),
    files.join(', '),
  );
  // Every place a clear value sits, by field (parsed) and by file (raw lines).
  const perField = leaksIn(auditEvents(stack.dataDir));
  const rawHits = files.flatMap((f) => findLeaks(readFileSync(f, 'utf8').split('\n')).map((l) => `${f.split('/audit/')[1]}: ${l.kind}`));
  assert.deepEqual(perField, [], `clear values at rest:\n${perField.join('\n')}\n(raw: ${rawHits.length} hits)`);
  assert.deepEqual(rawHits, []);
});
