output "gateway_url" {
  description = "HTTPS URL of the gateway (Cloud Run's, or public_url); MCP clients connect to <url>/mcp."
  value       = local.gateway_url
}

output "mcp_url" {
  description = "The MCP endpoint, and the resource every token's audience must name."
  value       = "${local.gateway_url}/mcp"
}

output "iap_audience" {
  description = "The aud of IAP assertions for this service (when iap_enabled)."
  value       = local.iap_audience
}

output "writer_service_account_email" {
  description = "The identity approved statements run as (null without writable_datasets)."
  value       = local.writer_enabled ? google_service_account.writer[0].email : null
}

output "policy_bucket" {
  description = "Versioned bucket the policy is mounted from (null when the image's rules/ is used)."
  value       = local.policy_from_bucket ? google_storage_bucket.policy[0].name : null
}

output "service_account_email" {
  description = "Service identity of the Cloud Run service (gateway and toolbox)."
  value       = google_service_account.runtime.email
}

output "audit_table" {
  description = "Raw audit table, project.dataset.table (input of `bqwarden verify --bigquery`)."
  value       = local.audit_table_fq
}

output "audit_events_view" {
  description = "Deduplicated audit events view for examiners and dashboards."
  value       = "${var.project_id}.${google_bigquery_dataset.views.dataset_id}.${google_bigquery_table.events_dedup.table_id}"
}

output "approval_events_view" {
  description = "View of approval_* events the gateway rebuilds and follows approval state from (gcp.approvals.table)."
  value       = "${var.project_id}.${google_bigquery_dataset.views.dataset_id}.${google_bigquery_table.approval_events.table_id}"
}

output "audit_topic" {
  description = "Pub/Sub topic the gateway publishes audit events to."
  value       = google_pubsub_topic.audit.id
}

output "dead_letter_subscription" {
  description = "Pull subscription holding audit messages BigQuery or the archive refused; alert when non-empty."
  value       = google_pubsub_subscription.dead_letter.id
}

output "archive_bucket" {
  description = "Write-once (locked retention) archive bucket of the audit stream."
  value       = google_storage_bucket.archive.url
}

output "signing_key_secret" {
  description = "Secret Manager secret of the audit signing key (its public key: `gcloud secrets versions access latest --secret … | bqwarden audit public-key --key-file /dev/stdin`)."
  value       = google_secret_manager_secret.gateway["audit-signing-key"].id
}

output "pseudonymise_key_secret" {
  description = "Secret Manager secret of the pseudonymisation key."
  value       = google_secret_manager_secret.gateway["pseudonymise-key"].id
}

output "session_key_secret" {
  description = "Secret Manager secret of the key that seals MCP session ids (shared by every instance)."
  value       = google_secret_manager_secret.gateway["session-key"].id
}

# Built by the provider-free dashboard-url module from the data-source list `npm run schema`
# generates out of the CLI's, so it equals `bqwarden dashboard-url` (a test evaluates both).
module "examiner_dashboard" {
  source = "./dashboard-url"

  template_report_id = var.looker_template_report_id
  report_name        = local.looker.report_name
  project_id         = var.project_id
  dataset_id         = google_bigquery_dataset.views.dataset_id
  data_sources       = local.looker.data_sources
}

locals {
  looker = jsondecode(file("${path.module}/generated/looker_data_sources.json"))
}

output "examiner_dashboard_url" {
  description = "Looker Studio Linking API link that copies the examiner template report onto the views (the dedup view as `audit`, one data source per dashboard view); null without a template id. Same link as `bqwarden dashboard-url`."
  value       = module.examiner_dashboard.url
}
