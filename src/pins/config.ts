// The `toolPins` section of the gateway config: tool-definition pinning (src/pins). Every field
// has a default, so pinning is on with an empty section.
import { join } from 'node:path';
import { z } from 'zod';
import { gcsPlaceSchema } from '../config/gcs.js';
import { dataDir } from '../config/paths.js';

export const ToolPinsConfigSchema = z
  .object({
    enabled: z.boolean().default(true),
    /** Who may accept a changed definition (through the approval doors, same independence rules). */
    approverRoles: z.array(z.string().min(1)).min(1).default(['approver']),
    /** Distinct approvers needed. */
    required: z.number().int().min(1).max(10).default(1),
    /** How long a request to accept a changed definition stays open; a new one opens on the next sight after it expires. */
    expirySeconds: z
      .number()
      .int()
      .min(30)
      .max(7 * 24 * 3600)
      .default(24 * 3600),
    /**
     * How old the gateway's view of the upstream's tools/list may be when a tools/call is
     * checked (every tools/list a client makes refreshes it too); 0 asks the upstream every call.
     */
    refreshSeconds: z.number().int().min(0).max(3600).default(30),
    /** Local pin records (one host); default <data>/tool-pins. */
    dir: z.string().min(1).nullable().default(null),
    /** Several instances: the same bucket for all (records created once, retention-lock safe). */
    gcs: gcsPlaceSchema('pins/'),
  })
  .strict()
  .prefault({});

export type ToolPinsConfig = z.infer<typeof ToolPinsConfigSchema>;

export function pinsDirOf(config: ToolPinsConfig, data = dataDir()): string {
  return config.dir ?? join(data, 'tool-pins');
}
