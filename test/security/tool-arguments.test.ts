// Red team, tool-call layer, against the real stack (gateway → recording proxy → MCP Toolbox):
// policy bypass through tool arguments and SQL text tricks, and denial messages that could
// echo customer data back. Safe means: no clear dataset value in anything the client got, no
// write reached the database, and what the upstream executed is what the gateway analyzed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { generateBank } from '../../src/demo/dataset.js';
import { findLeaks } from '../helpers/leaks.js';
import { rowsOf } from '../helpers/gateway.js';
import { startRecordedStack, type RecordedStack } from './stack.js';
import { auditEvents, raw, rawSession, responseOf } from './helpers.js';
import { at } from '../helpers/present.js';

const BANK = generateBank();
const { ssn: SSN, email: EMAIL } = at(BANK.customers, 4, 'demo customer');

let rs: RecordedStack;
let analyst: Client;
let reader: Client;
let analystToken: string;
let analystSid: string;

before(async () => {
  rs = await startRecordedStack();
  analyst = await rs.stack.client('mallory@bank.example', ['analyst']);
  reader = await rs.stack.client('auditor-check@bank.example', ['pii-reader']);
  analystToken = await rs.stack.token('mallory-raw@bank.example', ['analyst']);
  analystSid = await rawSession(rs.stack.mcpUrl, analystToken);
});
after(async () => {
  await rs?.stop();
});

async function attempt(client: Client, name: string, args: unknown): Promise<unknown> {
  try {
    return await client.callTool({ name, arguments: args as Record<string, unknown> });
  } catch (err) {
    return { error: (err as Error).message };
  }
}

function assertNoLeak(response: unknown, what: string): void {
  const leaks = findLeaks(response);
  assert.deepEqual(leaks, [], `${what} leaked ${leaks.map((l) => `${l.kind} ${l.value}`).join(', ')}: ${JSON.stringify(response).slice(0, 400)}`);
}

/** Sends a raw tools/call body (verbatim text) on the analyst's raw session. */
async function rawCall(body: string) {
  return raw(rs.stack.mcpUrl, body, { token: analystToken, sessionId: analystSid });
}

async function counts(): Promise<{ customers: unknown; accounts: unknown; transactions: unknown; tables: unknown }> {
  const r = await reader.callTool({
    name: 'execute_sql',
    arguments: {
      sql: "SELECT (SELECT count(*) FROM customers) AS customers, (SELECT count(*) FROM accounts) AS accounts, (SELECT count(*) FROM transactions) AS transactions, (SELECT count(*) FROM sqlite_master WHERE type = 'table') AS tables",
    },
  });
  const row = rowsOf(r)[0];
  if (!row) {
    // sqlite_master is denied by policy; fall back to the bank tables only.
    const r2 = await reader.callTool({
      name: 'execute_sql',
      arguments: { sql: 'SELECT (SELECT count(*) FROM customers) AS customers, (SELECT count(*) FROM accounts) AS accounts, (SELECT count(*) FROM transactions) AS transactions' },
    });
    return { ...(rowsOf(r2)[0] as { customers: unknown; accounts: unknown; transactions: unknown }), tables: null };
  }
  return row as { customers: unknown; accounts: unknown; transactions: unknown; tables: unknown };
}

// ---------- 5. argument shapes ----------

const SHAPES: [string, unknown][] = [
  ['sql as array', { sql: ['SELECT ssn AS shape_marker FROM customers LIMIT 3'] }],
  ['sql as object', { sql: { text: 'SELECT ssn AS shape_marker FROM customers LIMIT 3' } }],
  ['sql as number', { sql: 1 }],
  ['sql as empty string', { sql: '   ' }],
  ['sql missing, query given', { query: 'SELECT ssn AS shape_marker FROM customers LIMIT 3' }],
  ['SQL in upper-case key', { SQL: 'SELECT ssn AS shape_marker FROM customers LIMIT 3' }],
  ['arguments as array', ['SELECT ssn AS shape_marker FROM customers LIMIT 3']],
];

for (const [name, args] of SHAPES) {
  test(`argument shape: ${name} → denied (rule tool-shape) or refused as invalid params, nothing forwarded`, async () => {
    const mark = rs.proxy.requests.length;
    const r = await attempt(analyst, 'execute_sql', args);
    assertNoLeak(r, name);
    const refused = (r as { isError?: boolean }).isError === true || 'error' in (r as object);
    assert.ok(refused, `${name} was not refused: ${JSON.stringify(r).slice(0, 300)}`);
    assert.deepEqual(
      rs.upstreamBodiesSince(mark).filter((b) => b.includes('shape_marker') || b.includes('"sql":1')),
      [],
      'forwarded upstream',
    );
  });
}

test('argument shape: extra and unknown arguments next to sql do not change the decision (masked, not clear)', async () => {
  const r = await attempt(analyst, 'execute_sql', {
    sql: 'SELECT ssn, email FROM customers LIMIT 3',
    database: 'other',
    role: 'pii-reader',
    mask: false,
    sql2: 'SELECT 1',
    __proto__: { sql: 'SELECT 1' },
  });
  assertNoLeak(r, 'extra arguments');
  assert.notEqual((r as { isError?: boolean }).isError, true, 'the call itself is allowed (masked)');
});

test('argument shape: "__proto__" key in raw JSON arguments does not smuggle sql past the analyzer', async () => {
  const body = '{"jsonrpc":"2.0","id":"proto","method":"tools/call","params":{"name":"execute_sql","arguments":{"__proto__":{"sql":"SELECT ssn AS proto_marker FROM customers LIMIT 3"}}}}';
  const mark = rs.proxy.requests.length;
  const r = await rawCall(body);
  assertNoLeak(r.messages, '__proto__');
  assert.deepEqual(
    rs.upstreamBodiesSince(mark).filter((b) => b.includes('proto_marker')),
    [],
  );
});

test('duplicated JSON keys in the raw body: the upstream runs exactly the statement the gateway analyzed and audited', async () => {
  const variants = [
    '{"jsonrpc":"2.0","id":"dup1","method":"tools/call","params":{"name":"execute_sql","arguments":{"sql":"SELECT 1 AS dup_benign","sql":"SELECT ssn AS dup_marker_a FROM customers LIMIT 3"}}}',
    '{"jsonrpc":"2.0","id":"dup2","method":"tools/call","params":{"name":"execute_sql","arguments":{"sql":"SELECT ssn AS dup_marker_b FROM customers LIMIT 3","sql":"SELECT 1 AS dup_benign"}}}',
    '{"jsonrpc":"2.0","id":"dup3","method":"tools/call","params":{"name":"list_tables","arguments":{"sql":"SELECT ssn AS dup_marker_c FROM customers LIMIT 3"},"name":"execute_sql"}}',
    '{"jsonrpc":"2.0","id":"dup4","method":"tools/call","params":{"name":"execute_sql","arguments":{"sql":"SELECT ssn AS dup_marker_d FROM customers LIMIT 3"}},"params":{"name":"execute_sql","arguments":{"sql":"SELECT 1 AS dup_benign"}}}',
  ];
  for (const body of variants) {
    const mark = rs.proxy.requests.length;
    const r = await rawCall(body);
    assertNoLeak(r.messages, body);
    const id = /"id":"(dup\d)"/.exec(body)![1];
    const ev = auditEvents(rs.stack.dataDir).find((e) => e.session_id === analystSid && e.request_id === id && e.event_type === 'mcp_request');
    assert.ok(ev, `audited ${id}`);
    for (const b of rs.upstreamBodiesSince(mark)) {
      let msg: { method?: string; params?: { name?: string; arguments?: { sql?: string } } };
      try {
        msg = JSON.parse(b);
      } catch {
        continue;
      }
      if (msg.method !== 'tools/call') continue;
      assert.equal((b.match(/"sql"\s*:/g) ?? []).length, 1, `one sql key upstream: ${b}`);
      const sql = msg.params!.arguments!.sql!;
      // What ran upstream is the audited statement: the caller's SQL, or its masked rewrite.
      assert.equal(createHash('sha256').update(sql).digest('hex'), ev.sql_executed_sha256 ?? ev.sql_sha256, `upstream ran what was audited (${id})`);
      assert.equal(msg.params!.name, ev.tool_name);
    }
  }
});

// ---------- 5. SQL text tricks ----------

const TRICKS: [string, string][] = [
  ['unicode escape in JSON (\\u0073sn)', 'SELECT ssn FROM customers LIMIT 3'],
  ['NUL after a SELECT', 'SELECT ssn FROM customers LIMIT 3\u0000'],
  ['NUL inside a comment', 'SELECT customer_id /*\u0000*/, ssn FROM customers LIMIT 3'],
  ['NUL in identifier', 'SELECT ss\u0000n FROM customers LIMIT 3'],
  ['vertical tab / form feed whitespace', 'SELECT\u000bssn\u000cFROM\tcustomers LIMIT 3'],
  ['NBSP whitespace', 'SELECT\u00a0ssn\u00a0FROM customers LIMIT 3'],
  ['mixed case', 'sElEcT SsN, eMaIl fRoM CuStOmErS LiMiT 3'],
  ['bracket identifiers', 'SELECT [ssn] FROM [customers] LIMIT 3'],
  ['backtick identifiers', 'SELECT `ssn`, `email` FROM `customers` LIMIT 3'],
  ['very long SQL (300 KB comment)', `/* ${'x'.repeat(300_000)} */ SELECT ssn FROM customers LIMIT 3`],
  ['very long SQL (200 KB whitespace)', `${' '.repeat(200_000)}SELECT ssn FROM customers LIMIT 3`],
  ['deep nesting', `SELECT ${'('.repeat(3000)}ssn${')'.repeat(3000)} FROM customers LIMIT 3`],
  ['many columns', `SELECT ${Array.from({ length: 2000 }, (_, i) => `ssn AS c${i}`).join(', ')} FROM customers LIMIT 1`],
  ['string-literal lookalike column', "SELECT 'ssn', ssn FROM customers LIMIT 3"],
  ['double-quoted string fallback', 'SELECT "ssn" || "" FROM customers LIMIT 3'],
];

for (const [name, sql] of TRICKS) {
  test(`SQL trick (analyst): ${name} → masked or denied, never clear`, async () => {
    const r = await attempt(analyst, 'execute_sql', { sql });
    assertNoLeak(r, name);
  });
}

test('SQL trick: the JSON unicode escape form reaches the gateway as the same SQL (analyzed, masked)', async () => {
  const body = '{"jsonrpc":"2.0","id":"uni","method":"tools/call","params":{"name":"execute_sql","arguments":{"\\u0073ql":"SELECT \\u0073sn, \\u0065mail FROM cu\\u0073tomers LIMIT 3"}}}';
  const r = await rawCall(body);
  assert.equal(r.status, 200, r.text);
  assertNoLeak(r.messages, 'unicode escapes');
  assert.notEqual(responseOf(r)?.result?.isError, true, `decoded and allowed masked: ${r.text.slice(0, 200)}`);
});

// Writes hidden from the analyzer: if any of these ran, a row disappears or a table appears.
const HIDDEN_WRITES: [string, string][] = [
  ['statement stacking', 'SELECT 1; DELETE FROM customers WHERE customer_id = 11'],
  ['stacking without space', 'SELECT 1;DELETE FROM customers WHERE customer_id = 11'],
  ['line comment then newline', 'SELECT 1 -- harmless\n; DELETE FROM customers WHERE customer_id = 12'],
  ['line comment ended by CR only', 'SELECT 1 -- harmless\r DELETE FROM customers WHERE customer_id = 13'],
  ['line comment ended by U+2028', 'SELECT 1 -- harmless\u2028; DELETE FROM customers WHERE customer_id = 13'],
  ['block comment hiding the separator', 'SELECT 1 /* ; */ ; DELETE FROM customers WHERE customer_id = 14'],
  ['nested block comment (SQLite does not nest)', 'SELECT 1 /* /* */ ; DELETE FROM customers WHERE customer_id = 15; /* */'],
  ['MySQL # comment', 'SELECT 1 # \n; DELETE FROM customers WHERE customer_id = 16'],
  ['backslash is not an escape in SQLite', "SELECT 'a\\'; DELETE FROM customers WHERE customer_id = 17; --'"],
  ['doubled quote', "SELECT 'a'';'; DELETE FROM customers WHERE customer_id = 18"],
  ['NUL between statements', 'SELECT 1;\u0000DELETE FROM customers WHERE customer_id = 19'],
  ['NUL then newline', 'SELECT 1 --\u0000\nDELETE FROM customers WHERE customer_id = 19'],
  ['CTE with DELETE', 'WITH x AS (SELECT 1) DELETE FROM customers WHERE customer_id = 20'],
  ['CREATE TABLE AS exfiltration', 'CREATE TABLE leak_copy AS SELECT ssn FROM customers'],
  ['UPDATE via lower case and tabs', 'update\tcustomers\tset\tssn = ssn WHERE customer_id = 21'],
  ['REPLACE INTO', "REPLACE INTO customers (customer_id, full_name) VALUES (22, 'x')"],
  ['ATTACH then write', "ATTACH DATABASE '/tmp/bqwarden-redteam.db' AS x; CREATE TABLE x.t AS SELECT ssn FROM customers"],
  ['PRAGMA writable_schema', 'PRAGMA writable_schema = 1'],
  ['VACUUM INTO', "VACUUM INTO '/tmp/bqwarden-redteam-copy.db'"],
  ['dollar-quoted (not SQLite)', 'SELECT $$ ; DELETE FROM customers WHERE customer_id = 23; $$'],
];

/**
 * Each trick is either refused, or let through only because the gateway read it as a pure read
 * (its audit event says so) — and then the database must agree that nothing was written.
 */
async function hiddenWrites(client: Client, who: string): Promise<void> {
  const before = await counts();
  for (const [name, sql] of HIDDEN_WRITES) {
    const r = await attempt(client, 'execute_sql', { sql });
    assertNoLeak(r, name);
    const refused = (r as { isError?: boolean }).isError === true || 'error' in (r as object);
    if (!refused) {
      const sha = createHash('sha256').update(sql).digest('hex');
      const ev = auditEvents(rs.stack.dataDir).find((e) => e.sql_sha256 === sha && e.actor_email === who && e.event_type === 'mcp_request');
      assert.ok(ev, `${name} ran and was audited`);
      assert.deepEqual(ev.statement_types, ['read'], `${name} ran although the gateway saw ${ev.statement_types.join(', ')}`);
    }
    assert.deepEqual(await counts(), before, `database changed after: ${name}`);
  }
}

test('hidden writes (analyst): stacking, comments, NUL, quoting differentials — denied or harmless, database unchanged', async () => {
  await hiddenWrites(analyst, 'mallory@bank.example');
});

test('hidden writes (engineer, approvals not granted): same tricks denied or held, database unchanged', async () => {
  await hiddenWrites(await rs.stack.client('eng@bank.example', ['engineer']), 'eng@bank.example');
});

// ---------- 5. tool names ----------

const TOOL_NAMES = [
  'EXECUTE_SQL',
  'Execute_Sql',
  'execute_sql ',
  ' execute_sql',
  'execute_sql\u0000',
  'execute-sql',
  'execute_sql\n',
  'exeсute_sql' /* Cyrillic с */,
  'drop_everything',
  'sqlite-execute-sql',
  '',
];

for (const name of TOOL_NAMES) {
  test(`tool name ${JSON.stringify(name)} → denied as unknown tool, nothing forwarded`, async () => {
    const mark = rs.proxy.requests.length;
    const r = await attempt(analyst, name, { sql: 'SELECT ssn AS toolname_marker FROM customers LIMIT 3' });
    assertNoLeak(r, name);
    const refused = (r as { isError?: boolean }).isError === true || 'error' in (r as object);
    assert.ok(refused, JSON.stringify(r).slice(0, 300));
    assert.deepEqual(
      rs.upstreamBodiesSince(mark).filter((b) => b.includes('toolname_marker')),
      [],
    );
  });
}

test('list_tables (metadata tool) cannot be made to return rows, also with SQL-ish arguments', async () => {
  for (const args of [
    {},
    { table_names: 'customers' },
    { table_names: "customers') UNION SELECT ssn, email, 1, 1 FROM customers --" },
    { table_names: 'customers', sql: 'SELECT ssn FROM customers' },
    { output_format: 'detailed', table_names: 'customers,accounts,transactions' },
  ]) {
    const r = await attempt(analyst, 'list_tables', args);
    assertNoLeak(r, `list_tables ${JSON.stringify(args)}`);
  }
});

test('examiner (no data tools) cannot call tools/call at all, under any tool name', async () => {
  const examiner = await rs.stack.client('exam@ffiec.example', ['examiner']);
  for (const name of ['execute_sql', 'list_tables']) {
    const r = await attempt(examiner, name, { sql: 'SELECT count(*) FROM customers' });
    assert.ok('error' in (r as object) || (r as { isError?: boolean }).isError === true, JSON.stringify(r));
  }
  const tools = await examiner.listTools().catch(() => ({ tools: [] }));
  assert.deepEqual(
    tools.tools.map((t) => t.name),
    [],
  );
});

// ---------- 8. denial messages must not echo literals ----------

const ECHO: [string, string][] = [
  ['masked-column equality oracle', `SELECT customer_id FROM customers WHERE ssn = '${SSN}'`],
  ['denied DELETE with SSN literal', `DELETE FROM customers WHERE ssn = '${SSN}'`],
  ['denied UPDATE setting an email', `UPDATE customers SET email = '${EMAIL}' WHERE customer_id = 1`],
  ['unparseable SQL with SSN', `SELEC customer_id FROM customers WHERE ssn = '${SSN}'`],
  ['unknown column with SSN', `SELECT no_such_column FROM customers WHERE ssn = '${SSN}'`],
  ['double-quoted SSN (SQLite may report it as a column)', `SELECT customer_id FROM customers WHERE full_name = "${SSN}"`],
  ['SSN as a table name', `SELECT * FROM "${SSN}"`],
  ['SSN in a collation error', `SELECT customer_id FROM customers WHERE full_name = '${SSN}' COLLATE nosuch`],
  ['email literal in LIKE', `SELECT customer_id FROM customers WHERE email LIKE '${EMAIL}'`],
  ['SSN in a function name error', `SELECT no_such_fn('${SSN}')`],
];

for (const [name, sql] of ECHO) {
  test(`denial/error message does not echo the literal: ${name}`, async () => {
    const r = await attempt(analyst, 'execute_sql', { sql });
    assertNoLeak(r, name);
  });
}

test('after every attack in this file, the database still holds every original row', async () => {
  const c = (await counts()) as { customers: number; accounts: number; transactions: number };
  assert.equal(c.customers, BANK.customers.length);
  assert.equal(c.accounts, BANK.accounts.length);
  assert.equal(c.transactions, BANK.transactions.length);
});
