# Secret containers only. Values are added out of band (gcloud secrets versions add …) so key
# material never enters Terraform state or plan output. The gateway reads them as mounted
# files (run.tf), never as plain environment values.

locals {
  gateway_secrets = {
    "audit-signing-key" = "Ed25519 private key (PKCS#8 PEM) that signs audit checkpoints."
    "pseudonymise-key"  = "HMAC key for deterministic pseudonymisation in masking."
  }
}

resource "google_secret_manager_secret" "gateway" {
  for_each = local.gateway_secrets

  project   = var.project_id
  secret_id = "${var.name_prefix}-${each.key}"
  labels    = local.labels
  annotations = {
    purpose = each.value
  }

  replication {
    auto {}
  }

  depends_on = [google_project_service.apis]
}
