// A local OIDC issuer for tests: discovery + JWKS over HTTP on an ephemeral port, with keys
// generated at test time (never committed). It can rotate keys, go down, and count fetches.
// The same server also publishes Google-style PEM certificate maps ({ kid: pem }) so the
// google-auth-library code paths for ID tokens and IAP run against local keys.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createPublicKey, type KeyObject } from 'node:crypto';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type JWK, type JWTPayload } from 'jose';
import { at } from '../../helpers/present.js';

export interface TestKey {
  kid: string;
  alg: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  publicJwk: JWK;
  spkiPem: string;
}

let kidCounter = 0;

export async function makeKey(alg = 'RS256', kid = `k${++kidCounter}-${alg}`): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const pk = privateKey as unknown as KeyObject;
  const pub = publicKey as unknown as KeyObject;
  const jwk = { ...(await exportJWK(pub)), kid, alg, use: 'sig' };
  return { kid, alg, privateKey: pk, publicKey: createPublicKey(pk), publicJwk: jwk, spkiPem: await exportSPKI(pub) };
}

export interface TestIssuer {
  /** Issuer URL (http://127.0.0.1:<port><path>). */
  url: string;
  origin: string;
  keys: TestKey[];
  /** When true every endpoint answers 503. */
  down: boolean;
  /** Overrides the `issuer` field of the discovery document (mix-up test). */
  discoveryIssuer: string | null;
  hits: { discovery: number; jwks: number; pem: number };
  addKey(alg?: string): Promise<TestKey>;
  removeKey(kid: string): void;
  /** Signs claims with keys[0] (or the given key), filling iss/iat/exp unless given. */
  sign(claims: JWTPayload, opts?: { key?: TestKey; header?: Record<string, unknown>; noDefaults?: boolean }): Promise<string>;
  close(): Promise<void>;
}

export async function startIssuer(opts: { path?: string; alg?: string } = {}): Promise<TestIssuer> {
  const path = opts.path ?? '/tenant-a';
  const first = await makeKey(opts.alg ?? 'RS256');
  const server: Server = createServer((req, res) => {
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    if (issuer.down) return send(503, { error: 'down' });
    const url = new URL(req.url ?? '/', issuer.origin);
    if (url.pathname === `${path}/.well-known/openid-configuration`) {
      issuer.hits.discovery++;
      return send(200, { issuer: issuer.discoveryIssuer ?? issuer.url, jwks_uri: `${issuer.url}/jwks`, id_token_signing_alg_values_supported: ['RS256'] });
    }
    if (url.pathname === `${path}/jwks`) {
      issuer.hits.jwks++;
      return send(200, { keys: issuer.keys.map((k) => k.publicJwk) });
    }
    if (url.pathname === `${path}/pem`) {
      issuer.hits.pem++;
      return send(200, Object.fromEntries(issuer.keys.map((k) => [k.kid, k.spkiPem])), { 'cache-control': 'public, max-age=0' });
    }
    send(404, { error: 'not found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const origin = `http://127.0.0.1:${port}`;
  const issuer: TestIssuer = {
    url: `${origin}${path}`,
    origin,
    keys: [first],
    down: false,
    discoveryIssuer: null,
    hits: { discovery: 0, jwks: 0, pem: 0 },
    async addKey(alg = opts.alg ?? 'RS256') {
      const k = await makeKey(alg);
      issuer.keys.push(k);
      return k;
    },
    removeKey(kid) {
      issuer.keys = issuer.keys.filter((k) => k.kid !== kid);
    },
    async sign(claims, o = {}) {
      const key = o.key ?? at(issuer.keys, 0, 'issuer signing key');
      const now = Math.floor(Date.now() / 1000);
      const body = o.noDefaults ? claims : { iss: issuer.url, iat: now, exp: now + 600, ...claims };
      return new SignJWT(body).setProtectedHeader({ alg: key.alg, kid: key.kid, ...o.header }).sign(key.privateKey);
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  return issuer;
}

/** base64url of a JSON value, for hand-built (forged) tokens. */
export function b64json(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}
