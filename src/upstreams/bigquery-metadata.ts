// The metadata tools both BigQuery servers (Toolbox's prebuilt and Google's managed endpoint)
// serve, with the argument names each uses: names and schemas, never rows; a schema is shown
// only for a table the role may read (describes).
import { stringArg } from './arguments.js';
import type { ToolSpec } from './types.js';

export function bigqueryMetadataTools(names: { project: string; dataset: string; table: string }): Record<string, ToolSpec> {
  return {
    list_dataset_ids: { kind: 'metadata', description: 'dataset ids of a project; no rows' },
    list_table_ids: { kind: 'metadata', description: 'table ids of a dataset; no rows' },
    get_dataset_info: { kind: 'metadata', description: 'dataset metadata; no rows' },
    get_table_info: {
      kind: 'metadata',
      description: 'table schema and metadata; no rows',
      describes: (args, d) => {
        const table = stringArg(args, names.table);
        return table ? { project: stringArg(args, names.project) ?? d.defaultProject, dataset: stringArg(args, names.dataset), table } : null;
      },
    },
  };
}
