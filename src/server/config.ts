// The gateway's whole configuration: one zod schema composed from each module's own section.
// Sources, in order: defaults < config file (BQWARDEN_CONFIG or --config) < environment.
import { z } from 'zod';
import { IdentityConfigSchema, UpstreamCredentialConfigSchema } from '../identity/config.js';
import { AuditConfigSchema } from '../audit/config.js';
import { MaskingConfigSchema } from '../masking/config.js';
import { GcpConfigSchema } from '../gcp/config.js';
import { TransportConfigSchema } from '../transport/config.js';
import { ApprovalsConfigSchema } from '../approvals/config.js';
import { ToolPinsConfigSchema } from '../pins/config.js';
import { WebConfigSchema } from '../web/config.js';
import { loadConfigWith } from '../config/load.js';
import { dataDir, paths, rulesDir } from '../config/paths.js';

const GatewayConfigSchema = z
  .object({
    /** demo: embedded Toolbox + dev issuer; dev: dev issuer allowed; production: neither. */
    mode: z.enum(['demo', 'dev', 'production']).default('production'),
    dataDir: z.string().min(1).default(dataDir()),
    server: z
      .object({
        host: z.string().default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(8080),
        /** Public base URL (https://gateway.bank.example); defaults to http://host:port. */
        publicUrl: z.string().url().optional(),
        trustProxy: z.boolean().default(false),
        /** How long SIGTERM waits for in-flight requests before closing sessions. */
        drainTimeoutMs: z.number().int().min(0).default(10_000),
      })
      .strict()
      .default({ host: '127.0.0.1', port: 8080, trustProxy: false, drainTimeoutMs: 10_000 }),
    upstream: z
      .object({
        url: z.string().url().default('http://127.0.0.1:5000/mcp'),
        /** Name recorded in audit events. */
        name: z.string().default('toolbox'),
        timeoutMs: z.number().int().min(100).default(60_000),
        /**
         * The write path (src/server/upstream-tool-client.ts): approved statements, and only those,
         * run here, with the writer's own credential. Without it they run on the read upstream.
         */
        writer: z
          .object({
            url: z.string().url(),
            name: z.string().default('toolbox-writer'),
            credential: UpstreamCredentialConfigSchema,
          })
          .strict()
          .optional(),
      })
      .strict()
      .default({ url: 'http://127.0.0.1:5000/mcp', name: 'toolbox', timeoutMs: 60_000 }),
    rules: z
      // The checkout's rules/ wherever the command runs from (BQWARDEN_RULES overrides).
      .object({ dir: z.string().default(rulesDir()), catalogDir: z.string().default(paths.catalog()) })
      .strict()
      .default({ dir: rulesDir(), catalogDir: paths.catalog() }),
    /** Where chained audit events go: local JSONL files (default) or Pub/Sub → BigQuery. */
    auditSink: z.enum(['jsonl', 'pubsub']).default('jsonl'),
    audit: AuditConfigSchema,
    pipeline: z
      .object({
        /** Larger request/response payloads are stored truncated, with the full payload's hash. */
        maxPayloadBytes: z.number().int().min(1024).default(1_000_000),
        /** tools/call budget per identity (token bucket): sustained calls per minute, 0 = unlimited. */
        callsPerMinute: z.number().int().min(0).default(1200),
        /** Calls one identity may make in a burst before the per-minute rate applies. */
        callBurst: z.number().int().min(1).default(300),
      })
      .strict()
      .prefault({}),
    identity: IdentityConfigSchema.prefault({}),
    transport: TransportConfigSchema.prefault({}),
    masking: MaskingConfigSchema.prefault({}),
    approvals: ApprovalsConfigSchema.prefault({}),
    toolPins: ToolPinsConfigSchema,
    web: WebConfigSchema.prefault({}),
    gcp: GcpConfigSchema,
  })
  .strict();

export type GatewayConfig = z.infer<typeof GatewayConfigSchema>;

/** Environment variables operators expect, mapped onto config keys. */
const ENV_ALIASES: Record<string, string[]> = {
  PORT: ['server', 'port'],
  HOST: ['server', 'host'],
  BQWARDEN_DATA: ['dataDir'],
  BQWARDEN_MODE: ['mode'],
  BQWARDEN_UPSTREAM_URL: ['upstream', 'url'],
  BQWARDEN_PUBLIC_URL: ['server', 'publicUrl'],
};

export function loadGatewayConfig(opts: { file?: string | null; overrides?: Record<string, unknown>; env?: NodeJS.ProcessEnv } = {}): GatewayConfig {
  return loadConfigWith(GatewayConfigSchema, { ...opts, aliases: ENV_ALIASES });
}

export function publicBaseUrl(c: GatewayConfig, boundPort?: number): string {
  if (c.server.publicUrl) return c.server.publicUrl.replace(/\/$/, '');
  const host = c.server.host === '0.0.0.0' || c.server.host === '::' ? '127.0.0.1' : c.server.host;
  return `http://${host}:${boundPort ?? c.server.port}`;
}
