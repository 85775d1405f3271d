// The gateway's own MCP clients off the data path: catalog lookups (table schemas through the
// upstream's table-info tool) and the write path (approved statements only, on a separate
// writer upstream). One copy, so both present fresh credentials on every HTTP request (Google
// ID tokens expire after about an hour; a header captured at connect time would go stale) and
// both reconnect after a failure instead of keeping a dead session forever.
//
// One MCP client per upstream, connected on first use. A failed call drops the connection (the
// next call reconnects) and is never retried here: retrying a write could run it twice.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { credentialedFetch } from '../transport/upstream.js';
import type { UpstreamCredential } from '../identity/upstream-credential.js';
import type { WriterUpstream } from '../pipeline/deps.js';
import { GATEWAY_VERSION } from './version.js';

export interface UpstreamToolClientOptions {
  url: string;
  /** How the client introduces itself upstream (bqwarden-catalog, bqwarden-writer). */
  clientName: string;
  timeoutMs: number;
  credential: UpstreamCredential;
}

export interface UpstreamToolClient {
  callTool(params: Record<string, unknown> | undefined, signal?: AbortSignal): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

export function createUpstreamToolClient(opts: UpstreamToolClientOptions): UpstreamToolClient {
  let client: Promise<Client> | null = null;
  const connect = async (): Promise<Client> => {
    const c = new Client({ name: opts.clientName, version: GATEWAY_VERSION });
    await c.connect(new StreamableHTTPClientTransport(new URL(opts.url), { fetch: credentialedFetch(() => opts.credential.headers()) }));
    return c;
  };
  const drop = async () => {
    const c = client;
    client = null;
    await c?.then((x) => x.close()).catch(() => undefined);
  };
  return {
    async callTool(params, signal) {
      client ??= connect();
      try {
        const c = await client;
        return (await c.callTool(params as Parameters<Client['callTool']>[0], undefined, { timeout: opts.timeoutMs, signal })) as Record<string, unknown>;
      } catch (err) {
        await drop();
        throw err;
      }
    },
    close: drop,
  };
}

/** The write path: a second upstream used ONLY for statements an independent approver released. */
export function createWriterUpstream(opts: { url: string; name: string; timeoutMs: number; credential: UpstreamCredential }): WriterUpstream & { close(): Promise<void> } {
  const c = createUpstreamToolClient({ url: opts.url, clientName: 'bqwarden-writer', timeoutMs: opts.timeoutMs, credential: opts.credential });
  return { name: opts.name, forward: (params, signal) => c.callTool(params, signal), close: () => c.close() };
}
