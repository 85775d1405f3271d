// What `verify` and `report` trust, resolved from their options: only pinned keys (--key files,
// the config's audit.trustedKeys, e.g. the Terraform output of the KMS public key), with the
// demo's own key file as an explicitly unpinned fallback, and the anchor store to compare with
// (--anchors dir or gs://bucket/prefix, the config's audit.anchors, else <data>/anchors).
// A keys directory is never trusted by listing it: a key dropped in there is just a file.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { TrustedKey } from '../audit/checkpoint.js';
import type { Anchor, AnchorStore } from '../audit/anchors.js';
import { paths } from '../config/paths.js';

export interface TrustOptions {
  auditDir: string;
  key?: string[];
  keysDir?: string;
  config?: string;
  /** A directory or gs://bucket/prefix; false (from --no-anchors) turns the comparison off. */
  anchors?: string | boolean;
  gcsEndpoint?: string;
}

export interface ResolvedTrust {
  publicKeys: TrustedKey[];
  anchors: { store: string; anchors: Anchor[]; invalid: { ref: string; reason: string }[] } | null;
  /** The gateway config's audit directory, when --config named one. */
  auditDir: string | null;
}

function keysDirFor(auditDir: string, explicit?: string): string {
  if (explicit) return resolve(explicit);
  const sibling = join(dirname(resolve(auditDir)), 'keys');
  return existsSync(sibling) ? sibling : paths.keys();
}

function readKey(file: string, source: string): TrustedKey {
  const text = file.includes('-----BEGIN') ? file : readFileSync(resolve(file), 'utf8');
  return { pem: text, source };
}

export async function resolveTrust(o: TrustOptions): Promise<ResolvedTrust> {
  const { PUBLIC_KEY_FILE } = await import('../audit/checkpoint.js');
  let config: import('../server/config.js').GatewayConfig | null = null;
  if (o.config) {
    const { loadGatewayConfig } = await import('../server/config.js');
    config = loadGatewayConfig({ file: o.config, env: {} });
  }
  const publicKeys: TrustedKey[] = [];
  for (const f of o.key ?? []) publicKeys.push(readKey(f, `pinned by --key ${f}`));
  for (const f of config?.audit.trustedKeys ?? []) publicKeys.push(readKey(f, `pinned in config ${o.config} (audit.trustedKeys${f.includes('-----BEGIN') ? '' : `: ${f}`})`));
  if (publicKeys.length === 0) {
    const file = join(keysDirFor(o.auditDir, o.keysDir), PUBLIC_KEY_FILE);
    if (existsSync(file)) publicKeys.push({ pem: readFileSync(file, 'utf8'), source: `demo key file ${file} (not pinned)`, pinned: false });
  }

  let store: AnchorStore | null = null;
  if (o.anchors !== false) {
    const where = typeof o.anchors === 'string' ? o.anchors : null;
    const gcs = where?.startsWith('gs://') ? /^gs:\/\/([^/]+)\/?(.*)$/.exec(where) : null;
    if (gcs || (!where && config?.audit.anchors.gcs)) {
      const { gcsAnchorStore } = await import('../gcp/anchors-gcs.js');
      // Both groups always match (the bucket is one or more characters, the prefix possibly empty).
      const [, urlBucket = '', urlPrefix = ''] = gcs ?? [];
      const bucket = gcs ? urlBucket : config!.audit.anchors.gcs!.bucket;
      const prefix = gcs ? urlPrefix : config!.audit.anchors.gcs!.prefix;
      store = gcsAnchorStore({ bucket, prefix, apiEndpoint: o.gcsEndpoint ?? config?.audit.anchors.gcs?.apiEndpoint, projectId: config?.gcp.project });
    } else {
      const { dirAnchorStore } = await import('../audit/anchors.js');
      const dir = where ? resolve(where) : config?.audit.anchors.dir ? resolve(config.audit.anchors.dir) : join(config ? resolve(config.dataDir) : dirname(resolve(o.auditDir)), 'anchors');
      if (where || existsSync(dir)) store = dirAnchorStore(dir);
    }
  }
  const anchors = store ? { store: store.name, ...(await store.list()) } : null;
  return { publicKeys, anchors, auditDir: config ? resolve(config.audit.dir ?? join(config.dataDir, 'audit')) : null };
}
