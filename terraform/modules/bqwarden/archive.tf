# Write-once evidence copy. BigQuery tables can always be altered by a dataset owner, so the
# audit stream is also written to a bucket whose retention policy is LOCKED: no object can be
# deleted or overwritten before it ages out, not even by a project owner.

resource "google_storage_bucket" "archive" {
  project                     = var.project_id
  name                        = "${var.project_id}-${var.name_prefix}-audit-archive"
  location                    = var.region
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false
  labels                      = local.labels

  retention_policy {
    retention_period = var.archive_retention_days * 86400
    is_locked        = var.archive_retention_locked
  }

  lifecycle_rule {
    condition {
      age = 30
    }
    action {
      type          = "SetStorageClass"
      storage_class = "ARCHIVE"
    }
  }

  depends_on = [google_project_service.apis]
}

resource "google_pubsub_subscription" "archive" {
  project = var.project_id
  name    = "${var.name_prefix}-audit-archive"
  topic   = google_pubsub_topic.audit.id
  labels  = local.labels

  cloud_storage_config {
    bucket          = google_storage_bucket.archive.name
    filename_prefix = "audit/"
    filename_suffix = ".jsonl"
    max_duration    = "300s"
    max_bytes       = 104857600
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter.id
    max_delivery_attempts = 10
  }

  expiration_policy {
    ttl = ""
  }

  depends_on = [
    google_storage_bucket_iam_member.pubsub_archive_writer,
    google_storage_bucket_iam_member.pubsub_archive_reader,
    google_pubsub_topic_iam_member.pubsub_dlq_publisher,
  ]
}

# Dead letters into the same locked archive, under dead-letter/: evidence that could not be
# loaded into BigQuery is kept write-once like everything else.
resource "google_pubsub_subscription" "dead_letter_archive" {
  project = var.project_id
  name    = "${var.name_prefix}-audit-dead-letter-archive"
  topic   = google_pubsub_topic.dead_letter.id
  labels  = local.labels

  cloud_storage_config {
    bucket          = google_storage_bucket.archive.name
    filename_prefix = "dead-letter/"
    filename_suffix = ".jsonl"
    max_duration    = "300s"
    max_bytes       = 104857600
  }

  expiration_policy {
    ttl = ""
  }

  depends_on = [
    google_storage_bucket_iam_member.pubsub_archive_writer,
    google_storage_bucket_iam_member.pubsub_archive_reader,
  ]
}
