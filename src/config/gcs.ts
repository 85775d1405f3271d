// A place in Cloud Storage where the gateway creates objects once (anchors, approval claims):
// the same config shape wherever it is used.
import { z } from 'zod';

export function gcsPlaceSchema(defaultPrefix: string) {
  return z
    .object({
      bucket: z.string().min(3),
      prefix: z.string().default(defaultPrefix),
      /** http://host:port of a local server speaking the GCS JSON API (tests). */
      apiEndpoint: z.string().optional(),
      timeoutMs: z.number().int().min(100).default(5000),
    })
    .strict()
    .nullable()
    .default(null);
}
