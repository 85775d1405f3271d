// Looker Studio Linking API: a URL that creates a copy of a template report bound to the
// caller's own BigQuery table, so the examiner dashboard needs no manual data-source setup.
// The Terraform module builds the same URL as an output; keep the two in step.

export interface TableId {
  projectId: string;
  datasetId: string;
  tableId: string;
}

/** project.dataset.table (a `:` after the project, as bq prints it, is accepted too). */
export function parseTableId(fq: string): TableId {
  const m = /^([a-z0-9.:-]+?)[.:]([A-Za-z0-9_]+)\.([A-Za-z0-9_$-]+)$/.exec(fq.trim());
  const [, projectId, datasetId, tableId] = m ?? [];
  if (!projectId || !datasetId || !tableId) throw new Error(`not a BigQuery table id (project.dataset.table): ${JSON.stringify(fq)}`);
  return { projectId, datasetId, tableId };
}

export function lookerStudioUrl(o: TableId & { templateReportId: string; reportName?: string; alias?: string }): string {
  const alias = o.alias ?? 'audit';
  const q = new URLSearchParams();
  q.set('c.reportId', o.templateReportId);
  if (o.reportName) q.set('r.reportName', o.reportName);
  q.set(`ds.${alias}.connector`, 'bigQuery');
  q.set(`ds.${alias}.type`, 'TABLE');
  q.set(`ds.${alias}.projectId`, o.projectId);
  q.set(`ds.${alias}.datasetId`, o.datasetId);
  q.set(`ds.${alias}.tableId`, o.tableId);
  return `https://lookerstudio.google.com/reporting/create?${q.toString()}`;
}
