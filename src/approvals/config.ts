// The `approvals` section of the gateway config. Policy decides *whether* a statement needs
// approval, by whom and how many; this section only tunes how the gateway holds, waits and
// notifies. Every field has a default so an empty section is valid.
import { join } from 'node:path';
import { z } from 'zod';
import { gcsPlaceSchema } from '../config/gcs.js';
import { dataDir } from '../config/paths.js';

const webhookUrl = z
  .string()
  .url()
  .refine((v) => {
    const u = new URL(v);
    // A webhook carries who asked for what; plain http only to loopback (tests, local relays).
    return u.protocol === 'https:' || (u.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname));
  }, 'webhook url must be https (plain http is only allowed for 127.0.0.1/localhost)');

export const ApprovalsConfigSchema = z
  .object({
    /** Expiry used when the policy rule gives none. */
    defaultExpirySeconds: z
      .number()
      .int()
      .min(30)
      .max(7 * 24 * 3600)
      .default(3600),
    /** Where the exact statement text awaiting review is kept (0600 files); default <data>/approvals. */
    statementsDir: z.string().min(1).nullable().default(null),
    /** Only these actor types may approve (an agent or CI job approving is not independent review). */
    approverActorTypes: z
      .array(z.enum(['human', 'ci', 'agent', 'service']))
      .min(1)
      .default(['human']),
    /** How often open requests past their expiry are closed with an approval_expired event. */
    sweepSeconds: z.number().int().min(1).max(3600).default(30),
    /** How many closed requests GET /approvals lists besides the open ones. */
    recentLimit: z.number().int().min(0).max(1000).default(50),
    /** Longest a reason may be; reasons are stored in the audit log. */
    maxReasonChars: z.number().int().min(10).max(10_000).default(1000),
    /** Web UI sessions last no longer than this (and never beyond the token's own expiry). */
    uiSessionSeconds: z
      .number()
      .int()
      .min(60)
      .max(24 * 3600)
      .default(8 * 3600),
    wait: z
      .object({
        /** Hold every approval-requiring call open (clients can also ask per call via _meta). */
        enabled: z.boolean().default(false),
        /** Upper bound for any wait, configured or client-requested. */
        maxSeconds: z.number().int().min(0).max(3600).default(300),
        progressIntervalSeconds: z.number().min(0.05).max(60).default(5),
      })
      .strict()
      .prefault({}),
    /**
     * Where approval claims are created once (exactly-once use across instances). Default: files
     * under <data>/approval-claims (one host). Several instances: the same bucket for all (gcs).
     */
    claims: z
      .object({
        dir: z.string().min(1).nullable().default(null),
        gcs: gcsPlaceSchema('claims/'),
      })
      .strict()
      .prefault({}),
    webhook: z
      .object({
        url: webhookUrl.nullable().default(null),
        /** Attempts after the first. */
        retries: z.number().int().min(0).max(20).default(5),
        initialBackoffMs: z.number().int().min(1).max(60_000).default(500),
        maxBackoffMs: z.number().int().min(1).max(600_000).default(30_000),
        timeoutMs: z.number().int().min(100).max(60_000).default(5000),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .prefault({});

export type ApprovalsConfig = z.infer<typeof ApprovalsConfigSchema>;
export type ApprovalsConfigInput = z.input<typeof ApprovalsConfigSchema>;

export function claimsDirOf(config: ApprovalsConfig, data = dataDir()): string {
  return config.claims.dir ?? join(data, 'approval-claims');
}

export function statementsDirOf(config: ApprovalsConfig, data = dataDir()): string {
  return config.statementsDir ?? join(data, 'approvals');
}
