// A per-run token issuer that only the gateway can sign for, so the demo's Toolboxes answer
// the gateway and no other local process. MCP Toolbox's `generic` auth service with
// mcpEnabled: true verifies a JWT on every MCP request against the JWKS it discovers at
// authorizationServer (/.well-known/openid-configuration), checking issuer and audience.
// The private key is generated at start and never leaves this process's memory; the small
// loopback server publishes only the public key.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import type { UpstreamCredential } from '../identity/upstream-credential.js';

/** Tokens live this long; one is re-minted when less than a minute is left. */
const TOKEN_SECONDS = 300;

export interface ToolboxAuth {
  /** The issuer URL (also the authorizationServer Toolbox discovers). */
  issuer: string;
  /** Toolbox configuration (YAML) that requires our tokens for the Toolbox at this MCP URL. */
  toolboxConfig(mcpUrl: string): string;
  /** The gateway's credential for the Toolbox at this MCP URL (the token audience). */
  credential(mcpUrl: string): UpstreamCredential;
  close(): Promise<void>;
}

export async function startToolboxAuth(): Promise<ToolboxAuth> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const kid = randomUUID();
  const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' }] };
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const body = path === '/.well-known/openid-configuration' ? { issuer, jwks_uri: `${issuer}/jwks` } : path === '/jwks' ? jwks : null;
    res.writeHead(body ? 200 : 404, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify(body ?? { error: 'not_found' }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  server.unref();
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const mint = (key: CryptoKey, audience: string) =>
    new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid, typ: 'JWT' })
      .setIssuer(issuer)
      .setAudience(audience)
      .setSubject('bqwarden-gateway')
      .setJti(randomUUID())
      .setIssuedAt()
      .setExpirationTime(`${TOKEN_SECONDS}s`)
      .sign(key);

  return {
    issuer,
    toolboxConfig(mcpUrl) {
      return ['kind: authService', 'name: bqwarden-gateway', 'type: generic', 'mcpEnabled: true', `authorizationServer: ${issuer}`, `audience: ${mcpUrl}`, ''].join('\n');
    },
    credential(mcpUrl) {
      let cached: { token: string; exp: number } | null = null;
      return {
        kind: 'static_bearer',
        async headers() {
          const now = Date.now() / 1000;
          if (!cached || cached.exp - now < 60) cached = { token: await mint(privateKey, mcpUrl), exp: now + TOKEN_SECONDS };
          return { authorization: `Bearer ${cached.token}` };
        },
      };
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
