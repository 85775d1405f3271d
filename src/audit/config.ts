// The `audit` section of the gateway config. Paths default to <BQWARDEN_DATA>/audit, /keys and /anchors.
import { z } from 'zod';
import { gcsPlaceSchema } from '../config/gcs.js';

const AnchorsConfigSchema = z
  .object({
    /** Export the durable chain head every intervalMs (tamper window for a cut or rewritten tail). */
    enabled: z.boolean().default(true),
    /** Demo / single host: anchor directory outside the audit directory; default <data>/anchors. */
    dir: z.string().nullable().default(null),
    /** Production: a bucket with a locked retention policy (Terraform output anchor_bucket). Wins over dir. */
    gcs: gcsPlaceSchema('anchors/'),
    intervalMs: z.number().int().min(50).max(1000).default(1000),
    /**
     * Appends are refused (fail closed) once durable events waited this long for an anchor; 0 =
     * never. Default: 10 s with a bucket (the guarantee); off for a local directory, which sits on
     * the audit's own disk and only demonstrates the mechanism (a slow disk must not stop the demo).
     */
    maxLagMs: z.number().int().min(0).nullable().default(null),
  })
  .strict()
  .prefault({});

export const AuditConfigSchema = z
  .object({
    /** JSONL audit directory; default <data>/audit. */
    dir: z.string().nullable().default(null),
    /** Where the generated demo key pair lives; default <data>/keys (outside the audit directory). */
    keysDir: z.string().nullable().default(null),
    /** Ed25519 private key PEM mounted from Secret Manager. When set, no key is generated. */
    signingKeyFile: z.string().nullable().default(null),
    /** Production: checkpoints signed by Cloud KMS; wins over signingKeyFile and the demo key. */
    kms: z
      .object({
        /** projects/…/cryptoKeys/…/cryptoKeyVersions/N (Terraform output audit_signing_key_version). */
        keyVersion: z.string().min(1),
        /** host:port of a local server speaking the KMS gRPC API (tests). */
        endpoint: z.string().optional(),
        timeoutMs: z.number().int().min(100).default(2000),
      })
      .strict()
      .nullable()
      .default(null),
    /** Public keys (PEM files) `verify --config` trusts: the pins (Terraform output audit_signing_public_key_pem). */
    trustedKeys: z.array(z.string().min(1)).default([]),
    anchors: AnchorsConfigSchema,
    /** Rotate the JSONL file when it reaches this size (a new UTC day always starts a new file). */
    maxFileBytes: z
      .number()
      .int()
      .min(4096)
      .default(64 * 1024 * 1024),
    /** Largest group commit (events per write+fsync). */
    maxBatch: z.number().int().min(1).default(512),
    /** Group commit window, ms: how long an idle log's first append waits for others (bench/audit.bench.ts). */
    commitWindowMs: z.number().min(0).max(50).default(0),
    /** Appends are refused after checkpoints could not be signed (KMS down) for this long. */
    maxUnsignedMs: z.number().int().min(1000).default(30_000),
    checkpointEvery: z
      .object({
        events: z.number().int().min(1).default(1000),
        ms: z.number().int().min(100).default(60_000),
      })
      .prefault({}),
  })
  .prefault({});
