// Anchors in a Cloud Storage bucket (see src/audit/anchors.ts): one object per anchor, created
// with ifGenerationMatch=0, in a bucket whose locked retention policy stops deletes and
// overwrites. The gateway's identity holds only objectCreator there (create, no delete, so no
// overwrite); examiners hold objectViewer. Cost: one Class A operation per second per busy
// instance (≈ 86,400 a day, ≈ $0.43 at $0.005 per 1,000) plus a few hundred bytes each.
import { AnchorConflictError, anchorJson, anchorName, parseAnchor, sortAnchors, type Anchor, type AnchorStore } from '../audit/anchors.js';
import { createOnce, gcsBucket, readText, type GcsOptions } from './gcs.js';

export function gcsAnchorStore(o: GcsOptions): AnchorStore {
  const bucket = gcsBucket(o);
  const prefix = o.prefix ?? 'anchors/';
  return {
    name: `gs://${o.bucket}/${prefix}`,
    async put(a: Anchor) {
      const name = prefix + anchorName(a);
      const text = anchorJson(a);
      if (await createOnce(bucket, name, text, o.timeoutMs)) return;
      // Already there: a retry of ours is fine, anything else is a conflict for verify to show.
      if ((await readText(bucket, name)) !== text) throw new AnchorConflictError(`anchor gs://${o.bucket}/${name} already exists with other content`);
    },
    async list(opts = {}) {
      const anchors: Anchor[] = [];
      const invalid: { ref: string; reason: string }[] = [];
      const [files] = await bucket.getFiles({ prefix: prefix + (opts.chainId ? `${opts.chainId}/` : ''), autoPaginate: true });
      // Downloads in parallel (a day of one instance is ~86,400 small objects).
      // One iterator shared by the workers: each object is taken by exactly one of them.
      const queue = files.values();
      const worker = async () => {
        for (const f of queue) {
          const ref = `gs://${o.bucket}/${f.name}`;
          try {
            const a = parseAnchor(await readText(bucket, f.name));
            if (prefix + anchorName(a) !== f.name) throw new Error(`names chain ${a.chain_id} seq ${a.seq}, not its object name`);
            anchors.push(a);
          } catch (err) {
            invalid.push({ ref, reason: (err as Error).message });
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(16, files.length) }, worker));
      return { anchors: sortAnchors(anchors), invalid };
    },
  };
}
