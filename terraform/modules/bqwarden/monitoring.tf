# Alerts on the audit pipeline. Every audit event is evidence, so each way one can be delayed
# or lost has an alert: dead letters waiting, a subscription falling behind, the gateway
# failing to publish (requests are then denied, fail closed) and Pub/Sub refusing publishes.
# Notifications go to alert_notification_channels (projects/<p>/notificationChannels/<id>).

locals {
  alert_docs = "Runbook: docs/gcp.md, section Operations. The dead-letter subscription is ${google_pubsub_subscription.dead_letter.name}; every dead letter is also in gs://${google_storage_bucket.archive.name}/dead-letter/."
}

resource "google_monitoring_alert_policy" "dead_letters" {
  project               = var.project_id
  display_name          = "${var.name_prefix}: audit events dead-lettered"
  combiner              = "OR"
  severity              = "CRITICAL"
  notification_channels = var.alert_notification_channels
  user_labels           = local.labels

  conditions {
    display_name = "dead-letter subscription has undelivered messages"
    condition_threshold {
      filter          = "resource.type = \"pubsub_subscription\" AND resource.labels.subscription_id = \"${google_pubsub_subscription.dead_letter.name}\" AND metric.type = \"pubsub.googleapis.com/subscription/num_undelivered_messages\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }

  documentation {
    content   = "Audit events were refused by BigQuery or the archive and dead-lettered. ${local.alert_docs}"
    mime_type = "text/markdown"
  }

  depends_on = [google_project_service.apis]
}

resource "google_monitoring_alert_policy" "backlog" {
  project               = var.project_id
  display_name          = "${var.name_prefix}: audit subscriptions falling behind"
  combiner              = "OR"
  severity              = "WARNING"
  notification_channels = var.alert_notification_channels
  user_labels           = local.labels

  dynamic "conditions" {
    for_each = {
      bigquery = google_pubsub_subscription.bigquery.name
      archive  = google_pubsub_subscription.archive.name
    }
    content {
      display_name = "oldest unacked audit message on ${conditions.value} older than ${var.backlog_alert_seconds} s"
      condition_threshold {
        filter          = "resource.type = \"pubsub_subscription\" AND resource.labels.subscription_id = \"${conditions.value}\" AND metric.type = \"pubsub.googleapis.com/subscription/oldest_unacked_message_age\""
        comparison      = "COMPARISON_GT"
        threshold_value = var.backlog_alert_seconds
        duration        = "300s"
        aggregations {
          alignment_period   = "60s"
          per_series_aligner = "ALIGN_MAX"
        }
      }
    }
  }

  documentation {
    content   = "The BigQuery or archive subscription is not keeping up; examiners' views and approval state across instances lag. ${local.alert_docs}"
    mime_type = "text/markdown"
  }

  depends_on = [google_project_service.apis]
}

resource "google_monitoring_alert_policy" "publish_failures" {
  project               = var.project_id
  display_name          = "${var.name_prefix}: audit publish failures"
  combiner              = "OR"
  severity              = "CRITICAL"
  notification_channels = var.alert_notification_channels
  user_labels           = local.labels

  # As Pub/Sub sees it: publish requests to the audit topic that did not succeed.
  conditions {
    display_name = "publish requests to the audit topic failing"
    condition_threshold {
      filter          = "resource.type = \"pubsub_topic\" AND resource.labels.topic_id = \"${google_pubsub_topic.audit.name}\" AND metric.type = \"pubsub.googleapis.com/topic/send_request_count\" AND metric.labels.response_class != \"success\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_SUM"
      }
    }
  }

  documentation {
    content   = "Pub/Sub refuses publishes to the audit topic, so the gateway denies requests until a publish succeeds (/readyz reports unready). ${local.alert_docs}"
    mime_type = "text/markdown"
  }

  depends_on = [google_project_service.apis]
}

# As the gateway sees it: an audit write failed and the request was denied (fail closed). This
# also covers failures that never reach Pub/Sub (network, permissions, schema refusals). A
# log-match condition must be the only condition of its policy.
resource "google_monitoring_alert_policy" "audit_write_failures" {
  project               = var.project_id
  display_name          = "${var.name_prefix}: gateway could not write audit events"
  combiner              = "OR"
  severity              = "CRITICAL"
  notification_channels = var.alert_notification_channels
  user_labels           = local.labels

  conditions {
    display_name = "audit append failed; request denied"
    condition_matched_log {
      filter = "resource.type = \"cloud_run_revision\" AND resource.labels.service_name = \"${local.service_name}\" AND jsonPayload.message = \"audit append failed; request denied\""
    }
  }

  alert_strategy {
    notification_rate_limit {
      period = "300s"
    }
    auto_close = "1800s"
  }

  documentation {
    content   = "The gateway could not make audit events durable and denied the requests. ${local.alert_docs}"
    mime_type = "text/markdown"
  }

  depends_on = [google_project_service.apis]
}
