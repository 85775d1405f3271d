// What an agent reads of an error is the catalog's to say (src/common/errors.ts): through the real
// transport and the official MCP SDK client, an error whose detail an agent may not read (a
// masking failure can name the value it failed to mask; an internal error names our code) is
// answered with the catalog's summary, while a refusal the agent can act on keeps its text.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ERROR_CATALOG, GatewayError } from '../../src/common/errors.js';
import { startConformanceServer, type ConformanceServerHandle } from '../fixtures/conformance-server.js';
import { startGateway, type TestGateway } from './helpers.js';

let upstream: ConformanceServerHandle;
let gw: TestGateway;

before(async () => {
  upstream = await startConformanceServer();
  gw = await startGateway(upstream.url, {
    interceptorOverrides: {
      async onRequest(_ctx, method, params, forward) {
        const name = (params as { name?: string } | undefined)?.name;
        if (method !== 'tools/call') return forward(params);
        if (name === 'leaky_mask') throw GatewayError.of('masking_failed', 'response could not be masked: cell 4111 1111 1111 1111 of eve.secret@bank.example');
        if (name === 'crash') throw new TypeError("Cannot read properties of undefined (reading 'rows') at /srv/bqwarden/dist/pipeline/kit.js:88");
        throw GatewayError.of('method_denied', 'MCP method tools/call is not allowed for this caller (rule default-deny)', { rule_id: 'default-deny' });
      },
    },
  });
});
after(async () => {
  await gw.close();
  await upstream.close();
});

async function callError(name: string): Promise<{ code: number; message: string }> {
  const c = new Client({ name: 'sdk-errors', version: '1.0.0' });
  const t = new StreamableHTTPClientTransport(new URL(gw.url), { requestInit: { headers: { authorization: `Bearer ${await gw.auth.token('agent')}` } } });
  await c.connect(t);
  try {
    await c.callTool({ name, arguments: {} });
  } catch (err) {
    return err as { code: number; message: string };
  } finally {
    await c.close();
  }
  assert.fail(`${name} was not refused`);
}

test('attack: a masking failure naming the value it failed to mask reaches the client as the summary only', async () => {
  const e = await callError('leaky_mask');
  assert.equal(e.code, ERROR_CATALOG.masking_failed.rpc);
  assert.doesNotMatch(e.message, /4111|eve\.secret|cell/);
  assert.match(e.message, /could not be masked.*masking_failed/);
});

test('attack: an unexpected internal error (a stack-trace message) is answered as internal_error without its text', async () => {
  const e = await callError('crash');
  assert.equal(e.code, ERROR_CATALOG.internal_error.rpc);
  assert.doesNotMatch(e.message, /Cannot read|srv|kit\.js/);
  assert.match(e.message, /internal_error/);
});

test('a refusal the agent can act on keeps its message and rule', async () => {
  const e = await callError('anything');
  assert.equal(e.code, ERROR_CATALOG.method_denied.rpc);
  assert.match(e.message, /not allowed for this caller \(rule default-deny\)/);
});
