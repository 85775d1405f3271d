// Google's managed BigQuery MCP endpoint (https://bigquery.googleapis.com/mcp). Its execute_sql
// takes projectId, query and dryRun: the job runs in the call's projectId, and BigQuery resolves
// unqualified names there, so the analysis does too (a static defaultProject would let policy
// judge one table while BigQuery reads another).
import { readTarget, stringArg } from '../arguments.js';
import { tableInfoCatalog } from '../toolbox-bigquery/catalog.js';
import type { UpstreamKind } from '../types.js';

export const bigqueryManaged: UpstreamKind = {
  name: 'bigquery-managed',
  dialects: ['bigquery'],
  tools: {
    execute_sql: { kind: 'sql', sqlArgument: 'query' },
    execute_sql_readonly: { kind: 'sql', sqlArgument: 'query' },
    list_dataset_ids: { kind: 'metadata', description: 'dataset ids of a project; no rows' },
    list_table_ids: { kind: 'metadata', description: 'table ids of a dataset; no rows' },
    get_dataset_info: { kind: 'metadata', description: 'dataset metadata; no rows' },
    get_table_info: {
      kind: 'metadata',
      description: 'table schema and metadata; no rows',
      describes: (args, d) => {
        const table = stringArg(args, 'tableId');
        return table ? { project: stringArg(args, 'projectId') ?? d.defaultProject, dataset: stringArg(args, 'datasetId'), table } : null;
      },
    },
  },
  target: (tool, args, d) => readTarget(tool, args, tool.startsWith('execute_sql') ? { project: 'projectId', dryRun: 'dryRun' } : { project: 'projectId' }, d),
  catalog: tableInfoCatalog({ project: 'projectId', dataset: 'datasetId', table: 'tableId' }),
  pin: (tool, args, target) => (tool.startsWith('execute_sql') && args.projectId === undefined && target.project ? { projectId: target.project } : null),
};
