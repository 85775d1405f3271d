// SQLite errors as Toolbox's sqlite source relays them, when they only echo SQL identifiers or
// tokens the caller wrote: no table data, so masking need not withhold them. Errors that can
// echo values ("Bad int64 value: …") are not here and stay withheld under a sensitive plan.
export const SQLITE_STATUS_TEXT: readonly RegExp[] = [
  /^error processing request: unable to execute query: SQL logic error: (?:no such (?:table|column|function): [\w.$]+|ambiguous column name: [\w.$]+|near "[^"\n]{0,64}": syntax error|incomplete input) \(1\)$/,
];
