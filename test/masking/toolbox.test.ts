// Masking applied to what MCP Toolbox (`--prebuilt sqlite`) really returns: one JSON object per
// row, duplicate keys for duplicate column names, engine-named expression columns, error text.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import initSqlJs from 'sql.js';
import { startToolbox, type ToolboxProcess } from '../../src/demo/toolbox.js';
import { applyMasking, WITHHELD_TEXT } from '../../src/masking/apply.js';
import { col, options, plan, textAt } from './helpers.js';

let tb: ToolboxProcess | null = null;
let dir = '';
let sid: string | null = null;
let skip: string | false = false;
let nextId = 1;

before(async () => {
  const SQL = await initSqlJs();
  const db = new SQL.Database();
  db.run(`CREATE TABLE customers(customer_id INTEGER, full_name TEXT, ssn TEXT, email TEXT);
    INSERT INTO customers VALUES (1,'Alice Smith','123-45-6789','alice@bank.com'), (2,'Bob Jones','234-56-7890',NULL);
    CREATE TABLE accounts(account_id INTEGER, account_number INTEGER, card_number TEXT);
    INSERT INTO accounts VALUES (10, 4111111111111111, '5555555555554444');`);
  dir = mkdtempSync(join(tmpdir(), 'bqw-mask-tbx-'));
  const file = join(dir, 'bank.db');
  writeFileSync(file, Buffer.from(db.export()));
  try {
    tb = await startToolbox({ database: file, timeoutMs: 60_000 });
  } catch (e) {
    skip = `MCP Toolbox did not start: ${(e as Error).message.split('\n')[0]}`;
    return;
  }
  const init = await rpc('initialize', { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'masking-test', version: '1' } });
  sid = init.sid;
});

after(async () => {
  await tb?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function rpc(method: string, params: unknown): Promise<{ sid: string | null; body: any }> {
  const res = await fetch(tb!.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-06-18', ...(sid ? { 'mcp-session-id': sid } : {}) },
    body: JSON.stringify({ jsonrpc: '2.0', id: nextId++, method, params }),
  });
  const text = await res.text();
  const json = text.startsWith('{')
    ? JSON.parse(text)
    : JSON.parse(
        text
          .split('\n')
          .find((l) => l.startsWith('data:'))!
          .slice(5),
      );
  return { sid: res.headers.get('mcp-session-id') ?? sid, body: json };
}

async function sql(q: string): Promise<Record<string, unknown>> {
  return (await rpc('tools/call', { name: 'execute_sql', arguments: { sql: q } })).body.result;
}

const opts = options();
const texts = (r: Record<string, unknown>) => (r.content as { text: string }[]).map((c) => c.text);

test('SELECT *: plan columns masked in every row item', async (t) => {
  if (skip) return t.skip(skip);
  const raw = await sql('SELECT * FROM customers');
  const p = plan([col(1, 'full_name', 'pseudonym'), col(2, 'ssn', 'last4'), col(3, 'email', 'email_domain')], ['customer_id', 'full_name', 'ssn', 'email']);
  const { result, report } = applyMasking(raw, p, opts);
  const rows = texts(result).map((x) => JSON.parse(x));
  assert.equal(rows.length, 2);
  assert.equal(rows[0].ssn, 'XXXXX6789');
  assert.equal(rows[0].email, 'XXXXX@bank.com');
  assert.match(rows[0].full_name, /^tok_/);
  assert.equal(rows[1].email, null);
  assert.equal(report.rows, 2);
  assert.ok(!JSON.stringify(result).includes('Alice'));
});

test('duplicate column names arrive as duplicate JSON keys: the SSN is never released', async (t) => {
  if (skip) return t.skip(skip);
  const raw = await sql('SELECT ssn AS customer_id, customer_id FROM customers');
  assert.match(textAt(raw), /"customer_id":"123-45-6789","customer_id":1/, 'Toolbox really sends duplicate keys');
  const p = plan([col(0, 'customer_id', 'redact', 'ssn', 'rule.ssn')], ['customer_id', 'customer_id']);
  const out = JSON.stringify(applyMasking(raw, p, opts).result);
  assert.ok(!out.includes('123-45-6789') && !out.includes('234-56-7890'), out);
});

test('engine-named expression columns not foreseen by the analysis fall back', async (t) => {
  if (skip) return t.skip(skip);
  const raw = await sql("SELECT ssn || '' FROM customers");
  const p = plan([col(0, 'ssn', 'last4')], ['ssn']); // analysis named it differently
  const { result, report } = applyMasking(raw, p, opts);
  assert.ok(!JSON.stringify(result).includes('6789'));
  assert.match(report.notes.join(), /'ssn' missing from the result/);
});

test('integers: a card stored as INTEGER is caught by the detectors; a TEXT card by lineage', async (t) => {
  if (skip) return t.skip(skip);
  const raw = await sql('SELECT account_id, account_number, card_number FROM accounts');
  const p = plan([col(2, 'card_number', 'last4')], ['account_id', 'account_number', 'card_number']);
  const { result, report } = applyMasking(raw, p, opts);
  const row = JSON.parse(textAt(result));
  assert.equal(row.account_number, '[REDACTED:card]');
  assert.equal(row.card_number, 'XXXXX4444');
  assert.deepEqual(report.detectorHits, [{ detector: 'card', count: 1 }]);
});

test('errors and empty results', async (t) => {
  if (skip) return t.skip(skip);
  const p = plan([col(0, 'ssn', 'redact')], ['ssn']);
  const missing = await sql('SELECT ssn FROM nope');
  assert.equal(missing.isError, true);
  // identifiers only: kept readable
  assert.match(textAt(applyMasking(missing, p, opts).result), /no such table: nope/);
  const empty = applyMasking(await sql('SELECT ssn FROM customers WHERE 0'), p, opts);
  assert.deepEqual(empty.result.content, []);
  assert.equal(empty.report.rows, 0);
  // anything else unmapped under a sensitive plan is withheld
  const odd = applyMasking({ content: [{ type: 'text', text: 'value Alice Smith is not valid' }], isError: true }, p, opts);
  assert.equal(textAt(odd.result), WITHHELD_TEXT);
});
