// The `audit` section of the gateway config. Paths default to <BQWARDEN_DATA>/audit and /keys.
import { z } from 'zod';

export const AuditConfigSchema = z
  .object({
    /** JSONL audit directory; default <data>/audit. */
    dir: z.string().nullable().default(null),
    /** Where the generated signing key pair lives; default <data>/keys. */
    keysDir: z.string().nullable().default(null),
    /** Production: Ed25519 private key PEM mounted from Secret Manager. When set, no key is generated. */
    signingKeyFile: z.string().nullable().default(null),
    /** Rotate the JSONL file when it reaches this size (a new UTC day always starts a new file). */
    maxFileBytes: z.number().int().min(4096).default(64 * 1024 * 1024),
    /** Largest group commit (events per write+fsync). */
    maxBatch: z.number().int().min(1).default(512),
    checkpointEvery: z
      .object({
        events: z.number().int().min(1).default(1000),
        ms: z.number().int().min(100).default(60_000),
      })
      .default({ events: 1000, ms: 60_000 }),
  })
  .default({
    dir: null,
    keysDir: null,
    signingKeyFile: null,
    maxFileBytes: 64 * 1024 * 1024,
    maxBatch: 512,
    checkpointEvery: { events: 1000, ms: 60_000 },
  });
export type AuditConfig = z.infer<typeof AuditConfigSchema>;
