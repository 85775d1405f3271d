# Identities and least privilege.
#
# Cloud Run gives a service ONE identity for all of its containers, so the gateway and the
# toolbox sidecars share `runtime`. Least privilege is still achieved because the identity can
# do exactly what the read path needs and nothing on the audit trail itself:
#   - run query jobs (jobUser on the project: jobs are project-scoped, data is not),
#   - read only the allowed datasets (dataViewer per dataset, no project-wide data role),
#   - publish to the audit topic only (no subscribe, no topic admin),
#   - read its own two secrets only.
#   - read the approval_events view (one view, table-level grant) so every instance sees the
#     approvals granted through the others.
# It holds no role on the audit dataset, the archive bucket or the subscriptions: even a
# compromised instance cannot rewrite or delete audit evidence. Only the Pub/Sub service agent
# writes the audit table, and only examiners read the other views.
#
# Writes are a separate identity, `writer` (below): it alone may change data, in
# writable_datasets only. The gateway uses it only for statements an approver released, by
# minting a short-lived token for it (iamcredentials generateAccessToken) and handing that token
# to the writer Toolbox sidecar, which holds no credential of its own. The read path's
# credential cannot write, so a write that policy misjudged as a read fails in BigQuery.

resource "google_service_account" "runtime" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-run"
  display_name = "bqwarden gateway + toolbox (Cloud Run service identity)"
  description  = "Publishes audit events, reads its secrets, queries the allowed datasets only."
}

resource "google_project_iam_member" "runtime_job_user" {
  project = var.project_id
  role    = "roles/bigquery.jobUser"
  member  = google_service_account.runtime.member
}

resource "google_bigquery_dataset_iam_member" "runtime_data_viewer" {
  for_each = toset(var.allowed_datasets)

  project    = var.project_id
  dataset_id = each.value
  role       = "roles/bigquery.dataViewer"
  member     = google_service_account.runtime.member
}

# Read-only, on the one view of approval_* events: not the raw table, not the other views.
resource "google_bigquery_table_iam_member" "runtime_approval_events_reader" {
  project    = var.project_id
  dataset_id = google_bigquery_dataset.views.dataset_id
  table_id   = google_bigquery_table.approval_events.table_id
  role       = "roles/bigquery.dataViewer"
  member     = google_service_account.runtime.member
}

resource "google_project_iam_member" "runtime_log_writer" {
  project = var.project_id
  role    = "roles/logging.logWriter"
  member  = google_service_account.runtime.member
}

resource "google_project_iam_member" "runtime_metric_writer" {
  project = var.project_id
  role    = "roles/monitoring.metricWriter"
  member  = google_service_account.runtime.member
}

resource "google_pubsub_topic_iam_member" "runtime_publisher" {
  project = var.project_id
  topic   = google_pubsub_topic.audit.name
  role    = "roles/pubsub.publisher"
  member  = google_service_account.runtime.member
}

resource "google_secret_manager_secret_iam_member" "runtime_secret_access" {
  for_each = google_secret_manager_secret.gateway

  project   = var.project_id
  secret_id = each.value.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.runtime.member
}

# Pub/Sub service agent: writes the audit table (BigQuery subscription), dead-letters, archives.
resource "google_bigquery_table_iam_member" "pubsub_table_editor" {
  project    = var.project_id
  dataset_id = google_bigquery_dataset.audit.dataset_id
  table_id   = google_bigquery_table.audit.table_id
  role       = "roles/bigquery.dataEditor"
  member     = local.pubsub_agent
}

resource "google_bigquery_table_iam_member" "pubsub_table_metadata" {
  project    = var.project_id
  dataset_id = google_bigquery_dataset.audit.dataset_id
  table_id   = google_bigquery_table.audit.table_id
  role       = "roles/bigquery.metadataViewer"
  member     = local.pubsub_agent
}

resource "google_pubsub_topic_iam_member" "pubsub_dlq_publisher" {
  project = var.project_id
  topic   = google_pubsub_topic.dead_letter.name
  role    = "roles/pubsub.publisher"
  member  = local.pubsub_agent
}

resource "google_pubsub_subscription_iam_member" "pubsub_bq_subscriber" {
  project      = var.project_id
  subscription = google_pubsub_subscription.bigquery.name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent
}

resource "google_pubsub_subscription_iam_member" "pubsub_archive_subscriber" {
  project      = var.project_id
  subscription = google_pubsub_subscription.archive.name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent
}

resource "google_storage_bucket_iam_member" "pubsub_archive_writer" {
  bucket = google_storage_bucket.archive.name
  role   = "roles/storage.objectCreator"
  member = local.pubsub_agent
}

resource "google_storage_bucket_iam_member" "pubsub_archive_reader" {
  bucket = google_storage_bucket.archive.name
  role   = "roles/storage.legacyBucketReader"
  member = local.pubsub_agent
}

# Examiners: the authorized views only. jobUser lets them run queries; it grants no data.
resource "google_bigquery_dataset_iam_member" "examiner_views_viewer" {
  for_each = toset(var.examiner_members)

  project    = var.project_id
  dataset_id = google_bigquery_dataset.views.dataset_id
  role       = "roles/bigquery.dataViewer"
  member     = each.value
}

resource "google_project_iam_member" "examiner_job_user" {
  for_each = toset(var.examiner_members)

  project = var.project_id
  role    = "roles/bigquery.jobUser"
  member  = each.value
}

# Who may call the gateway.
resource "google_cloud_run_v2_service_iam_member" "invoker" {
  for_each = var.iap_enabled ? toset([]) : toset(var.invoker_members)

  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_service.gateway.name
  role     = "roles/run.invoker"
  member   = each.value

  lifecycle {
    precondition {
      condition     = !contains(["allUsers", "allAuthenticatedUsers"], each.value)
      error_message = "A public invoker is only acceptable behind IAP."
    }
  }
}

resource "google_cloud_run_v2_service_iam_member" "iap_invoker" {
  count = var.iap_enabled ? 1 : 0

  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_service.gateway.name
  role     = "roles/run.invoker"
  member   = local.iap_agent
}

resource "google_iap_web_cloud_run_service_iam_member" "iap_access" {
  provider = google-beta
  for_each = var.iap_enabled ? toset(var.iap_members) : toset([])

  project                = var.project_id
  location               = var.region
  cloud_run_service_name = google_cloud_run_v2_service.gateway.name
  role                   = "roles/iap.httpsResourceAccessor"
  member                 = each.value
}

# Who may read agents' data and who may change it are different identities.
resource "google_service_account" "writer" {
  count = local.writer_enabled ? 1 : 0

  project      = var.project_id
  account_id   = "${var.name_prefix}-writer"
  display_name = "bqwarden approved writes"
  description  = "Runs statements an independent approver released, in writable_datasets only. Used only through short-lived tokens the gateway mints."
}

resource "google_bigquery_dataset_iam_member" "writer_data_editor" {
  for_each = toset(var.writable_datasets)

  project    = var.project_id
  dataset_id = each.value
  role       = "roles/bigquery.dataEditor"
  member     = google_service_account.writer[0].member
}

resource "google_project_iam_member" "writer_job_user" {
  count = local.writer_enabled ? 1 : 0

  project = var.project_id
  role    = "roles/bigquery.jobUser"
  member  = google_service_account.writer[0].member
}

# The gateway may mint tokens for the writer account, and for no other account.
resource "google_service_account_iam_member" "runtime_mints_writer_tokens" {
  count = local.writer_enabled ? 1 : 0

  service_account_id = google_service_account.writer[0].name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = google_service_account.runtime.member
}
