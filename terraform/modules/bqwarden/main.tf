# bqwarden on Google Cloud: the gateway on Cloud Run with the MCP Toolbox as a localhost-only
# sidecar (and a second, credential-less one for approved writes), the audit stream through
# Pub/Sub into BigQuery (at-least-once, deduplicated by a view) and into a write-once Cloud
# Storage archive. Resources are split by concern: iam.tf, secrets.tf, pubsub.tf, bigquery.tf,
# archive.tf, policy.tf, monitoring.tf, run.tf.

data "google_project" "this" {
  project_id = var.project_id
}

locals {
  labels = merge({ "app" = "bqwarden", "managed-by" = "terraform" }, var.labels)

  service_name = "${var.name_prefix}-gateway"

  # Cloud Run's deterministic URL (https://<service>-<project number>.<region>.run.app) is known
  # before the service exists, so the gateway can be told its own resource URL (the audience
  # every token must name) in the same apply.
  gateway_url = coalesce(var.public_url, "https://${local.service_name}-${data.google_project.this.number}.${var.region}.run.app")

  # The aud of the assertions IAP signs when it is enabled directly on this Cloud Run service.
  iap_audience = "/projects/${data.google_project.this.number}/locations/${var.region}/services/${local.service_name}"

  # Google-managed service agents that act on our behalf, created explicitly (service
  # identities) so that an empty project has them before the first grant names them.
  pubsub_agent = "serviceAccount:${google_project_service_identity.pubsub.email}"
  iap_agent    = var.iap_enabled ? "serviceAccount:${google_project_service_identity.iap[0].email}" : null

  audit_table_fq = "${var.project_id}.${var.audit_dataset_id}.${var.audit_table_id}"

  apis = toset([
    "run.googleapis.com",
    "pubsub.googleapis.com",
    "bigquery.googleapis.com",
    "secretmanager.googleapis.com",
    "storage.googleapis.com",
    "iap.googleapis.com",
    "iam.googleapis.com",
    "iamcredentials.googleapis.com",
    "monitoring.googleapis.com",
    "logging.googleapis.com",
  ])
}

resource "google_project_service" "apis" {
  for_each = var.enable_apis ? local.apis : toset([])

  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}

resource "google_project_service_identity" "pubsub" {
  provider = google-beta

  project = var.project_id
  service = "pubsub.googleapis.com"

  depends_on = [google_project_service.apis]
}

resource "google_project_service_identity" "iap" {
  provider = google-beta
  count    = var.iap_enabled ? 1 : 0

  project = var.project_id
  service = "iap.googleapis.com"

  depends_on = [google_project_service.apis]
}
