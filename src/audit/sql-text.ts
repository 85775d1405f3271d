// The one rule for SQL text at rest in the audit: the statement as written only for roles whose
// policy keeps literals, else with every literal replaced; when it cannot even be redacted
// (unparseable), only its length, since the exact text is bound by sql_sha256 anyway. Used by
// the pipeline for every call and by the approval gate for held statements, so the two never
// disagree about what an examiner (or an attacker with the log) can read.
export function sqlTextForAudit(sql: string, keepLiterals: boolean, redact: ((sql: string) => string) | null): string {
  if (keepLiterals) return sql;
  try {
    if (redact) return redact(sql);
  } catch {
    // fall through: never store what could not be redacted
  }
  return `-- SQL withheld (${sql.length} chars); the exact text is bound by sql_sha256`;
}
