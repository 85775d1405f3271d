# bqwarden on Google Cloud: the gateway on Cloud Run with the MCP Toolbox as a localhost-only
# sidecar, the audit stream through Pub/Sub into BigQuery (at-least-once, deduplicated by a
# view) and into a write-once Cloud Storage archive. Resources are split by concern:
# iam.tf, secrets.tf, pubsub.tf, bigquery.tf, archive.tf, run.tf.

data "google_project" "this" {
  project_id = var.project_id
}

locals {
  labels = merge({ "app" = "bqwarden", "managed-by" = "terraform" }, var.labels)

  # Google-managed service agents that act on our behalf.
  pubsub_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
  iap_agent    = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-iap.iam.gserviceaccount.com"

  audit_table_fq = "${var.project_id}.${var.audit_dataset_id}.${var.audit_table_id}"

  apis = toset([
    "run.googleapis.com",
    "pubsub.googleapis.com",
    "bigquery.googleapis.com",
    "secretmanager.googleapis.com",
    "storage.googleapis.com",
    "iap.googleapis.com",
    "iam.googleapis.com",
  ])
}

resource "google_project_service" "apis" {
  for_each = var.enable_apis ? local.apis : toset([])

  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}
