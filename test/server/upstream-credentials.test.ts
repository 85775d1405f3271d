// The gateway's credential towards the upstream, seen from the two places that once each had
// their own copy of the upstream client and drifted from the data path:
// - /readyz must use the data path's probe: an upstream that refuses our credential (401/403)
//   is not ready, however reachable it is;
// - catalog lookups (and the writer) must present the credential as it is NOW, on every request:
//   a Google ID token is refreshed about hourly and the old one is then refused, so a header
//   captured at connect time turns every later lookup into a refusal (SELECT * then fails).
// Real MCP Toolbox processes behind the demo's per-run token; the "refresh" is a generation
// header that a small front enforces, so the old credential is refused the moment it changes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDemoUpstreams, type DemoUpstreams } from '../../src/demo/toolbox.js';
import { startGateway, type GatewayHandle } from '../../src/server/app.js';
import { loadGatewayConfig } from '../../src/server/config.js';
import { createUpstreamToolClient } from '../../src/server/upstream-tool-client.js';
import { createLogger } from '../../src/ops/logger.js';
import type { UpstreamCredential } from '../../src/identity/upstream-credential.js';
import { bankDbTemplate, REPO } from '../helpers/gateway.js';

let dataDir: string;
let demo: DemoUpstreams;
let front: { url: string; close(): Promise<void>; refused: () => number };
let generation = 0;

/** Forwards to the real Toolbox only requests that carry the current credential generation. */
async function startRotatingFront(target: string): Promise<typeof front> {
  const t = new URL(target);
  let refused = 0;
  const server: Server = createServer((req, res) => {
    if (req.headers['x-credential-generation'] !== String(generation)) {
      refused++;
      req.resume();
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"credential expired"}');
      return;
    }
    const up = httpRequest({ host: t.hostname, port: t.port, method: req.method, path: req.url, headers: { ...req.headers, host: t.host } }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}${t.pathname}`,
    refused: () => refused,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** The demo's real per-run token plus the generation the front checks: it changes on "refresh". */
function rotatingCredential(real: UpstreamCredential): UpstreamCredential {
  return { kind: real.kind, headers: async () => ({ ...(await real.headers()), 'x-credential-generation': String(generation) }) };
}

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'bqwarden-upcred-'));
  const db = join(dataDir, 'bank.db');
  copyFileSync(await bankDbTemplate(), db);
  demo = await startDemoUpstreams({ database: db });
  front = await startRotatingFront(demo.upstream.url);
});
after(async () => {
  await front?.close();
  await demo?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

async function gatewayWith(credential: UpstreamCredential): Promise<GatewayHandle> {
  return startGateway(
    loadGatewayConfig({
      env: {},
      overrides: {
        mode: 'demo',
        dataDir,
        server: { host: '127.0.0.1', port: 0 },
        upstream: { url: demo.upstream.url, name: 'toolbox-sqlite', timeoutMs: 30_000 },
        rules: { dir: join(REPO, 'rules'), catalogDir: join(REPO, 'rules', 'catalog') },
        identity: { devIssuer: { enabled: true } },
      },
    }),
    { log: createLogger('silent'), upstreamCredential: credential },
  );
}

test('/readyz: an upstream that refuses our credential (HTTP 401 from MCP Toolbox) is not ready', async () => {
  let valid = false;
  const gw = await gatewayWith({ kind: 'static_bearer', headers: async () => (valid ? demo.credentials.upstream.headers() : { authorization: 'Bearer not-the-gateway' }) });
  try {
    // The attack on readiness: the upstream answers (it is reachable) but refuses us.
    const refused = await fetch(`${gw.url}/readyz`);
    const body = (await refused.json()) as { status: string; checks: { upstream: boolean; audit: boolean } };
    assert.equal(refused.status, 503);
    assert.equal(body.checks.upstream, false, 'a 401 from the upstream is not healthy');
    assert.equal(body.checks.audit, true);
    valid = true;
    const ok = await fetch(`${gw.url}/readyz`);
    assert.equal(ok.status, 200);
    assert.deepEqual(((await ok.json()) as { checks: unknown }).checks, { audit: true, upstream: true, policy: true });
  } finally {
    await gw.close();
  }
});

test('catalog client: lookups keep working after the credential is refreshed and the old one refused', async () => {
  generation = 0;
  const client = createUpstreamToolClient({ url: front.url, clientName: 'bqwarden-catalog', timeoutMs: 30_000, credential: rotatingCredential(demo.credentials.upstream) });
  try {
    const first = (await client.callTool({ name: 'list_tables', arguments: { table_names: 'customers' } })) as { content: { text?: string }[]; isError?: boolean };
    assert.notEqual(first.isError, true);
    assert.match(JSON.stringify(first.content), /customers/);
    const refusedBefore = front.refused();
    // The refresh: from now on only the new credential is accepted.
    generation = 1;
    const second = (await client.callTool({ name: 'list_tables', arguments: { table_names: 'accounts' } })) as { content: { text?: string }[]; isError?: boolean };
    assert.notEqual(second.isError, true);
    assert.match(JSON.stringify(second.content), /accounts/);
    assert.equal(front.refused(), refusedBefore, 'no request went out with the expired credential');
  } finally {
    await client.close();
  }
});

test('catalog client: after a refused call it reconnects instead of keeping a dead session', async () => {
  generation = 5;
  let stale = true;
  const credential: UpstreamCredential = {
    kind: 'static_bearer',
    headers: async () => ({ ...(await demo.credentials.upstream.headers()), 'x-credential-generation': stale ? 'old' : '5' }),
  };
  const client = createUpstreamToolClient({ url: front.url, clientName: 'bqwarden-catalog', timeoutMs: 30_000, credential });
  try {
    await assert.rejects(client.callTool({ name: 'list_tables', arguments: { table_names: 'customers' } }));
    stale = false;
    const r = (await client.callTool({ name: 'list_tables', arguments: { table_names: 'customers' } })) as { content: unknown; isError?: boolean };
    assert.notEqual(r.isError, true);
    assert.match(JSON.stringify(r.content), /customers/);
  } finally {
    await client.close();
  }
});
