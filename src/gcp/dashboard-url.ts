// The examiner dashboard link: a Looker Studio Linking API URL that copies the template report
// and rebinds each of its data sources to this deployment's views dataset. The template's data
// sources carry aliases equal to the view names (dashboards/looker-studio.md says how to set
// them), plus `audit` for the deduplicated events view, which the GCP module's builder
// (looker.ts) and the Terraform output already bind; this only adds the per-view ones.
import { lookerStudioUrl } from './looker.js';

/** dashboards/views/*.sql, one data source each (a test keeps this list in step with the files). */
export const DASHBOARD_VIEWS = [
  'activity_by_user_day',
  'classified_column_access',
  'denials',
  'privileged_approvals',
  'masking_detector_hits',
  'after_hours_volume',
  'identity_types',
  'chain_health',
  'audit_data_access',
  'intents_without_outcome',
] as const;

/** Table id of the deduplicated events view the Terraform module creates in the views dataset. */
export const EVENTS_VIEW = 'events';

export interface DashboardUrlOptions {
  projectId: string;
  /** The views dataset (Terraform var.views_dataset_id), not the raw audit dataset. */
  datasetId: string;
  templateReportId: string;
  reportName?: string;
}

const ID = /^[A-Za-z0-9_.:-]+$/;

export function examinerDashboardUrl(o: DashboardUrlOptions): string {
  for (const [k, v] of Object.entries({ project: o.projectId, dataset: o.datasetId, 'report id': o.templateReportId })) {
    if (!v || !ID.test(v)) throw new Error(`dashboard-url: ${k} ${JSON.stringify(v)} is not a valid identifier`);
  }
  const base = lookerStudioUrl({
    templateReportId: o.templateReportId,
    reportName: o.reportName ?? 'bqwarden examiner dashboard',
    projectId: o.projectId,
    datasetId: o.datasetId,
    tableId: EVENTS_VIEW,
    alias: 'audit',
  });
  const q = new URLSearchParams();
  for (const view of DASHBOARD_VIEWS) {
    q.set(`ds.${view}.connector`, 'bigQuery');
    q.set(`ds.${view}.type`, 'TABLE');
    q.set(`ds.${view}.projectId`, o.projectId);
    q.set(`ds.${view}.datasetId`, o.datasetId);
    q.set(`ds.${view}.tableId`, view);
  }
  return `${base}&${q.toString()}`;
}
