// What MCP Toolbox for Databases (every Toolbox kind) answers in place of rows: status lines
// that carry no table data. Masking passes them through the detectors instead of withholding
// them as unmapped text (result-shapes.ts hands them to masking).

/** Toolbox's status lines, whole texts. */
export const TOOLBOX_STATUS_TEXT: readonly RegExp[] = [/^The query returned 0 rows\.?$/, /^Query executed successfully and returned no content\.?$/];

/** Toolbox's answer to a query with no rows: the report counts 0 rows, not "unknown". */
export const TOOLBOX_NO_ROWS_TEXT = /^The query returned 0 rows/;
