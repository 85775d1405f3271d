# Audit stream: gateway -> topic (schema-validated JSON) -> BigQuery subscription -> table,
# plus a Cloud Storage subscription for the write-once archive (archive.tf). Messages that
# BigQuery refuses go to a dead-letter topic with its own subscription, so nothing is dropped.

resource "google_pubsub_schema" "audit" {
  project    = var.project_id
  name       = "${var.name_prefix}-audit-event"
  type       = "PROTOCOL_BUFFER"
  definition = file("${path.module}/generated/audit_topic_schema.proto")

  depends_on = [google_project_service.apis]
}

resource "google_pubsub_topic" "audit" {
  project = var.project_id
  name    = "${var.name_prefix}-audit"
  labels  = local.labels

  # Keep published messages for 7 days so a subscription can be re-seeked after an outage.
  message_retention_duration = "604800s"

  message_storage_policy {
    allowed_persistence_regions = [var.region]
  }

  schema_settings {
    schema   = google_pubsub_schema.audit.id
    encoding = "JSON"
  }
}

# Dead letters are audit events BigQuery or the archive refused. The topic keeps them for 31
# days (the Pub/Sub maximum), so a subscription can be seeked back over a month; every one is
# also written to the locked archive (archive.tf) the moment it is dead-lettered, so none can
# age out unseen; and an alert fires while any is waiting (monitoring.tf).
resource "google_pubsub_topic" "dead_letter" {
  project                    = var.project_id
  name                       = "${var.name_prefix}-audit-dead-letter"
  labels                     = local.labels
  message_retention_duration = "2678400s"

  message_storage_policy {
    allowed_persistence_regions = [var.region]
  }

  depends_on = [google_project_service.apis]
}

# For the operator who resolves dead letters (pull, fix, re-publish). A subscription keeps
# messages at most 7 days; the topic's 31 days and the archive copy cover the rest.
resource "google_pubsub_subscription" "dead_letter" {
  project                    = var.project_id
  name                       = "${var.name_prefix}-audit-dead-letter"
  topic                      = google_pubsub_topic.dead_letter.id
  labels                     = local.labels
  ack_deadline_seconds       = 60
  message_retention_duration = "604800s"
  retain_acked_messages      = true

  expiration_policy {
    ttl = ""
  }
}

resource "google_pubsub_subscription" "bigquery" {
  project = var.project_id
  name    = "${var.name_prefix}-audit-bigquery"
  topic   = google_pubsub_topic.audit.id
  labels  = local.labels

  bigquery_config {
    table               = "${google_bigquery_table.audit.project}.${google_bigquery_table.audit.dataset_id}.${google_bigquery_table.audit.table_id}"
    use_table_schema    = true
    write_metadata      = true
    drop_unknown_fields = false
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter.id
    max_delivery_attempts = 10
  }

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  expiration_policy {
    ttl = ""
  }

  depends_on = [
    google_bigquery_table_iam_member.pubsub_table_editor,
    google_bigquery_table_iam_member.pubsub_table_metadata,
    google_pubsub_topic_iam_member.pubsub_dlq_publisher,
  ]
}
