// Configuration section for the MCP gateway transport, composed into the gateway config
// (src/server/config.ts). The upstream itself (URL, timeout, credential) is the gateway
// config's one `upstream` section; defaults suit a single Cloud Run instance in front of Toolbox.
import { z } from 'zod';

export const TransportConfigSchema = z.object({
  /**
   * Browser origins allowed to call the gateway (exact match, e.g. "https://console.example.com").
   * Requests without an Origin header (agents, CLIs) are allowed; requests with any other
   * Origin are refused with 403 (DNS-rebinding protection, required by the MCP transport spec).
   */
  allowedOrigins: z.array(z.string()).default([]),
  /** Largest accepted POST body; larger bodies get 413 before they are parsed. */
  bodyLimitBytes: z.number().int().positive().default(1_048_576),
  /** A session with no traffic for this long is closed (upstream session too). Kept below
   *  MCP Toolbox's own 10-minute idle session timeout so the gateway ends sessions first. */
  sessionIdleTimeoutMs: z
    .number()
    .int()
    .positive()
    .default(9 * 60_000),
  /** Open sessions one identity may hold; each one holds an upstream session too. */
  maxSessionsPerIdentity: z.number().int().positive().default(64),
  /**
   * File holding the key (≥ 32 bytes) every instance uses to seal Mcp-Session-Id values, so
   * any instance can resume a session another one created (mount one Secret Manager secret on
   * all instances). Unset: a random key per process, and sessions stay on their instance.
   * The demo generates one under the data directory.
   */
  sessionSecretFile: z.string().min(1).optional(),
  /** A session id older than this is refused everywhere (the client initializes again). */
  sessionMaxAgeMs: z
    .number()
    .int()
    .positive()
    .default(24 * 60 * 60_000),
});
