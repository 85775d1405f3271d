// The gateway config section for policy (composed by the lead into the gateway config).
import { z } from 'zod';

export const PolicyConfigSchema = z
  .object({
    /** Directory holding the policy YAML files (and catalog/). */
    dir: z.string().min(1).default('rules'),
    /** Reload when a policy file changes (SIGHUP always reloads). */
    watch: z.boolean().default(true),
    /** Editors save in several steps; wait this long after the last change before reloading. */
    debounceMs: z.number().int().min(0).max(60_000).default(250),
  })
  .strict();
export type PolicyConfig = z.infer<typeof PolicyConfigSchema>;
