// The demo's own issuer: its signing key, and `bqwarden token`, which mints tokens offline
// for scripts and CI identities. The same key and issuer URL are served by the demo
// authorization server (src/web/auth-server.ts), so to the verifier it is one ordinary issuer
// (ES256, JWKS, discovery) — and it refuses to exist outside demo/dev mode, because anyone who
// can read the data directory could mint tokens for any user.
import { createPrivateKey, createPublicKey, randomUUID, type KeyObject } from 'node:crypto';
import { chmodSync, linkSync, mkdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { calculateJwkThumbprint, exportJWK, exportPKCS8, generateKeyPair, SignJWT, type JWK } from 'jose';
import { dataDir as defaultDataDir, paths } from '../config/paths.js';
import { ACTOR_TYPES_ASSIGNABLE, type AssignableActorType } from './config.js';
import { DEFAULT_DEV_TTL_SECONDS, MAX_DEV_TTL_SECONDS } from './dev-limits.js';
import { BqwardenError } from '../common/errors.js';

export const DEV_ISSUER_ALG = 'ES256';
/** Claim a dev token uses to say which kind of actor it stands for (human unless told otherwise). */
export const DEV_ACTOR_TYPE_CLAIM = 'bqwarden_actor_type';
const DEV_MODES = ['demo', 'dev'] as const;

class DevIssuerRefused extends BqwardenError {
  constructor(message: string) {
    super('dev_issuer_refused', message);
    this.name = 'DevIssuerRefused';
  }
}

/** Throws unless we are in demo/dev mode and NODE_ENV is not production. */
export function assertDevMode(mode: string | undefined, env: NodeJS.ProcessEnv = process.env): void {
  if (env.NODE_ENV === 'production') {
    throw new DevIssuerRefused('the dev token issuer is disabled because NODE_ENV=production; configure a real identity provider (identity.issuers)');
  }
  if (mode === undefined || !(DEV_MODES as readonly string[]).includes(mode)) {
    throw new DevIssuerRefused(`the dev token issuer only runs in demo or dev mode (mode is ${mode ?? 'unset'}); configure a real identity provider (identity.issuers)`);
  }
}

export function devIssuerKeyDir(dataDir: string): string {
  return join(paths.keys(dataDir), 'dev-issuer');
}

export interface DevIssuerKey {
  privateKey: KeyObject;
  publicJwk: JWK & { kid: string; alg: string; use: string };
}

async function createKeyFile(file: string): Promise<void> {
  const { privateKey } = await generateKeyPair(DEV_ISSUER_ALG, { extractable: true });
  const pem = await exportPKCS8(privateKey);
  // Write under a unique name, then link into place: link() fails if the file exists, so a
  // gateway and a `bqwarden token` starting together never end up with two different keys.
  const tmp = `${file}.${process.pid}.${randomUUID()}.tmp`;
  writeFileSync(tmp, pem, { mode: 0o600, flag: 'wx' });
  try {
    linkSync(tmp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    unlinkSync(tmp);
  }
}

/** Loads the dev issuer key from <data>/keys/dev-issuer/, creating it on first use. */
export async function loadOrCreateDevIssuerKey(dataDir: string): Promise<DevIssuerKey> {
  const dir = devIssuerKeyDir(dataDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, 'private.pem');
  let exists = true;
  try {
    statSync(file);
  } catch {
    exists = false;
  }
  if (!exists) await createKeyFile(file);
  // A key readable by others lets them mint tokens; tighten it rather than trust it.
  if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
  const privateKey = createPrivateKey(readFileSync(file, 'utf8'));
  const jwk = await exportJWK(createPublicKey(privateKey));
  const kid = await calculateJwkThumbprint(jwk);
  return { privateKey, publicJwk: { ...jwk, kid, alg: DEV_ISSUER_ALG, use: 'sig' } };
}

export interface MintDevTokenOptions {
  dataDir?: string;
  issuer: string;
  audience: string;
  user: string;
  groups: string[];
  ttlSeconds?: number;
  actorType?: AssignableActorType;
  name?: string;
  /** Defaults to demo: the CLI mints for the local demo. Production is refused regardless. */
  mode?: string;
}

export async function mintDevToken(opts: MintDevTokenOptions): Promise<string> {
  assertDevMode(opts.mode ?? 'demo');
  const ttl = opts.ttlSeconds ?? DEFAULT_DEV_TTL_SECONDS;
  if (!Number.isInteger(ttl) || ttl <= 0 || ttl > MAX_DEV_TTL_SECONDS) {
    throw new Error(`ttl must be a whole number of seconds between 1 and ${MAX_DEV_TTL_SECONDS}`);
  }
  if (!opts.user) throw new Error('user is required');
  const actorType = opts.actorType ?? 'human';
  if (!(ACTOR_TYPES_ASSIGNABLE as readonly string[]).includes(actorType)) {
    throw new Error(`actor type must be one of ${ACTOR_TYPES_ASSIGNABLE.join(', ')}`);
  }
  const key = await loadOrCreateDevIssuerKey(opts.dataDir ?? defaultDataDir());
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({
    email: opts.user.includes('@') ? opts.user : undefined,
    name: opts.name ?? opts.user,
    groups: opts.groups,
    [DEV_ACTOR_TYPE_CLAIM]: actorType,
  })
    .setProtectedHeader({ alg: DEV_ISSUER_ALG, kid: key.publicJwk.kid, typ: 'JWT' })
    .setIssuer(opts.issuer.replace(/\/+$/, ''))
    .setAudience(opts.audience)
    .setSubject(opts.user)
    .setIssuedAt(now)
    .setNotBefore(now)
    .setExpirationTime(now + ttl)
    .setJti(randomUUID())
    .sign(key.privateKey);
}
