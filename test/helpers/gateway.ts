// End-to-end harness: the real demo stack in a temp directory — synthetic bank DB, MCP
// Toolbox (--prebuilt sqlite) as a child process, the full gateway in-process, dev-issuer
// tokens — and official MCP SDK clients to drive it.
import { mkdtempSync, rmSync, copyFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { writeBankDb } from '../../src/demo/dataset.js';
import { startDemoUpstreams, startToolbox, type ToolboxProcess } from '../../src/demo/toolbox.js';
import { startGateway, type GatewayHandle } from '../../src/server/app.js';
import { loadGatewayConfig } from '../../src/server/config.js';
import { deepMerge } from '../../src/config/load.js';
import { mintDevToken } from '../../src/identity/dev-issuer.js';
import { createLogger } from '../../src/ops/logger.js';

export const REPO = resolve(import.meta.dirname, '..', '..');

let cachedDb: Promise<string> | null = null;
/** The generated bank DB is the same every time: build it once per test process and copy it. */
export function bankDbTemplate(): Promise<string> {
  cachedDb ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bqwarden-db-'));
    const file = join(dir, 'bank.db');
    await writeBankDb(file);
    return file;
  })();
  return cachedDb;
}

export interface TestStack {
  dataDir: string;
  /** Base URL of the gateway, without /mcp. */
  url: string;
  mcpUrl: string;
  gateway: GatewayHandle;
  toolbox: ToolboxProcess;
  token(user: string, groups: string[], opts?: { ttlSeconds?: number; actorType?: 'human' | 'ci' | 'agent' | 'service' }): Promise<string>;
  /** An official MCP SDK client, initialized, authenticated as user/groups. */
  client(user: string, groups: string[], opts?: { protocolVersion?: string }): Promise<Client>;
  /** Restart the gateway on the same data directory (and port), keeping Toolbox. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export interface StackOptions {
  rulesDir?: string;
  /** Extra gateway config merged over the demo defaults. */
  config?: Record<string, unknown>;
  dataDir?: string;
  /**
   * Upstreams as `npm start` runs them: a read-only Toolbox and a writable one for approved
   * statements, both requiring the per-run token only this process holds.
   */
  demoUpstreams?: boolean;
  /** Toolbox runs this tools file (Toolbox config) instead of `--prebuilt sqlite`. */
  toolsFile?: string;
}

export async function startStack(opts: StackOptions = {}): Promise<TestStack> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'bqwarden-e2e-'));
  const db = join(dataDir, 'bank.db');
  if (!existsSync(db)) copyFileSync(await bankDbTemplate(), db);
  const demo = opts.demoUpstreams ? await startDemoUpstreams({ database: db }) : null;
  const toolbox = demo ? demo.reader : await startToolbox({ database: db, toolsFile: opts.toolsFile });
  const log = createLogger(process.env.BQWARDEN_TEST_LOG ?? 'silent');
  const clients: Client[] = [];
  let port = 0;

  const boot = async () =>
    startGateway(
      loadGatewayConfig({
        env: {},
        overrides: deepMerge(
          {
            mode: 'demo',
            dataDir,
            server: { host: '127.0.0.1', port },
            upstream: demo ? { ...demo.upstream, timeoutMs: 30_000 } : { url: toolbox.url, name: 'toolbox-sqlite', timeoutMs: 30_000 },
            rules: { dir: opts.rulesDir ?? join(REPO, 'rules'), catalogDir: join(REPO, 'rules', 'catalog') },
            identity: { devIssuer: { enabled: true } },
          },
          opts.config ?? {},
        ),
      }),
      { log, ...(demo ? { upstreamCredential: demo.credentials.upstream, writerCredential: demo.credentials.writer } : {}) },
    );

  let gateway = await boot();
  port = gateway.port;

  const stack: TestStack = {
    dataDir,
    get url() {
      return gateway.url;
    },
    get mcpUrl() {
      return `${gateway.url}/mcp`;
    },
    get gateway() {
      return gateway;
    },
    toolbox,
    token: (user, groups, o = {}) => mintDevToken({ dataDir, issuer: `${gateway.url}/dev-issuer`, audience: `${gateway.url}/mcp`, user, groups, ttlSeconds: o.ttlSeconds, actorType: o.actorType }),
    async client(user, groups) {
      const token = await stack.token(user, groups);
      const client = new Client({ name: 'bqwarden-e2e', version: '1.0.0' });
      await client.connect(new StreamableHTTPClientTransport(new URL(`${gateway.url}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
      clients.push(client);
      return client;
    },
    async restart() {
      await gateway.close();
      gateway = await boot();
    },
    async stop() {
      for (const c of clients.splice(0)) await c.close().catch(() => undefined);
      await gateway.close().catch(() => undefined);
      await (demo ? demo.stop() : toolbox.stop());
      if (!opts.dataDir && !process.env.BQWARDEN_KEEP_TEST_DATA) rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return stack;
}

/** Rows from an MCP Toolbox execute_sql result (one JSON object per text item). */
export function rowsOf(result: unknown): Record<string, unknown>[] {
  const content = (result as { content?: { type: string; text?: string }[] }).content ?? [];
  const rows: Record<string, unknown>[] = [];
  for (const c of content) {
    if (c.type !== 'text' || !c.text) continue;
    try {
      const v = JSON.parse(c.text);
      if (Array.isArray(v)) rows.push(...v);
      else if (v && typeof v === 'object') rows.push(v);
    } catch {
      // not a row
    }
  }
  return rows;
}

/** All text a client would see in a result. */
export function textOf(result: unknown): string {
  return JSON.stringify(result);
}
