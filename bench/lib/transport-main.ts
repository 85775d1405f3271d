// The transport alone: the gateway's MCP endpoint (src/transport) with a pass-through
// interceptor and a constant-time bearer check, so what it adds over the bare proxy is the
// transport's own cost (sessions, checks, the upstream client, relaying), not the pipeline's.
// Usage: node --import tsx bench/lib/transport-main.ts <upstreamUrl> <bearer>
import Fastify from 'fastify';
import { registerMcpGateway } from '../../src/transport/gateway.js';
import type { McpInterceptor } from '../../src/pipeline/types.js';
import type { Identity } from '../../src/identity/types.js';

const [upstreamUrl, bearer] = process.argv.slice(2);
const identity: Identity = { subject: 'bench', email: 'bench@bank.example', issuer: 'https://bench.invalid', groups: [], roles: [], actorType: 'human', authMethod: 'oidc', expiresAt: null, name: null };
const passThrough: McpInterceptor = {
  onRequest: (_ctx, _method, params, forward) => forward(params),
  onNotification: async () => {},
  onSessionStart: async () => {},
  onSessionEnd: async () => {},
  onHttpFailure: async () => {},
};
const app = Fastify({ logger: false, forceCloseConnections: true });
const handle = await registerMcpGateway(app, {
  upstream: { url: upstreamUrl, headers: async () => ({}), timeoutMs: 60_000 },
  interceptor: passThrough,
  authenticate: async ({ headers }) => {
    if (headers.authorization !== `Bearer ${bearer}`) throw Object.assign(new Error('bad token'), { code: 'bad_signature' });
    return identity;
  },
  wwwAuthenticate: () => 'Bearer',
  allowedOrigins: [],
  bodyLimitBytes: 1_048_576,
  sessionIdleTimeoutMs: 600_000,
  maxSessionsPerIdentity: 100_000,
});
await app.listen({ host: '127.0.0.1', port: 0 });
const { port } = app.server.address() as { port: number };
process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${port}/mcp`, pid: process.pid })}\n`);
process.on('SIGTERM', () => void handle.close().then(() => app.close()).then(() => process.exit(0)));
