// Column lineage for queries: builds the FROM scope, resolves every name against it, and
// returns each query's output columns with the source columns they derive from. Columns used
// outside the select list are recorded on the Collector with their clause. The walker lives in
// walk.ts (state), names.ts, expressions.ts, from.ts (with table-reads, table-functions and
// pivot), ctes.ts, select.ts (with select-list) and sqlite-rules.ts; this module is what the
// rest of src/sql imports.
export { queryRelation } from './select.js';
export { withCtes } from './ctes.js';
export { addTableExpr } from './from.js';
export { readTable } from './table-reads.js';
export { useExpr, walkExpr } from './expressions.js';
export type { Walk } from './walk.js';
