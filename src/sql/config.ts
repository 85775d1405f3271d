// Configuration section for SQL analysis; the lead composes it into the gateway config.
import { z } from 'zod';

export const sqlConfigSchema = z.object({
  dialect: z.enum(['bigquery', 'sqlite', 'postgresql']).default('bigquery'),
  defaultProject: z.string().nullable().default(null),
  defaultDataset: z.string().nullable().default(null),
  /** Directory of static catalog YAML files (rules/catalog). */
  catalogDir: z.string().nullable().default('rules/catalog'),
  /** Read schemas through the upstream table-info tool (list_tables / get_table_info). */
  upstreamCatalog: z.enum(['off', 'sqlite', 'bigquery']).default('off'),
  catalogTtlMs: z.number().int().positive().default(300_000),
  /** Analyses kept in the LRU keyed by SQL text. */
  cacheSize: z.number().int().nonnegative().default(1000),
});

export type SqlConfig = z.infer<typeof sqlConfigSchema>;
