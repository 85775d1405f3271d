// The demo's upstreams as `npm start` runs them: reachable only with the per-run token the
// gateway holds, and split so that the read path cannot change data while approved
// statements run through a separate, writable upstream. Attacks first, then the defence.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startDemoUpstreams, startToolbox, type DemoUpstreams } from '../../src/demo/toolbox.js';
import { readEvents } from '../../src/audit/reader.js';
import { bankDbTemplate, REPO, rowsOf, startStack } from '../helpers/gateway.js';
import { present } from '../helpers/present.js';

type Result = { content?: { type: string; text?: string }[]; isError?: boolean };
const text = (r: Result) => (r.content ?? []).map((c) => c.text ?? '').join('\n');

async function rpc(url: string, body: unknown, headers: Record<string, string> = {}, method = 'POST'): Promise<{ status: number; text: string }> {
  const res = await fetch(url, {
    method,
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    body: method === 'POST' ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, text: await res.text() };
}

const callSql = (sql: string) => ({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'execute_sql', arguments: { sql } } });

describe('demo upstreams cannot be reached around the gateway', () => {
  let dir: string;
  let up: DemoUpstreams;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bqw-upstreams-'));
    copyFileSync(await bankDbTemplate(), join(dir, 'bank.db'));
    up = await startDemoUpstreams({ database: join(dir, 'bank.db') });
  });
  after(async () => {
    await up?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the attack is real: a Toolbox started the old way answers any local process with data', async () => {
    const open = await startToolbox({ database: join(dir, 'bank.db') });
    try {
      const r = await rpc(open.url, callSql('SELECT ssn FROM customers LIMIT 1'));
      assert.equal(r.status, 200);
      assert.match(r.text, /\d{3}-?\d{2}-?\d{4}/, 'clear SSN straight from Toolbox, no gateway, no audit');
    } finally {
      await open.stop();
    }
  });

  test('no token: every method on both Toolboxes is refused (POST tools/call, initialize, GET stream, DELETE)', async () => {
    for (const url of [up.reader.url, up.writer.url]) {
      assert.equal((await rpc(url, callSql('SELECT ssn FROM customers LIMIT 1'))).status, 401);
      assert.equal((await rpc(url, { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } } })).status, 401);
      assert.equal((await rpc(url, null, {}, 'GET')).status, 401);
      assert.equal((await rpc(url, null, {}, 'DELETE')).status, 401);
      // The official MCP client gets no further.
      const client = new Client({ name: 'attacker', version: '1' });
      await assert.rejects(client.connect(new StreamableHTTPClientTransport(new URL(url))));
    }
  });

  test('forged tokens are refused: own key with the right issuer/audience, wrong audience, expired, alg none', async () => {
    const authorization = present((await up.credentials.upstream.headers()).authorization, 'upstream authorization header');
    const issuer = present(authorization.split('.')[1], 'upstream token payload');
    const iss = JSON.parse(Buffer.from(issuer, 'base64url').toString()).iss as string;
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const forged = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: (await exportJWK(publicKey)).kid ?? 'attacker' })
      .setIssuer(iss)
      .setAudience(up.reader.url)
      .setSubject('bqwarden-gateway')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(privateKey);
    assert.equal((await rpc(up.reader.url, callSql('SELECT 1'), { authorization: `Bearer ${forged}` })).status, 401, 'signed with a key the gateway never published');
    // The reader's genuine token is not valid for the writer (audience), so the read path's
    // credential cannot reach the write path either.
    const readerToken = await up.credentials.upstream.headers();
    assert.equal((await rpc(up.writer.url, callSql('SELECT 1'), readerToken)).status, 401);
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${Buffer.from(JSON.stringify({ iss, aud: up.reader.url, sub: 'x', exp: Math.floor(Date.now() / 1000) + 300 })).toString('base64url')}.`;
    assert.equal((await rpc(up.reader.url, callSql('SELECT 1'), { authorization: `Bearer ${none}` })).status, 401);
  });

  test('defence holds for the holder of the token, and the read path cannot write even with it', async () => {
    const ok = await rpc(up.reader.url, callSql('SELECT COUNT(*) AS n FROM customers'), await up.credentials.upstream.headers());
    assert.equal(ok.status, 200);
    assert.match(ok.text, /1000/);
    const write = await rpc(up.reader.url, callSql("UPDATE customers SET email = 'x@evil.example' WHERE customer_id = 1"), await up.credentials.upstream.headers());
    assert.match(write.text, /readonly database/, 'SQLite itself refuses writes on the read path');
  });
});

/** The demo rules plus one misjudgement: engineers may UPDATE without approval. */
function rulesAllowingUnapprovedUpdates(): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'bqw-rules-'));
  cpSync(join(REPO, 'rules'), dir, { recursive: true });
  const file = join(dir, 'access.yaml');
  const doc = parse(readFileSync(file, 'utf8')) as { statements: { id: string }[] };
  doc.statements = doc.statements.filter((r) => r.id !== 'engineer-changes-need-approval');
  doc.statements.push(
    { id: 'test-misjudged-update', roles: ['engineer'], classes: ['write'], kinds: ['update'], effect: 'allow' } as { id: string },
    { id: 'test-delete-needs-approval', roles: ['engineer'], classes: ['write'], kinds: ['delete'], effect: 'approval', approval: { approvers: ['approver'], count: 1, expiry: '1h' } } as {
      id: string;
    },
  );
  writeFileSync(file, stringify(doc));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

test('approved statements run on the write path, recorded as such; an unapproved write fails at the engine', { timeout: 600_000 }, async (t) => {
  const rules = rulesAllowingUnapprovedUpdates();
  const stack = await startStack({ demoUpstreams: true, rulesDir: rules.dir, config: { approvals: { wait: { enabled: false, maxSeconds: 60, progressIntervalSeconds: 0.2 } } } });
  t.after(async () => {
    await stack.stop();
    rules.cleanup();
  });
  const eve = await stack.client('eve@bank.example', ['engineer']);
  const sql = async (s: string) => (await eve.callTool({ name: 'execute_sql', arguments: { sql: s } }, undefined, { timeout: 60_000 })) as Result;
  const count = async (where: string) => Number(Object.values(rowsOf(await sql(`SELECT COUNT(*) AS n FROM transactions WHERE ${where}`))[0] ?? {})[0]);

  // Attack: policy lets a write through without approval. It reaches the read path, whose
  // connection cannot write: the engine refuses, nothing changes.
  const sneaky = await sql("UPDATE transactions SET merchant = 'Evil Corp' WHERE txn_id = 1");
  assert.equal(sneaky.isError, true);
  assert.match(text(sneaky), /readonly database/);
  assert.equal(await count("merchant = 'Evil Corp'"), 0);

  // Defence in use: a DELETE is held, approved by someone else, and the re-run executes on
  // the writable upstream.
  const del = 'DELETE FROM transactions WHERE txn_id = 2';
  assert.equal(await count('txn_id = 2'), 1);
  const held = await sql(del);
  const id = /apr-[a-z0-9]+/.exec(text(held))?.[0];
  assert.ok(id, text(held));
  const token = await stack.token('bob@bank.example', ['approver']);
  const res = await fetch(`${stack.url}/approvals/${id}/approve`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ reason: 'checked' }),
  });
  assert.equal(res.status, 200, await res.text());
  const ran = await sql(del);
  assert.notEqual(ran.isError, true, text(ran));
  assert.equal(await count('txn_id = 2'), 0, 'the approved DELETE ran');

  const upstreamOf = new Map<string, string[]>();
  for await (const { event } of readEvents(join(stack.dataDir, 'audit'))) {
    if (event.event_type !== 'mcp_request' || event.tool_name !== 'execute_sql') continue;
    const key = String(event.outcome);
    upstreamOf.set(String(event.upstream), [...(upstreamOf.get(String(event.upstream)) ?? []), `${event.approval_id ? 'approved' : 'plain'}:${key}`]);
  }
  assert.deepEqual(upstreamOf.get('toolbox-sqlite-writer'), ['approved:success'], 'only the approved statement used the write path');
  // The read path saw the request while it was held (pending, nothing ran), never its execution.
  assert.deepEqual(
    (upstreamOf.get('toolbox-sqlite') ?? []).filter((x) => x.startsWith('approved:')),
    ['approved:pending'],
  );
});
