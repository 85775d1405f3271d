# The gateway on Cloud Run v2. Only the ingress container (gateway) declares a port; the MCP
# Toolbox sidecars listen on 127.0.0.1, so every query passes through the gateway's checks.
#
# Reachability: ingress defaults to all traffic, and Cloud Run IAM (run.invoker for
# invoker_members) authenticates every request before it reaches the gateway, which then
# verifies the same Google ID token itself (or IAP's assertion with iap_enabled). No load
# balancer is needed for that; put an external HTTPS load balancer with a serverless NEG and
# Cloud Armor in front (ingress = INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER, public_url = its URL)
# when the bank requires a WAF or its own domain. See docs/gcp.md, "Reachability".

locals {
  writer_enabled = length(var.writable_datasets) > 0

  gcloud_client_id = "32555940559.apps.googleusercontent.com"
  id_token_audiences = distinct(concat(
    [local.gateway_url],
    var.google_id_token_audiences,
    var.accept_gcloud_user_tokens ? [local.gcloud_client_id] : [],
  ))

  # Gateway configuration the module derives (BQWARDEN__a__b sets a.b; values are JSON).
  identity_env = merge(
    length(var.oidc_issuers) == 0 ? {} : {
      BQWARDEN__identity__issuers = jsonencode([for i in var.oidc_issuers : merge(
        { issuer = i.issuer, groupsClaim = i.groups_claim, emailClaim = i.email_claim },
        i.audiences == null ? {} : { audiences = i.audiences },
      )])
    },
    var.iap_enabled ? {
      BQWARDEN__identity__google__iap = jsonencode({ audience = local.iap_audience, required = true })
      } : {
      BQWARDEN__identity__google__idTokens = jsonencode(merge(
        { audiences = local.id_token_audiences },
        length(var.google_hosted_domains) == 0 ? {} : { hostedDomains = var.google_hosted_domains },
      ))
    },
  )

  writer_env = local.writer_enabled ? {
    BQWARDEN__upstream__writer = jsonencode({
      url        = "http://127.0.0.1:${var.toolbox_writer_port}/mcp"
      name       = "toolbox-bigquery-writer"
      credential = { type = "google_impersonated", targetPrincipal = google_service_account.writer[0].email }
    })
  } : {}

  policy_env = local.policy_from_bucket ? {
    BQWARDEN__rules__dir        = local.policy_mount
    BQWARDEN__rules__catalogDir = "${local.policy_mount}/catalog"
    # Changes with any policy file, so a policy change is a new revision.
    BQWARDEN_POLICY_DIGEST = local.policy_digest
  } : {}

  catalog_env = var.bigquery_catalog ? { BQWARDEN__gcp__bigquery__catalog = "true" } : {}

  derived_env = merge(local.identity_env, local.writer_env, local.policy_env, local.catalog_env, local.trust_env)
}

resource "google_cloud_run_v2_service" "gateway" {
  provider = google-beta

  project             = var.project_id
  name                = local.service_name
  location            = var.region
  ingress             = var.ingress
  labels              = local.labels
  deletion_protection = var.deletion_protection
  # Direct IAP on Cloud Run is a BETA launch-stage feature.
  launch_stage = var.iap_enabled ? "BETA" : "GA"
  iap_enabled  = var.iap_enabled

  template {
    service_account = google_service_account.runtime.email
    # Cloud Storage volumes (policy from a bucket) need the second generation environment.
    execution_environment = local.policy_from_bucket ? "EXECUTION_ENVIRONMENT_GEN2" : null
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
      depends_on = local.writer_enabled ? ["toolbox", "toolbox-writer"] : ["toolbox"]

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
        name  = "BQWARDEN_PUBLIC_URL"
        value = local.gateway_url
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
      env {
        name  = "BQWARDEN__upstream__name"
        value = "toolbox-bigquery"
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
      # One key on every instance: a session id sealed by one instance opens on another.
      env {
        name  = "BQWARDEN__transport__sessionSecretFile"
        value = "/secrets/session-key/key"
      }
      dynamic "env" {
        for_each = local.derived_env
        content {
          name  = env.key
          value = env.value
        }
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
      volume_mounts {
        name       = "session-key"
        mount_path = "/secrets/session-key"
      }
      dynamic "volume_mounts" {
        for_each = local.policy_from_bucket ? [local.policy_mount] : []
        content {
          name       = "policy"
          mount_path = volume_mounts.value
        }
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

    # The read path: Toolbox with the service identity (read-only on allowed_datasets).
    containers {
      name  = "toolbox"
      image = var.toolbox_image
      args  = ["--prebuilt", "bigquery", "--address", "127.0.0.1", "--port", tostring(var.toolbox_port), "--disable-version-check"]

      env {
        name  = "BIGQUERY_PROJECT"
        value = var.project_id
      }
      env {
        name  = "BIGQUERY_LOCATION"
        value = var.bigquery_location
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

    # The write path: a Toolbox with NO credential of its own (BIGQUERY_USE_CLIENT_OAUTH): every
    # BigQuery call uses the bearer token in the request, which only the gateway can mint (for
    # the writer account) and sends only with approved statements.
    dynamic "containers" {
      for_each = local.writer_enabled ? ["toolbox-writer"] : []
      content {
        name  = containers.value
        image = var.toolbox_image
        args  = ["--prebuilt", "bigquery", "--address", "127.0.0.1", "--port", tostring(var.toolbox_writer_port), "--disable-version-check"]

        env {
          name  = "BIGQUERY_PROJECT"
          value = var.project_id
        }
        env {
          name  = "BIGQUERY_LOCATION"
          value = var.bigquery_location
        }
        env {
          name  = "BIGQUERY_USE_CLIENT_OAUTH"
          value = "true"
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
            port = var.toolbox_writer_port
          }
        }
      }
    }

    # Mode 0444: the image runs as user node, and the mounted files are owned by root.
    volumes {
      name = "audit-signing-key"
      secret {
        secret = google_secret_manager_secret.gateway["audit-signing-key"].secret_id
        items {
          version = local.signing_key_version
          path    = "key.pem"
          mode    = 292 # 0444
        }
      }
    }

    volumes {
      name = "pseudonymise-key"
      secret {
        secret = google_secret_manager_secret.gateway["pseudonymise-key"].secret_id
        items {
          version = local.pseudonymise_key_version
          path    = "key"
          mode    = 292 # 0444
        }
      }
    }

    volumes {
      name = "session-key"
      secret {
        secret = google_secret_manager_secret.gateway["session-key"].secret_id
        items {
          version = local.session_key_version
          path    = "key"
          mode    = 292 # 0444
        }
      }
    }

    dynamic "volumes" {
      for_each = local.policy_from_bucket ? ["policy"] : []
      content {
        name = volumes.value
        gcs {
          bucket    = google_storage_bucket.policy[0].name
          read_only = true
        }
      }
    }
  }

  depends_on = [
    google_project_service.apis,
    google_secret_manager_secret_iam_member.runtime_secret_access,
    google_secret_manager_secret_version.audit_signing_key,
    google_secret_manager_secret_version.pseudonymise_key,
    google_secret_manager_secret_version.session_key,
    google_pubsub_topic_iam_member.runtime_publisher,
    google_storage_bucket_object.policy,
    google_storage_bucket_iam_member.runtime_policy_reader,
    google_service_account_iam_member.runtime_mints_writer_tokens,
  ]
}
