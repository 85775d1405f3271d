// Checkpoint signer backed by Cloud KMS: the private key never leaves KMS (HSM protection level
// when the Terraform module says so), and the gateway's identity may only sign with it
// (roles/cloudkms.signer on the one key). Rewriting history therefore needs the gateway's live
// identity, not a copy of a file, and the anchors (src/audit/anchors.ts) pin what was signed.
//
// EC_SIGN_P256_SHA256 (default, HSM-capable): KMS signs the SHA-256 digest we send; the result
// is a DER ECDSA signature that node:crypto verifies with verify('sha256', message, key).
// EC_SIGN_ED25519: KMS signs the message itself.
import { createHash, createPublicKey, verify } from 'node:crypto';
import { KeyManagementServiceClient } from '@google-cloud/kms';
import * as grpc from '@grpc/grpc-js';
import { checkpointMessage, keyFingerprint, SigningKeyError, type CheckpointSigner } from '../audit/checkpoint.js';

export interface KmsSignerOptions {
  /** projects/…/locations/…/keyRings/…/cryptoKeys/…/cryptoKeyVersions/N */
  keyVersion: string;
  /** host of a local server speaking the KMS gRPC API (tests): plain-text gRPC, no credentials. */
  apiEndpoint?: string;
  port?: number;
  client?: KeyManagementServiceClient;
  /** Deadline of one sign call, ms (default 2000): a checkpoint waits for it on the write path. */
  timeoutMs?: number;
}

const SUPPORTED = new Set(['EC_SIGN_P256_SHA256', 'EC_SIGN_ED25519']);

/** Reads the key version's public key and algorithm once, then signs checkpoints through KMS. */
export async function createKmsSigner(o: KmsSignerOptions): Promise<CheckpointSigner> {
  const client = o.client ?? new KeyManagementServiceClient(o.apiEndpoint ? { apiEndpoint: o.apiEndpoint, port: o.port, sslCreds: grpc.credentials.createInsecure() } : {});
  const timeout = o.timeoutMs ?? 2000;
  let pk;
  try {
    [pk] = await client.getPublicKey({ name: o.keyVersion }, { timeout });
  } catch (err) {
    throw new SigningKeyError(`cannot read the public key of KMS key ${o.keyVersion}: ${(err as Error).message}`);
  }
  const algorithm = String(pk.algorithm);
  if (!SUPPORTED.has(algorithm)) throw new SigningKeyError(`KMS key ${o.keyVersion} has algorithm ${algorithm}; checkpoints need EC_SIGN_P256_SHA256 or EC_SIGN_ED25519`);
  const publicKey = createPublicKey(String(pk.pem));
  const keyId = keyFingerprint(publicKey);
  const ed25519 = algorithm === 'EC_SIGN_ED25519';
  return {
    keyId,
    publicKey,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    description: `Cloud KMS key ${o.keyVersion} (${algorithm}${pk.protectionLevel ? `, ${String(pk.protectionLevel)}` : ''})`,
    async sign(chainId, seq, prevHash) {
      const message = Buffer.from(checkpointMessage(chainId, seq, prevHash), 'utf8');
      const request = ed25519 ? { name: o.keyVersion, data: message } : { name: o.keyVersion, digest: { sha256: createHash('sha256').update(message).digest() } };
      const [res] = await client.asymmetricSign(request, { timeout, retry: null });
      const signature = Buffer.from(res.signature as Uint8Array);
      // Checked here, not only by verify later: a corrupted or wrong-key answer must never be written.
      if (!verify(ed25519 ? null : 'sha256', message, publicKey, signature)) throw new SigningKeyError(`KMS returned a signature that does not verify with ${keyId}`);
      return signature.toString('base64');
    },
  };
}
