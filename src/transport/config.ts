// Configuration section for the MCP gateway transport. The lead composes it into the gateway
// config (file + env overrides); defaults suit a single Cloud Run instance in front of Toolbox.
import { z } from 'zod';

export const TransportConfigSchema = z.object({
  /** Path the MCP endpoint is served on (POST, GET and DELETE). */
  path: z.string().startsWith('/').default('/mcp'),
  upstream: z
    .object({
      /** The upstream MCP server's Streamable HTTP endpoint (Toolbox serves /mcp). */
      url: z.string().url().default('http://127.0.0.1:5000/mcp'),
      /** Per-request bound for upstream calls; an upstream slower than this is cancelled. */
      timeoutMs: z.number().int().positive().default(120_000),
    })
    .prefault({}),
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
  sessionIdleTimeoutMs: z.number().int().positive().default(9 * 60_000),
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
  sessionMaxAgeMs: z.number().int().positive().default(24 * 60 * 60_000),
});

export type TransportConfig = z.infer<typeof TransportConfigSchema>;
