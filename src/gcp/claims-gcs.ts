// Approval claims in Cloud Storage: claims/<approval id>.json created with ifGenerationMatch=0,
// so of any number of instances exactly one creation succeeds (412 for the others). Chosen over
// Firestore because the deployment already has a locked bucket and one conditional object write
// is all a claim needs: measured in bench/approvals.bench.ts against the local JSON API server;
// priced at $0.005 per 1,000 creates (Class A), i.e. nothing at approval volumes.
import { checkClaimId, type ClaimStore } from '../approvals/claims.js';
import { createOnce, gcsBucket, type GcsOptions } from './gcs.js';

export function gcsClaimStore(o: GcsOptions): ClaimStore {
  const bucket = gcsBucket(o);
  const prefix = o.prefix ?? 'claims/';
  return {
    name: `gs://${o.bucket}/${prefix}`,
    async claim(id, by) {
      checkClaimId(id);
      return createOnce(bucket, `${prefix}${id}.json`, JSON.stringify({ approval_id: id, ...by }), o.timeoutMs);
    },
  };
}
