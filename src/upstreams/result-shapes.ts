// How the upstream kinds answer, handed to masking as its UpstreamShapes port (the entry puts
// it in MaskingOptions): which whole texts are status, not data, and how rows come wrapped.
// Each reader lives with its kind; this file only composes them. Every reader applies to every
// result: masking is not told which upstream answered, and a shape read where it was not
// expected is still masked column by column, never passed through.
import type { UpstreamShapes } from '../masking/upstream-shapes.js';
import { bigqueryRestRows } from './bigquery-rest-rows.js';
import { TOOLBOX_NO_ROWS_TEXT, TOOLBOX_STATUS_TEXT } from './toolbox-status.js';
import { SQLITE_STATUS_TEXT } from './toolbox-sqlite/status-text.js';

const STATUS_TEXT: readonly RegExp[] = [...TOOLBOX_STATUS_TEXT, ...SQLITE_STATUS_TEXT];

export const UPSTREAM_SHAPES: UpstreamShapes = {
  statusText(text) {
    if (!STATUS_TEXT.some((re) => re.test(text))) return null;
    return TOOLBOX_NO_ROWS_TEXT.test(text) ? 'no-rows' : 'status';
  },
  wrappedRows: bigqueryRestRows,
};
