// Configuration section for the GCP production path (Pub/Sub audit sink, spool, BigQuery).
// The lead composes this into the gateway config (file + env overrides).
import { z } from 'zod';

const PubSubBatchingSchema = z
  .object({
    // Latency over throughput: an audit publish sits on the request path (the response is held
    // until the event is acknowledged), so batches are flushed almost immediately.
    maxMessages: z.number().int().min(1).max(1000).default(10),
    maxMilliseconds: z.number().int().min(0).max(1000).default(5),
    maxBytes: z
      .number()
      .int()
      .min(1024)
      .max(9 * 1024 * 1024)
      .default(1024 * 1024),
  })
  .prefault({});

const PubSubRetrySchema = z
  .object({
    /** Deadline for one publish RPC attempt, ms. */
    rpcTimeoutMs: z.number().int().min(100).default(5_000),
    /** Total time the client may spend retrying one publish, ms (the client's own retry settings). */
    totalTimeoutMs: z.number().int().min(100).default(15_000),
    initialBackoffMs: z.number().int().min(1).default(50),
    maxBackoffMs: z.number().int().min(1).default(2_000),
    /** Our own bound on top of the client's: whole write() attempts before we give up and reject. */
    maxAttempts: z.number().int().min(1).max(20).default(3),
  })
  .prefault({});

const SpoolConfigSchema = z
  .object({
    /**
     * Off by default. When on, write() resolves once the event is fsync'd to a local file and a
     * background drainer publishes it: a Pub/Sub outage no longer denies requests, but the event
     * is only on the instance's disk (not yet in BigQuery) until drained. Choose it explicitly.
     */
    enabled: z.boolean().default(false),
    dir: z.string().default('data/spool'),
    /** Refuse new writes (fail closed) beyond this many bytes of undrained spool. */
    maxBytes: z
      .number()
      .int()
      .min(1024)
      .default(256 * 1024 * 1024),
    drainIntervalMs: z.number().int().min(10).default(500),
  })
  .prefault({});

export const GcpConfigSchema = z
  .object({
    project: z.string().min(1).optional(),
    /** Short topic name or projects/<p>/topics/<t>. */
    topic: z.string().min(1).default('bqwarden-audit'),
    /** host:port of an emulator or test server (plain-text gRPC); PUBSUB_EMULATOR_HOST also works. */
    pubsubEndpoint: z.string().min(1).optional(),
    batching: PubSubBatchingSchema,
    retry: PubSubRetrySchema,
    spool: SpoolConfigSchema,
    bigquery: z
      .object({
        /** project.dataset.table of the audit table (for verify and recoverHead). */
        auditTable: z.string().optional(),
        /** Dataset location, e.g. US or europe-west2; used for INFORMATION_SCHEMA region qualifiers. */
        location: z.string().default('US'),
        /** http(s)://host:port of a BigQuery REST fake/emulator. */
        apiEndpoint: z.string().optional(),
        /**
         * Learn table schemas and policy tags from INFORMATION_SCHEMA.COLUMN_FIELD_PATHS
         * (src/gcp/catalog.ts), so policy classifies columns by their BigQuery policy tags.
         */
        catalog: z.boolean().default(false),
        catalogTtlMs: z
          .number()
          .int()
          .min(0)
          .default(5 * 60_000),
      })
      .prefault({}),
    approvals: z
      .object({
        /**
         * project.dataset.table the approval state is rebuilt from when auditSink is pubsub: the
         * approval_events view the Terraform module creates (the gateway may read that view only),
         * else bigquery.auditTable.
         */
        table: z.string().optional(),
        /** Covers the longest approval expiry (default expiry is capped at 7 days) plus margin. */
        lookbackDays: z.number().int().min(1).max(400).default(8),
        /** How often events other instances wrote are picked up; 0 = at start only. */
        pollIntervalMs: z.number().int().min(0).default(5_000),
        /** Each poll re-reads this far back, for rows that reach BigQuery late. */
        overlapMs: z
          .number()
          .int()
          .min(0)
          .default(15 * 60_000),
      })
      .prefault({}),
  })
  .prefault({});

export type GcpConfig = z.infer<typeof GcpConfigSchema>;
export type PubSubBatching = z.infer<typeof PubSubBatchingSchema>;
export type PubSubRetry = z.infer<typeof PubSubRetrySchema>;
export type SpoolConfig = z.infer<typeof SpoolConfigSchema>;
