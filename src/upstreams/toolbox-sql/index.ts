// Any other Toolbox source (PostgreSQL, a custom tools.yaml …): the kind knows no tool by
// itself, so policy describes each one (kind, sqlArgument). No catalog source: tables come
// from rules/catalog.
import { readTarget } from '../arguments.js';
import type { UpstreamKind } from '../types.js';

export const toolboxSql: UpstreamKind = {
  name: 'toolbox-sql',
  dialects: ['postgresql', 'bigquery', 'sqlite'],
  tools: {},
  target: (tool, args, d) => readTarget(tool, args, {}, d),
  catalog: null,
};
