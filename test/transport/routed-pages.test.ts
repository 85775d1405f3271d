// Several upstreams behind one session: an upstream that pages its tools/list (MCP's
// nextCursor) must not lose its later pages in the union the client sees. Two real MCP servers
// (official SDK, Streamable HTTP) behind the gateway's RoutedUpstream and UpstreamClient.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { RoutedUpstream } from '../../src/transport/routed-upstream.js';
import { UpstreamClient } from '../../src/transport/upstream.js';
import { serveStateless } from '../fixtures/stateless-mcp.js';

/** A stateless MCP server whose tools/list answers `pageSize` tools a page; `pages` counts the pages asked for. */
async function pagingServer(names: string[], pageSize: number, endless = false): Promise<{ url: string; pages: () => number; close(): Promise<void> }> {
  let pages = 0;
  const served = await serveStateless(() => {
    const server = new Server({ name: 'paging', version: '1.0.0' }, { capabilities: { tools: {} } });
    server.setRequestHandler(ListToolsRequestSchema, async (r) => {
      pages++;
      const start = Number(r.params?.cursor ?? 0);
      const tools = names.slice(start, start + pageSize).map((name) => ({ name, inputSchema: { type: 'object' as const } }));
      const more = endless || start + pageSize < names.length;
      return { tools, ...(more ? { nextCursor: String(endless ? start : start + pageSize) } : {}) };
    });
    return server;
  });
  return { ...served, pages: () => pages };
}

const sameNames = { route: (name: string) => ({ upstream: name.startsWith('a') ? 'a' : 'b', name }), publicName: (_u: string, name: string) => name };

async function routed(a: string, b: string) {
  const client = (url: string) => new UpstreamClient({ url, headers: async () => ({}), timeoutMs: 10_000 });
  const up = new RoutedUpstream(
    [
      { id: 'a', client: client(a) },
      { id: 'b', client: client(b) },
    ],
    () => sameNames,
  );
  const { session } = await up.initialize({});
  return { up, session };
}

test('tools/list through several upstreams follows each one to its last page', async () => {
  const a = await pagingServer(['a1', 'a2', 'a3', 'a4', 'a5'], 2);
  const b = await pagingServer(['b1'], 2);
  const { up, session } = await routed(a.url, b.url);
  try {
    const reply = await up.request(session, up.id(), 'tools/list', JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }));
    const names = (reply.result.tools as { name: string }[]).map((t) => t.name);
    assert.deepEqual(names, ['a1', 'a2', 'a3', 'a4', 'a5', 'b1']);
    assert.equal(reply.result.nextCursor, undefined, 'the union is one page: no member cursor leaks to the client');
    assert.equal(a.pages(), 3);
  } finally {
    await up.close();
    await a.close();
    await b.close();
  }
});

test('an upstream that never stops paging is refused after a bounded number of pages', async () => {
  const a = await pagingServer(['a1'], 1, true);
  const b = await pagingServer(['b1'], 1);
  const { up, session } = await routed(a.url, b.url);
  try {
    await assert.rejects(
      up.request(session, up.id(), 'tools/list', JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} })),
      /upstream a: tools\/list did not end after 100 pages/,
    );
    assert.equal(a.pages(), 100);
  } finally {
    await up.close();
    await a.close();
    await b.close();
  }
});
