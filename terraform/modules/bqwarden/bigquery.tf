# Audit dataset (raw table, written by the Pub/Sub service agent only) and a separate views
# dataset (authorized views: the dedup view and the examiner dashboards). Examiners read the
# views dataset; the views read the raw table through the authorization below.

resource "google_bigquery_dataset" "audit" {
  project       = var.project_id
  dataset_id    = var.audit_dataset_id
  friendly_name = "bqwarden audit trail"
  description   = "Raw, hash-chained audit events from the bqwarden gateway. Append-only via the Pub/Sub BigQuery subscription."
  location      = var.bigquery_location
  labels        = local.labels

  delete_contents_on_destroy = false

  depends_on = [google_project_service.apis]
}

resource "google_bigquery_table" "audit" {
  project     = var.project_id
  dataset_id  = google_bigquery_dataset.audit.dataset_id
  table_id    = var.audit_table_id
  description = "One row per audit event (at least once: read through the dedup view)."
  labels      = local.labels

  # Generated from src/audit/event.ts by `npm run schema`; a test fails when stale.
  schema = file("${path.module}/generated/audit_table_schema.json")

  time_partitioning {
    type  = "DAY"
    field = "event_time"
    # Retention: a partition is deleted this long after its day. PCI DSS 10.5.1 >= 1 year,
    # BSA 5 years (default 1826 days).
    expiration_ms = var.audit_retention_days * 86400000
  }

  require_partition_filter = true
  clustering               = ["actor_email", "decision", "target_table", "event_type"]
  deletion_protection      = var.deletion_protection
}

resource "google_bigquery_dataset" "views" {
  project       = var.project_id
  dataset_id    = var.views_dataset_id
  friendly_name = "bqwarden audit views"
  description   = "Authorized views over the audit trail for examiners and dashboards."
  location      = var.bigquery_location
  labels        = local.labels

  delete_contents_on_destroy = false

  depends_on = [google_project_service.apis]
}

locals {
  view_vars = {
    project = var.project_id
    dataset = google_bigquery_dataset.audit.dataset_id
    table   = google_bigquery_table.audit.table_id
  }

  # Module examples plus the repo's dashboards/views/*.sql (another team's files); a view in
  # the dashboards dir replaces an example of the same name.
  dashboards_dir = coalesce(var.dashboard_views_dir, "${path.module}/../../../dashboards/views")
  view_files = merge(
    { for f in fileset("${path.module}/views", "*.sql") : trimsuffix(f, ".sql") => "${path.module}/views/${f}" },
    { for f in fileset(local.dashboards_dir, "*.sql") : trimsuffix(f, ".sql") => "${local.dashboards_dir}/${f}" },
  )
}

# Deduplicated events: BigQuery subscriptions deliver at least once. Duplicates are the same
# event (same event_id AND event_time), so partitioning the window by both lets BigQuery push
# a caller's event_time filter through the view and still prune partitions
# (require_partition_filter stays satisfiable through the view).
resource "google_bigquery_table" "events_dedup" {
  project             = var.project_id
  dataset_id          = google_bigquery_dataset.views.dataset_id
  table_id            = "events"
  description         = "Audit events, one row per event_id. Filter on event_time."
  deletion_protection = var.deletion_protection
  labels              = local.labels

  view {
    use_legacy_sql = false
    query          = <<-SQL
      SELECT * EXCEPT (subscription_name, message_id, publish_time, data, attributes)
      FROM `${local.audit_table_fq}`
      WHERE TRUE
      QUALIFY ROW_NUMBER() OVER (PARTITION BY event_time, event_id ORDER BY publish_time) = 1
    SQL
  }
}

# Approval events for the gateway itself: with several Cloud Run instances, each rebuilds and
# follows approval state from here (src/gcp/approval-source.ts). Raw rows, not de-duplicated:
# the gateway de-duplicates on event_id and refuses two different rows under one id. This view
# is the only audit data the runtime identity can read (see iam.tf).
resource "google_bigquery_table" "approval_events" {
  project             = var.project_id
  dataset_id          = google_bigquery_dataset.views.dataset_id
  table_id            = "approval_events"
  description         = "approval_* audit events, read by the gateway to share approval state across instances. Filter on event_time."
  deletion_protection = var.deletion_protection
  labels              = local.labels

  view {
    use_legacy_sql = false
    query          = <<-SQL
      SELECT * EXCEPT (subscription_name, message_id, publish_time, data, attributes)
      FROM `${local.audit_table_fq}`
      WHERE event_type IN ('approval_requested', 'approval_granted', 'approval_rejected', 'approval_expired', 'approval_executed')
    SQL
  }
}

resource "google_bigquery_table" "dashboard_views" {
  for_each = local.view_files

  project             = var.project_id
  dataset_id          = google_bigquery_dataset.views.dataset_id
  table_id            = each.key
  description         = "Dashboard view from ${basename(each.value)}."
  deletion_protection = var.deletion_protection
  labels              = local.labels

  view {
    use_legacy_sql = false
    query          = templatefile(each.value, local.view_vars)
  }
}

# Authorize every view in the views dataset to read the raw audit dataset, so examiners need
# no role on the raw table.
resource "google_bigquery_dataset_access" "views_read_audit" {
  project    = var.project_id
  dataset_id = google_bigquery_dataset.audit.dataset_id

  dataset {
    dataset {
      project_id = var.project_id
      dataset_id = google_bigquery_dataset.views.dataset_id
    }
    target_types = ["VIEWS"]
  }
}
