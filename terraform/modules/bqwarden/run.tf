# The gateway on Cloud Run v2. Only the ingress container (gateway) declares a port; the
# MCP Toolbox sidecar listens on 127.0.0.1, so every query must pass through the gateway's
# checks: the data path has no back door.

resource "google_cloud_run_v2_service" "gateway" {
  provider = google-beta

  project             = var.project_id
  name                = "${var.name_prefix}-gateway"
  location            = var.region
  ingress             = var.ingress
  labels              = local.labels
  deletion_protection = var.deletion_protection
  # Direct IAP on Cloud Run is a BETA launch-stage feature.
  launch_stage = var.iap_enabled ? "BETA" : "GA"
  iap_enabled  = var.iap_enabled

  template {
    service_account = google_service_account.runtime.email
    # MCP sessions (Streamable HTTP) live in one instance's memory.
    session_affinity                 = true
    max_instance_request_concurrency = 80
    timeout                          = "900s"

    scaling {
      min_instance_count = var.min_instances
      max_instance_count = var.max_instances
    }

    containers {
      name       = "gateway"
      image      = var.gateway_image
      depends_on = ["toolbox"]

      ports {
        container_port = 8080
      }

      # Config keys of src/server/config.ts (BQWARDEN__a__b sets a.b). PORT is set by Cloud Run.
      env {
        name  = "HOST"
        value = "0.0.0.0"
      }
      env {
        name  = "BQWARDEN_MODE"
        value = "production"
      }
      env {
        name  = "BQWARDEN__server__trustProxy"
        value = "true"
      }
      # Cloud Run kills an instance 10 s after SIGTERM. The drain must leave time to publish the
      # gateway_stop + final signed checkpoint that seal this instance's audit chain, or the
      # chain reads as a crash in `bqwarden verify --bigquery`.
      env {
        name  = "BQWARDEN__server__drainTimeoutMs"
        value = "6000"
      }
      env {
        name  = "BQWARDEN__auditSink"
        value = "pubsub"
      }
      env {
        name  = "BQWARDEN__gcp__project"
        value = var.project_id
      }
      env {
        name  = "BQWARDEN__gcp__topic"
        value = google_pubsub_topic.audit.id
      }
      env {
        name  = "BQWARDEN__gcp__bigquery__auditTable"
        value = local.audit_table_fq
      }
      env {
        name  = "BQWARDEN__gcp__approvals__table"
        value = "${var.project_id}.${google_bigquery_dataset.views.dataset_id}.${google_bigquery_table.approval_events.table_id}"
      }
      env {
        name  = "BQWARDEN__gcp__bigquery__location"
        value = var.bigquery_location
      }
      env {
        name  = "BQWARDEN_UPSTREAM_URL"
        value = "http://127.0.0.1:${var.toolbox_port}/mcp"
      }
      # Paths of the mounted secret files, never the secrets themselves.
      env {
        name  = "BQWARDEN__audit__signingKeyFile"
        value = "/secrets/audit-signing-key/key.pem"
      }
      env {
        name  = "BQWARDEN__masking__pseudonym__keyFile"
        value = "/secrets/pseudonymise-key/key"
      }
      dynamic "env" {
        for_each = var.gateway_env
        content {
          name  = env.key
          value = env.value
        }
      }

      volume_mounts {
        name       = "audit-signing-key"
        mount_path = "/secrets/audit-signing-key"
      }
      volume_mounts {
        name       = "pseudonymise-key"
        mount_path = "/secrets/pseudonymise-key"
      }

      resources {
        limits = {
          cpu    = "1"
          memory = "1Gi"
        }
        cpu_idle          = false
        startup_cpu_boost = true
      }

      # Ready only when the audit sink can persist (Pub/Sub reachable) and upstream answers.
      startup_probe {
        initial_delay_seconds = 2
        period_seconds        = 5
        timeout_seconds       = 3
        failure_threshold     = 24
        http_get {
          path = "/readyz"
          port = 8080
        }
      }

      liveness_probe {
        period_seconds    = 15
        timeout_seconds   = 3
        failure_threshold = 4
        http_get {
          path = "/healthz"
          port = 8080
        }
      }
    }

    containers {
      name  = "toolbox"
      image = var.toolbox_image
      args  = ["--prebuilt", "bigquery", "--address", "127.0.0.1", "--port", tostring(var.toolbox_port)]

      env {
        name  = "BIGQUERY_PROJECT"
        value = var.project_id
      }

      resources {
        limits = {
          cpu    = "1"
          memory = "512Mi"
        }
      }

      startup_probe {
        period_seconds    = 2
        timeout_seconds   = 1
        failure_threshold = 30
        tcp_socket {
          port = var.toolbox_port
        }
      }
    }

    volumes {
      name = "audit-signing-key"
      secret {
        secret = google_secret_manager_secret.gateway["audit-signing-key"].secret_id
        items {
          version = "latest"
          path    = "key.pem"
          mode    = 256 # 0400
        }
      }
    }

    volumes {
      name = "pseudonymise-key"
      secret {
        secret = google_secret_manager_secret.gateway["pseudonymise-key"].secret_id
        items {
          version = "latest"
          path    = "key"
          mode    = 256
        }
      }
    }
  }

  depends_on = [
    google_project_service.apis,
    google_secret_manager_secret_iam_member.runtime_secret_access,
    google_pubsub_topic_iam_member.runtime_publisher,
  ]
}
