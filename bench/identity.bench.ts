// Token verification cost per request, with keys cached (the steady state). Baseline: a bare
// jose.jwtVerify against a local key, i.e. the signature check alone. The ratio is what our
// layer (header parsing, issuer routing, claim mapping, remote-JWKS cache) adds on top.
import { createLocalJWKSet, jwtVerify } from 'jose';
import { createAuthenticator } from '../src/identity/authenticate.js';
import { startIssuer } from '../test/identity/helpers/issuer.js';

const RESOURCE = 'http://127.0.0.1:18080/mcp';
const N = Number(process.env.BENCH_N ?? 2000);

async function time(label: string, fn: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < Math.min(200, N); i++) await fn(); // warm-up (JIT, JWKS fetch)
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) await fn();
  const us = Number(process.hrtime.bigint() - t0) / 1000 / N;
  console.log(`  ${label.padEnd(44)} ${us.toFixed(1).padStart(8)} µs/op`);
  return us;
}

for (const alg of ['RS256', 'ES256', 'EdDSA']) {
  const idp = await startIssuer({ path: `/bench-${alg}`, alg });
  try {
    const token = await idp.sign({ sub: 'alice', aud: RESOURCE, groups: ['analyst', 'risk'], email: 'alice@bank.example' });
    const local = createLocalJWKSet({ keys: idp.keys.map((k) => k.publicJwk) });
    const auth = createAuthenticator({ resource: RESOURCE, issuers: [{ issuer: idp.url }], verifiedTokenCacheSeconds: 0 });
    const cached = createAuthenticator({ resource: RESOURCE, issuers: [{ issuer: idp.url }] });
    console.log(`${alg} (n=${N})`);
    const base = await time('baseline: jose.jwtVerify, local key', () => jwtVerify(token, local, { issuer: idp.url, audience: RESOURCE }));
    const ours = await time('authenticate(headers) → Identity, no cache', () => auth.authenticate({ authorization: `Bearer ${token}` }));
    console.log(`  ratio authenticate/baseline: ${(ours / base).toFixed(2)}x  (≈ ${Math.round(1e6 / ours)} verifications/s on one core)`);
    // An agent repeats its token on every call: the verified-token cache (default 60 s).
    const again = await time('authenticate, same token again (cached)', () => cached.authenticate({ authorization: `Bearer ${token}` }));
    console.log(`  ratio cached/uncached: ${(again / ours).toFixed(2)}x`);
  } finally {
    await idp.close();
  }
}
