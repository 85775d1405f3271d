// Google's managed BigQuery MCP endpoint (https://bigquery.googleapis.com/mcp). Its execute_sql
// takes projectId, query and dryRun: the job runs in the call's projectId, and BigQuery resolves
// unqualified names there, so the analysis does too (a static defaultProject would let policy
// judge one table while BigQuery reads another).
import { readTarget } from '../arguments.js';
import { bigqueryMetadataTools } from '../bigquery-metadata.js';
import { tableInfoCatalog } from '../bigquery-table-info.js';
import type { UpstreamKind } from '../types.js';

const NAMES = { project: 'projectId', dataset: 'datasetId', table: 'tableId' };

export const bigqueryManaged: UpstreamKind = {
  name: 'bigquery-managed',
  dialects: ['bigquery'],
  tools: {
    execute_sql: { kind: 'sql', sqlArgument: 'query' },
    execute_sql_readonly: { kind: 'sql', sqlArgument: 'query' },
    ...bigqueryMetadataTools(NAMES),
  },
  target: (tool, args, d) => readTarget(tool, args, tool.startsWith('execute_sql') ? { project: 'projectId', dryRun: 'dryRun' } : { project: 'projectId' }, d),
  catalog: tableInfoCatalog(NAMES),
  projectArgument: 'projectId',
  pin: (tool, args, target) => (tool.startsWith('execute_sql') && args.projectId === undefined && target.project ? { projectId: target.project } : null),
};
