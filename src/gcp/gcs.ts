// Cloud Storage as a create-once store: an object written with ifGenerationMatch=0 exists at most
// once, whoever else tries (412 conditionNotMet). Anchors and approval claims rely on that; a
// locked retention policy on the bucket keeps anyone, the gateway included, from deleting or
// replacing what was created.
import { Storage, type Bucket } from '@google-cloud/storage';

export interface GcsOptions {
  bucket: string;
  /** Object name prefix, e.g. `anchors/`. */
  prefix?: string;
  /** http://host:port of a local server speaking the JSON API (tests); production leaves it unset. */
  apiEndpoint?: string;
  projectId?: string;
  storage?: Storage;
  /** Per-request timeout, ms (default 5000): a slow store must not hold the request path forever. */
  timeoutMs?: number;
}

export function gcsBucket(o: GcsOptions): Bucket {
  const storage =
    o.storage ??
    new Storage({
      ...(o.projectId ? { projectId: o.projectId } : {}),
      ...(o.apiEndpoint ? { apiEndpoint: o.apiEndpoint } : {}),
      retryOptions: { maxRetries: 2, totalTimeout: Math.ceil((o.timeoutMs ?? 5000) / 1000) },
    });
  return storage.bucket(o.bucket);
}

function statusOf(err: unknown): number | undefined {
  const c = (err as { code?: unknown })?.code;
  return typeof c === 'number' ? c : undefined;
}

/** Creates the object unless it exists: true when this call created it, false when it existed. */
export async function createOnce(bucket: Bucket, name: string, text: string, timeoutMs = 5000): Promise<boolean> {
  try {
    await bucket.file(name).save(text, {
      resumable: false,
      contentType: 'application/json',
      preconditionOpts: { ifGenerationMatch: 0 },
      timeout: timeoutMs,
    });
    return true;
  } catch (err) {
    if (statusOf(err) === 412) return false;
    throw err;
  }
}

export async function readText(bucket: Bucket, name: string): Promise<string> {
  const [buf] = await bucket.file(name).download();
  return buf.toString('utf8');
}
