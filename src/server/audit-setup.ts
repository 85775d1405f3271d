// Wiring of the trust pieces from config: which key signs checkpoints (Cloud KMS in production,
// a local key outside the audit directory in the demo), where anchors go (a locked bucket in
// production, <data>/anchors in the demo) and where approval claims are made once (a bucket
// shared by every instance, else local files). GCP clients load only when used.
import { join } from 'node:path';
import { loadOrCreateSigner, type CheckpointSigner } from '../audit/checkpoint.js';
import { AnchorExporter, dirAnchorStore, type AnchorStore } from '../audit/anchors.js';
import type { AuditLog } from '../audit/log.js';
import type { Logger } from '../ops/logger.js';
import type { GatewayConfig } from './config.js';
import { fileClaimStore, type ClaimStore } from '../approvals/claims.js';
import { claimsDirOf } from '../approvals/config.js';
import { filePinStore, type PinStore } from '../pins/store.js';
import { pinsDirOf } from '../pins/config.js';

export async function createAuditSigner(config: GatewayConfig, demo: boolean): Promise<CheckpointSigner> {
  const a = config.audit;
  if (a.kms) {
    const { createKmsSigner } = await import('../gcp/kms-signer.js');
    const [host, port] = a.kms.endpoint ? a.kms.endpoint.split(':') : [];
    return createKmsSigner({ keyVersion: a.kms.keyVersion, apiEndpoint: host, port: port ? Number(port) : undefined, timeoutMs: a.kms.timeoutMs });
  }
  return loadOrCreateSigner({
    keysDir: a.keysDir ?? join(config.dataDir, 'keys'),
    signingKeyFile: a.signingKeyFile,
    allowGenerate: demo || !a.signingKeyFile,
  });
}

export async function anchorStoreFor(config: GatewayConfig): Promise<AnchorStore | null> {
  const a = config.audit.anchors;
  if (!a.enabled) return null;
  if (a.gcs) {
    const { gcsAnchorStore } = await import('../gcp/anchors-gcs.js');
    return gcsAnchorStore({ bucket: a.gcs.bucket, prefix: a.gcs.prefix, apiEndpoint: a.gcs.apiEndpoint, projectId: config.gcp.project, timeoutMs: a.gcs.timeoutMs });
  }
  return dirAnchorStore(a.dir ?? join(config.dataDir, 'anchors'));
}

export async function startAnchors(config: GatewayConfig, audit: AuditLog, instance: string, log: Logger): Promise<AnchorExporter | null> {
  const store = await anchorStoreFor(config);
  if (!store) return null;
  let failing = false;
  const exporter = new AnchorExporter({
    log: audit,
    store,
    instance,
    intervalMs: config.audit.anchors.intervalMs,
    maxLagMs: config.audit.anchors.maxLagMs ?? (config.audit.anchors.gcs ? 10_000 : 0),
    onError: (err) => {
      if (!failing) log.error({ err: err.message, store: store.name }, 'audit anchor could not be written; retrying every interval');
      failing = true;
    },
  });
  log.info({ store: store.name, intervalMs: exporter.intervalMs }, 'audit anchors on');
  return exporter.start();
}

/** Approval claims: the shared bucket when configured (several instances), else files under the data directory. */
export async function claimStoreFor(config: GatewayConfig, log: Logger): Promise<ClaimStore> {
  const g = config.approvals.claims.gcs;
  if (g) {
    const { gcsClaimStore } = await import('../gcp/claims-gcs.js');
    return gcsClaimStore({ bucket: g.bucket, prefix: g.prefix, apiEndpoint: g.apiEndpoint, projectId: config.gcp.project, timeoutMs: g.timeoutMs });
  }
  if (config.auditSink === 'pubsub') {
    log.warn('approvals.claims.gcs is not set: approval claims are local to this instance, so with several instances an approval could run twice (set it; the Terraform module does)');
  }
  return fileClaimStore(claimsDirOf(config.approvals, config.dataDir));
}

/** Tool pins: the shared bucket when configured (several instances), else files under the data directory. */
export async function pinStoreFor(config: GatewayConfig, log: Logger): Promise<PinStore> {
  const g = config.toolPins.gcs;
  if (g) {
    const { gcsPinStore } = await import('../gcp/pins-gcs.js');
    return gcsPinStore({ bucket: g.bucket, prefix: g.prefix, apiEndpoint: g.apiEndpoint, projectId: config.gcp.project, timeoutMs: g.timeoutMs });
  }
  if (config.auditSink === 'pubsub') {
    log.warn('toolPins.gcs is not set: tool pins are local to this instance, so instances may pin different first sights (set it; the Terraform module does)');
  }
  return filePinStore(pinsDirOf(config.toolPins, config.dataDir));
}
