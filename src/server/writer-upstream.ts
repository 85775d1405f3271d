// The write path: a second upstream MCP server used ONLY for statements an independent
// approver released. In production it is an MCP Toolbox that holds no credential of its own
// and runs each statement with a short-lived token of a separate, write-capable service
// account (Terraform: the writer identity); the read upstream's identity cannot change data.
// In the demo it is a second Toolbox on the same SQLite file, the reader's being read-only.
//
// One MCP client, connected on first use. A failed call drops the connection (the next call
// reconnects) and is never retried: retrying a write could run it twice.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { credentialedFetch } from '../transport/upstream.js';
import type { UpstreamCredential } from '../identity/upstream-credential.js';
import type { WriterUpstream } from '../pipeline/deps.js';
import { GATEWAY_VERSION } from './version.js';

export function createWriterUpstream(opts: { url: string; name: string; timeoutMs: number; credential: UpstreamCredential }): WriterUpstream & { close(): Promise<void> } {
  let client: Promise<Client> | null = null;
  const connect = async (): Promise<Client> => {
    const c = new Client({ name: 'bqwarden-writer', version: GATEWAY_VERSION });
    await c.connect(new StreamableHTTPClientTransport(new URL(opts.url), { fetch: credentialedFetch(() => opts.credential.headers()) }));
    return c;
  };
  const drop = async () => {
    const c = client;
    client = null;
    await c?.then((x) => x.close()).catch(() => undefined);
  };
  return {
    name: opts.name,
    async forward(params, signal) {
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
