// Shared scaffolding for transport tests: a recording pass-through interceptor (the real
// pipeline is the lead's), a jose-based test authenticator with a locally generated key, and
// a gateway started on an ephemeral port in front of a given upstream.
import Fastify, { type FastifyInstance } from 'fastify';
import { SignJWT, generateKeyPair, jwtVerify, errors as joseErrors, type CryptoKey } from 'jose';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Identity } from '../../src/identity/types.js';
import type { HttpFailure, McpInterceptor, RequestContext } from '../../src/pipeline/types.js';
import { registerMcpGateway, type McpGatewayHandle, type McpGatewayOptions } from '../../src/transport/gateway.js';

interface Recorded {
  requests: { ctx: RequestContext; method: string; params: Record<string, unknown> | undefined }[];
  notifications: { ctx: RequestContext; method: string }[];
  starts: RequestContext[];
  ends: { ctx: RequestContext; reason: string }[];
  failures: HttpFailure[];
}

function recordingInterceptor(over: Partial<McpInterceptor> = {}): McpInterceptor & { rec: Recorded } {
  const rec: Recorded = { requests: [], notifications: [], starts: [], ends: [], failures: [] };
  return {
    rec,
    async onRequest(ctx, method, params, forward) {
      rec.requests.push({ ctx, method, params });
      if (over.onRequest) return over.onRequest(ctx, method, params, forward);
      return forward(params);
    },
    async onNotification(ctx, method, params) {
      rec.notifications.push({ ctx, method });
      await over.onNotification?.(ctx, method, params);
    },
    async onSessionStart(ctx) {
      rec.starts.push(ctx);
      await over.onSessionStart?.(ctx);
    },
    async onSessionEnd(ctx, reason) {
      rec.ends.push({ ctx, reason });
      await over.onSessionEnd?.(ctx, reason);
    },
    async onHttpFailure(f) {
      rec.failures.push(f);
      await over.onHttpFailure?.(f);
    },
  };
}

class TestAuthError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface TestAuth {
  issuer: string;
  token(subject: string, opts?: { expiresIn?: string | number; issuer?: string }): Promise<string>;
  authenticate: McpGatewayOptions['authenticate'];
  wwwAuthenticate: McpGatewayOptions['wwwAuthenticate'];
}

export async function testAuth(): Promise<TestAuth> {
  const { privateKey, publicKey } = (await generateKeyPair('ES256')) as { privateKey: CryptoKey; publicKey: CryptoKey };
  const issuer = 'https://issuer.test';
  return {
    issuer,
    async token(subject, opts = {}) {
      return new SignJWT({ email: `${subject}@bank.test`, groups: ['analysts'] })
        .setProtectedHeader({ alg: 'ES256' })
        .setSubject(subject)
        .setIssuer(opts.issuer ?? issuer)
        .setAudience('bqwarden')
        .setIssuedAt()
        .setExpirationTime(opts.expiresIn ?? '10m')
        .sign(privateKey);
    },
    async authenticate({ headers }) {
      const h = headers.authorization;
      const value = Array.isArray(h) ? h[0] : h;
      if (!value?.startsWith('Bearer ')) throw new TestAuthError('missing_token', 'no bearer token');
      try {
        const { payload } = await jwtVerify(value.slice(7), publicKey, { issuer, audience: 'bqwarden' });
        const identity: Identity = {
          subject: String(payload.sub),
          email: (payload.email as string) ?? null,
          issuer: String(payload.iss),
          groups: (payload.groups as string[]) ?? [],
          roles: [],
          actorType: 'human',
          authMethod: 'oidc',
          expiresAt: payload.exp ?? null,
          name: null,
        };
        return identity;
      } catch (err) {
        if (err instanceof joseErrors.JWTExpired) throw new TestAuthError('expired', 'token expired');
        if (err instanceof joseErrors.JWTClaimValidationFailed && err.claim === 'iss') throw new TestAuthError('wrong_issuer', 'wrong issuer');
        throw new TestAuthError('bad_signature', (err as Error).message);
      }
    },
    wwwAuthenticate(err) {
      const code = (err as { code?: string })?.code;
      return `Bearer realm="bqwarden", error="invalid_token", error_description="${code ?? 'unauthorized'}"`;
    },
  };
}

export interface TestGateway {
  url: string;
  app: FastifyInstance;
  handle: McpGatewayHandle;
  interceptor: ReturnType<typeof recordingInterceptor>;
  auth: TestAuth;
  close(): Promise<void>;
}

export async function startGateway(upstreamUrl: string, over: Partial<McpGatewayOptions> & { interceptorOverrides?: Partial<McpInterceptor>; auth?: TestAuth } = {}): Promise<TestGateway> {
  const auth = over.auth ?? (await testAuth());
  const interceptor = recordingInterceptor(over.interceptorOverrides);
  const app = Fastify({ logger: false, forceCloseConnections: true });
  const handle = await registerMcpGateway(app, {
    upstream: { url: upstreamUrl, headers: async () => ({ authorization: 'Bearer gateway-upstream-credential' }), timeoutMs: 10_000 },
    interceptor,
    authenticate: auth.authenticate,
    wwwAuthenticate: auth.wwwAuthenticate,
    allowedOrigins: ['https://console.bank.test'],
    bodyLimitBytes: 64 * 1024,
    sessionIdleTimeoutMs: 60_000,
    ...over,
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const port = (app.server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    app,
    handle,
    interceptor,
    auth,
    async close() {
      await handle.close();
      await app.close();
    },
  };
}

/**
 * A tiny HTTP forwarder that adds `Authorization: Bearer <token>` (the conformance runner sends
 * none; null keeps the client's own) and passes everything else through, streaming both ways
 * (SSE included). With a function as target, each request goes where it says at that moment
 * (a load balancer moving a client to another instance).
 */
export async function startAuthForwarder(targetUrl: string | (() => string), token: string | null): Promise<{ url: string; port: number; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const target = new URL(typeof targetUrl === 'string' ? targetUrl : targetUrl());
    const headers = token === null ? { ...req.headers } : { ...req.headers, authorization: `Bearer ${token}` };
    const up = httpRequest({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers }, (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.pipe(res);
    });
    up.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    res.on('close', () => up.destroy());
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    port,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export const ACCEPT_BOTH = 'application/json, text/event-stream';

/** Raw POST helper; parses JSON bodies and the first data: line of SSE bodies. */
export async function rawPost(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; json: any; text: string }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: ACCEPT_BOTH, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {
    const data = text
      .split('\n')
      .filter((l) => l.startsWith('data: '))
      .map((l) => l.slice(6))
      .filter((d) => d.trim() !== '');
    const last = data.at(-1);
    if (last !== undefined) json = JSON.parse(last);
  }
  return { status: res.status, headers: res.headers, json, text };
}

export function initBody(protocolVersion: string, id: number | string = 1, capabilities: Record<string, unknown> = {}) {
  return {
    jsonrpc: '2.0',
    id,
    method: 'initialize',
    params: { protocolVersion, capabilities, clientInfo: { name: 'raw-test-client', version: '9.9.9' } },
  };
}

/** Initializes a session over raw HTTP and returns its id (after notifications/initialized). */
export async function rawSession(url: string, token: string, protocolVersion: string): Promise<string> {
  const r = await rawPost(url, initBody(protocolVersion), { authorization: `Bearer ${token}` });
  if (r.status !== 200) throw new Error(`initialize failed: ${r.status} ${r.text}`);
  const sid = r.headers.get('mcp-session-id');
  if (!sid) throw new Error('no session id');
  const n = await rawPost(
    url,
    { jsonrpc: '2.0', method: 'notifications/initialized' },
    {
      authorization: `Bearer ${token}`,
      'mcp-session-id': sid,
      'mcp-protocol-version': protocolVersion,
    },
  );
  if (n.status !== 202) throw new Error(`initialized failed: ${n.status}`);
  return sid;
}
