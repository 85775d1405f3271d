// The transport alone: the gateway's MCP endpoint (src/transport) with a pass-through
// interceptor and a constant bearer check, so what it adds over the bare proxy is the
// transport's own cost (sessions, checks, the upstream client, relaying), not the pipeline's.
// Usage: node bench/lib/transport-main.mjs <upstreamUrl> <bearer>
import Fastify from 'fastify';
import { compiled, load } from './load-app.mjs';

const [upstreamUrl, bearer] = process.argv.slice(2);
const { registerMcpGateway } = await load('transport/gateway');
const identity = { subject: 'bench', email: 'bench@bank.example', issuer: 'https://bench.invalid', groups: [], roles: [], actorType: 'human', authMethod: 'oidc', expiresAt: null, name: null };
const passThrough = {
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
const { port } = app.server.address();
process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${port}/mcp`, pid: process.pid, runtime: compiled ? 'compiled (dist/)' : 'tsx (src/)' })}\n`);
process.on('SIGTERM', () => void handle.close().then(() => app.close()).then(() => process.exit(0)));
