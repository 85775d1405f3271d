// Red team, operational logs: the gateway runs at trace level with its log lines captured, and
// traffic designed to make it log — clear PII released to a reader, SQL errors, malformed and
// hostile JSON-RPC (responses for unknown ids carrying rows, notifications with data), bad
// tokens, a policy reload that fails, an upstream that dies mid-session — then every line is
// scanned for dataset values and bearer tokens. Logs are not the audit store: they go to
// Cloud Logging with wider read access, so they must hold neither.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { generateBank, writeBankDb } from '../../src/demo/dataset.js';
import { startToolbox, type ToolboxProcess } from '../../src/demo/toolbox.js';
import { startGateway, type GatewayHandle } from '../../src/server/app.js';
import { loadGatewayConfig } from '../../src/server/config.js';
import { mintDevToken } from '../../src/identity/dev-issuer.js';
import { createLogger } from '../../src/ops/logger.js';
import { findLeaks } from '../helpers/leaks.js';
import { REPO, rowsOf } from '../helpers/gateway.js';
import { call, raw, rawSession } from './helpers.js';
import { present, at } from '../helpers/present.js';

const BANK = generateBank();
const C = at(BANK.customers, 11, 'demo customer');

const lines: string[] = [];
const capture = new Writable({
  write(chunk, _enc, done) {
    lines.push(...String(chunk).split('\n').filter(Boolean));
    done();
  },
});

let dataDir: string;
let rulesDir: string;
let toolbox: ToolboxProcess;
let gateway: GatewayHandle;
const tokens: string[] = [];
const clients: Client[] = [];

async function token(user: string, groups: string[]): Promise<string> {
  const t = await mintDevToken({ dataDir, issuer: `${gateway.url}/dev-issuer`, audience: `${gateway.url}/mcp`, user, groups });
  tokens.push(t);
  return t;
}

async function client(user: string, groups: string[]): Promise<Client> {
  const c = new Client({ name: 'redteam-logs', version: '1' });
  await c.connect(new StreamableHTTPClientTransport(new URL(`${gateway.url}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${await token(user, groups)}` } } }));
  clients.push(c);
  return c;
}

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'bqwarden-sec-logs-'));
  rulesDir = join(dataDir, 'rules');
  cpSync(join(REPO, 'rules'), rulesDir, { recursive: true });
  const db = join(dataDir, 'bank.db');
  await writeBankDb(db);
  toolbox = await startToolbox({ database: db });
  gateway = await startGateway(
    loadGatewayConfig({
      env: {},
      overrides: {
        mode: 'demo',
        dataDir,
        server: { host: '127.0.0.1', port: 0 },
        upstream: { url: toolbox.url, name: 'toolbox-sqlite', timeoutMs: 30_000 },
        rules: { dir: rulesDir, catalogDir: join(rulesDir, 'catalog') },
        identity: { devIssuer: { enabled: true } },
      },
    }),
    { log: createLogger('trace', capture) },
  );
});

after(async () => {
  for (const c of clients) await c.close().catch(() => undefined);
  await gateway?.close().catch(() => undefined);
  await toolbox?.stop().catch(() => undefined);
  rmSync(dataDir, { recursive: true, force: true });
});

test('hostile and sensitive traffic at trace level leaves no dataset value and no bearer token in the logs', async () => {
  const url = `${gateway.url}/mcp`;
  // Clear PII legitimately released, and denied literals.
  const reader = await client('log-reader@bank.example', ['pii-reader']);
  const r = await reader.callTool({ name: 'execute_sql', arguments: { sql: `SELECT ssn, email, date_of_birth FROM customers WHERE customer_id = ${C.customer_id}` } });
  assert.equal(rowsOf(r)[0]?.ssn, C.ssn, 'precondition: clear data released to the reader');
  const analyst = await client('log-analyst@bank.example', ['analyst']);
  for (const sql of [`SELECT customer_id FROM customers WHERE ssn = '${C.ssn}'`, `DELETE FROM customers WHERE email = '${C.email}'`, `SELEC '${C.ssn}'`, `SELECT no_such_fn('${C.ssn}')`]) {
    await analyst.callTool({ name: 'execute_sql', arguments: { sql } }).catch(() => undefined);
  }

  // Hostile JSON-RPC on a raw session: responses for ids nobody asked, carrying rows.
  const t = await token('log-raw@bank.example', ['analyst']);
  const sid = await rawSession(url, t);
  const rows = JSON.stringify([{ ssn: C.ssn, email: C.email }]);
  await raw(url, { jsonrpc: '2.0', id: 987654, result: { content: [{ type: 'text', text: rows }] } }, { token: t, sessionId: sid });
  await raw(url, { jsonrpc: '2.0', id: 987655, error: { code: -1, message: `bad ${C.ssn}`, data: rows } }, { token: t, sessionId: sid });
  await raw(url, { jsonrpc: '2.0', method: 'notifications/roots/list_changed', params: { leak: C.ssn } }, { token: t, sessionId: sid });
  await raw(url, { jsonrpc: '2.0', method: `notifications/${C.ssn}`, params: { email: C.email } }, { token: t, sessionId: sid });
  await raw(url, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"sql":"${C.ssn}"`, { token: t, sessionId: sid });
  await raw(url, call('execute_sql', { sql: 'SELECT 1' }), { token: `${t.slice(0, -4)}AAAA` });
  await raw(url, call('execute_sql', { sql: 'SELECT 1' }), { token: t, sessionId: sid, headers: { 'user-agent': `ua ${C.ssn}`, origin: `http://${C.email}` } });

  // A policy reload that fails (the error names the file, not data), then a good one.
  writeFileSync(join(rulesDir, 'access.yaml'), `methods: [ { id: broken, note: "${C.ssn}"`);
  await gateway.reloadPolicy();
  cpSync(join(REPO, 'rules', 'access.yaml'), join(rulesDir, 'access.yaml'));
  await gateway.reloadPolicy();

  // The upstream dies mid-session: errors get logged.
  await toolbox.stop();
  await reader.callTool({ name: 'execute_sql', arguments: { sql: `SELECT ssn FROM customers WHERE ssn = '${C.ssn}'` } }).catch(() => undefined);
  await new Promise((res) => setTimeout(res, 300));

  assert.ok(lines.length > 3, `the gateway logged (${lines.length} lines)`);
  const leaks = lines.flatMap((l) => findLeaks(l).map((x) => `${x.kind} ${x.value} in: ${l.slice(0, 240)}`));
  assert.deepEqual(leaks, [], leaks.join('\n'));
  const withToken = lines.filter((l) => tokens.some((tok) => l.includes(tok) || l.includes(present(tok.split('.')[2], 'bearer token signature'))));
  assert.deepEqual(withToken, [], 'a bearer token (or its signature) was logged');
});
