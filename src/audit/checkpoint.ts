// Checkpoints: signatures over the chain head. A checkpoint at seq s signs
// `${chain_id}|${s}|${prev_hash}`, and since prev_hash commits to every earlier event through
// the hash chain, one signature authenticates the whole chain before it. Events after the last
// checkpoint (the "unsigned tail") are only hash-linked, which anyone can recompute; the
// verifier says so, and anchors (anchors.ts) bound how long such a tail can be cut unseen.
//
// Two kinds of key: Ed25519 (the local demo key, node:crypto) and ECDSA P-256/SHA-256 or Ed25519
// held in Cloud KMS (src/gcp/kms-signer.ts), whose private half never leaves KMS. The verifier
// trusts only keys it is given (pinned), never whatever lies in a directory.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { BqwardenError } from '../common/errors.js';

export const PRIVATE_KEY_FILE = 'audit-signing.key.pem';
export const PUBLIC_KEY_FILE = 'audit-signing.pub.pem';

export class SigningKeyError extends BqwardenError {
  constructor(message: string) {
    super('signing_key_invalid', message);
    this.name = 'SigningKeyError';
  }
}

export interface CheckpointSigner {
  /** Short fingerprint of the public key, written to signing_key_id. */
  readonly keyId: string;
  readonly publicKey: KeyObject;
  readonly publicKeyPem: string;
  /** Where the private key lives, for logs and the report: `local file …`, `cloud kms …`. */
  readonly description?: string;
  /** Base64 signature over checkpointMessage(...); KMS signers answer asynchronously. */
  sign(chainId: string, seq: number, prevHash: string): string | Promise<string>;
}

export function checkpointMessage(chainId: string, seq: number, prevHash: string): string {
  return `${chainId}|${seq}|${prevHash}`;
}

/** Key types a checkpoint may be signed with. */
function keyKind(key: KeyObject): 'ed25519' | 'ecdsa-p256' | null {
  if (key.asymmetricKeyType === 'ed25519') return 'ed25519';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ecdsa-p256';
  return null;
}

/** `ed25519:` or `ecdsa-p256:` + first 16 hex of SHA-256 over the SPKI DER: stable across PEM formatting. */
export function keyFingerprint(publicKey: KeyObject): string {
  const kind = keyKind(publicKey);
  if (!kind) throw new SigningKeyError(`checkpoint keys are Ed25519 or ECDSA P-256, got ${publicKey.asymmetricKeyType ?? 'unknown'}`);
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return `${kind}:` + createHash('sha256').update(der).digest('hex').slice(0, 16);
}

/** A signer holding its key in this process: signs synchronously. */
export interface LocalSigner extends CheckpointSigner {
  sign(chainId: string, seq: number, prevHash: string): string;
}

export function signerFromPrivateKey(privateKey: KeyObject): LocalSigner {
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new SigningKeyError(`audit signing key must be Ed25519, got ${privateKey.asymmetricKeyType ?? 'unknown'}`);
  }
  const publicKey = createPublicKey(privateKey);
  const keyId = keyFingerprint(publicKey);
  return {
    keyId,
    publicKey,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    description: 'local Ed25519 key',
    sign: (chainId: string, seq: number, prevHash: string): string => sign(null, Buffer.from(checkpointMessage(chainId, seq, prevHash), 'utf8'), privateKey).toString('base64'),
  };
}

function readPrivateKey(file: string): KeyObject {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (err) {
    throw new SigningKeyError(`cannot read audit signing key ${file}: ${(err as Error).message}`);
  }
  try {
    return createPrivateKey(pem);
  } catch {
    // Never echo the file content: it is a private key.
    throw new SigningKeyError(`audit signing key ${file} is not a PEM private key`);
  }
}

export interface LoadSignerOptions {
  /** Directory holding generated keys (<data>/keys). */
  keysDir: string;
  /** Production: a private key PEM mounted from Secret Manager; never generated or rewritten. */
  signingKeyFile?: string | null;
  /** False in production without a mounted key: refuse to start rather than sign with a fresh, unknown key. Default true. */
  allowGenerate?: boolean;
}

/**
 * Loads the signing key, generating an Ed25519 pair under keysDir on first start when no
 * signingKeyFile is configured. The public half is (re)written as PEM for verifiers.
 */
export function loadOrCreateSigner(opts: LoadSignerOptions): LocalSigner {
  if (opts.signingKeyFile) return signerFromPrivateKey(readPrivateKey(opts.signingKeyFile));
  mkdirSync(opts.keysDir, { recursive: true, mode: 0o700 });
  const privFile = join(opts.keysDir, PRIVATE_KEY_FILE);
  const pubFile = join(opts.keysDir, PUBLIC_KEY_FILE);
  let signer: LocalSigner;
  try {
    if (opts.allowGenerate === false) {
      statSync(privFile); // throws ENOENT when absent
      throw Object.assign(new Error('exists'), { code: 'EEXIST' });
    }
    const { privateKey } = generateKeyPairSync('ed25519');
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    // 'wx' makes first start race-free: if another process created the key first we use theirs.
    writeFileSync(privFile, pem, { mode: 0o600, flag: 'wx' });
    signer = signerFromPrivateKey(privateKey);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && opts.allowGenerate === false) {
      throw new SigningKeyError(`no audit signing key: ${privFile} does not exist and key generation is off; mount the key and set audit.signingKeyFile`);
    }
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new SigningKeyError(`cannot create audit signing key in ${opts.keysDir}: ${(err as Error).message}`);
    }
    const mode = statSync(privFile).mode & 0o077;
    if (mode !== 0 && process.platform !== 'win32') {
      throw new SigningKeyError(`audit signing key ${privFile} is readable by group/others (mode ${(statSync(privFile).mode & 0o777).toString(8)}); run chmod 600`);
    }
    signer = signerFromPrivateKey(readPrivateKey(privFile));
  }
  let existing: string | null = null;
  try {
    existing = readFileSync(pubFile, 'utf8');
  } catch {
    /* first start */
  }
  if (existing !== signer.publicKeyPem) writeFileSync(pubFile, signer.publicKeyPem, { mode: 0o644 });
  return signer;
}

/** A verification key and where the verifier got it from (printed in the report). */
export interface TrustedKey {
  pem: string;
  source: string;
  /** False for the demo's own key file, which anyone who can write the data directory can replace. */
  pinned?: boolean;
}

/** Public keys by fingerprint, from KeyObjects, PEM text or TrustedKeys. */
export function publicKeyMap(keys: (KeyObject | string | TrustedKey)[]): Map<string, KeyObject> {
  const map = new Map<string, KeyObject>();
  for (const k of keys) {
    let key = typeof k === 'string' ? createPublicKey(k) : 'pem' in k ? createPublicKey(k.pem) : k;
    if (key.type === 'private') key = createPublicKey(key);
    if (!keyKind(key)) throw new SigningKeyError(`verification key must be Ed25519 or ECDSA P-256, got ${key.asymmetricKeyType}`);
    map.set(keyFingerprint(key), key);
  }
  return map;
}

/** Every *.pub.pem in a directory. Tests and tools only: `verify` never trusts a directory listing. */
export function loadPublicKeysFromDir(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => n.endsWith('.pub.pem'))
    .sort()
    .map((n) => readFileSync(join(dir, n), 'utf8'));
}

export function verifyCheckpointSignature(key: KeyObject, chainId: string, seq: number, prevHash: string, signatureB64: string): boolean {
  try {
    // Ed25519 signs the message itself; ECDSA P-256 (Cloud KMS EC_SIGN_P256_SHA256) its SHA-256, DER-encoded.
    const algorithm = keyKind(key) === 'ecdsa-p256' ? 'sha256' : null;
    return verify(algorithm, Buffer.from(checkpointMessage(chainId, seq, prevHash), 'utf8'), key, Buffer.from(signatureB64, 'base64'));
  } catch {
    return false;
  }
}
