// MCP Toolbox for Databases, `--prebuilt bigquery`. execute_sql runs in the project the Toolbox
// source is configured with (the upstream's defaultProject here) and understands dry_run.
// Every other prebuilt tool has a defined treatment: metadata tools answer names, schemas and
// catalog entries (no rows); the three that read data and answer with values computed by
// BigQuery ML or Gemini are denied, because those values cannot be traced to source columns
// and so cannot be masked (docs/upstreams.md).
import { readTarget } from '../arguments.js';
import { bigqueryMetadataTools } from '../bigquery-metadata.js';
import type { ToolSpec, UpstreamKind } from '../types.js';
import { tableInfoCatalog } from '../bigquery-table-info.js';

const untraceable = (what: string) => `${what}; bqwarden cannot trace those values to the source columns, so it cannot mask them or apply the table rules to what it reads`;

const NAMES = { project: 'project', dataset: 'dataset', table: 'table' };

const TOOLBOX_BIGQUERY_TOOLS: Record<string, ToolSpec> = {
  execute_sql: { kind: 'sql', sqlArgument: 'sql' },
  ...bigqueryMetadataTools(NAMES),
  search_catalog: { kind: 'metadata', description: 'Dataplex catalog entries (names, descriptions); no rows' },
  forecast: { kind: 'other', denied: untraceable('forecast runs AI.FORECAST over a table or query given as text and answers with forecast values and ids of the rows it read') },
  analyze_contribution: {
    kind: 'other',
    denied: untraceable('analyze_contribution trains a contribution-analysis model over a table or query given as text and answers with the dimension values it found'),
  },
  ask_data_insights: { kind: 'other', denied: untraceable('ask_data_insights lets Gemini write and run its own SQL over the tables named and answers in prose and tables') },
};

export const toolboxBigquery: UpstreamKind = {
  name: 'toolbox-bigquery',
  dialects: ['bigquery'],
  tools: TOOLBOX_BIGQUERY_TOOLS,
  // The project is the Toolbox source's: a call cannot move it.
  target: (tool, args, d) => readTarget(tool, args, tool === 'execute_sql' ? { dryRun: 'dry_run' } : {}, d),
  catalog: tableInfoCatalog(NAMES),
};
