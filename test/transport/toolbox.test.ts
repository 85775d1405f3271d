// The real upstream: Google's MCP Toolbox for Databases (`--prebuilt sqlite`) behind the
// gateway, driven by the official SDK client. Toolbox answers plain JSON (not SSE) and may not
// issue session ids; the gateway's upstream client must cope with both.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import initSqlJs from 'sql.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startToolbox } from '../../src/demo/toolbox.js';
import { startGateway } from './helpers.js';

test('Toolbox (--prebuilt sqlite) through the gateway: initialize, tools/list, execute_sql', { timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bqw-toolbox-'));
  const SQL = await initSqlJs();
  const db = new SQL.Database();
  db.run("CREATE TABLE branches (id INTEGER PRIMARY KEY, city TEXT NOT NULL); INSERT INTO branches VALUES (1, 'Albany'), (2, 'Buffalo');");
  const file = join(dir, 'bank.db');
  writeFileSync(file, Buffer.from(db.export()));
  db.close();

  const toolbox = await startToolbox({ database: file, timeoutMs: 60_000 });
  const gw = await startGateway(toolbox.url);
  t.after(async () => {
    await gw.close();
    await toolbox.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const client = new Client({ name: 'toolbox-e2e', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(gw.url), {
      requestInit: { headers: { authorization: `Bearer ${await gw.auth.token('analyst')}` } },
    }),
  );
  assert.ok(client.getServerCapabilities()?.tools, 'Toolbox capabilities are advertised through the gateway');
  const tools = await client.listTools();
  const names = tools.tools.map((x) => x.name);
  assert.ok(names.includes('execute_sql'), `tools: ${names.join(', ')}`);

  const r = await client.callTool({ name: 'execute_sql', arguments: { sql: 'SELECT city FROM branches ORDER BY id' } });
  assert.notEqual(r.isError, true, JSON.stringify(r));
  const text = (r.content as { type: string; text?: string }[]).map((c) => c.text ?? '').join('\n');
  assert.match(text, /Albany/);
  assert.match(text, /Buffalo/);

  const bad = await client.callTool({ name: 'execute_sql', arguments: { sql: 'SELECT * FROM no_such_table' } }).catch((e: Error) => e);
  const badText = bad instanceof Error ? bad.message : JSON.stringify(bad);
  assert.match(badText, /no such table/i, 'upstream SQL errors reach the client unchanged');

  assert.deepEqual(
    gw.interceptor.rec.requests.map((x) => x.method),
    ['tools/list', 'tools/call', 'tools/call'],
  );
  assert.equal(await gw.handle.upstreamReady(), true);
  await client.close();
  await gw.handle.close();
  assert.deepEqual(
    gw.interceptor.rec.ends.map((e) => e.reason),
    ['shutdown'],
    'the session ends exactly once',
  );
});
