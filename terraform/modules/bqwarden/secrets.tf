# The gateway's three secrets. By default Terraform also creates their first versions, from keys
# generated in ephemeral resources and written through write-only arguments: the key material
# exists only during the apply, never in the plan, the state or an output. So the Cloud Run
# service finds a version to mount on the very first apply. The gateway reads them as mounted
# files (run.tf), never as environment values.
#
# manage_secret_versions = false: Terraform creates the containers only, and you add the
# versions yourself BEFORE the service is created (docs/gcp.md shows both ways).

locals {
  gateway_secrets = {
    "audit-signing-key" = "Ed25519 private key (PKCS#8 PEM) that signs audit checkpoints."
    "pseudonymise-key"  = "HMAC key for deterministic pseudonymisation in masking."
    "session-key"       = "AES-256-GCM key that seals MCP session ids, so any instance resumes a session."
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

ephemeral "tls_private_key" "audit_signing" {
  count     = var.manage_secret_versions ? 1 : 0
  algorithm = "ED25519"
}

# 64 characters from [A-Za-z0-9]: the gateway reads it as base64 (48 bytes of key).
ephemeral "random_password" "pseudonymise" {
  count   = var.manage_secret_versions ? 1 : 0
  length  = 64
  special = false
}

# 64 characters: read as raw bytes (the gateway needs at least 32).
ephemeral "random_password" "session" {
  count   = var.manage_secret_versions ? 1 : 0
  length  = 64
  special = false
}

resource "google_secret_manager_secret_version" "audit_signing_key" {
  count = var.manage_secret_versions ? 1 : 0

  secret                 = google_secret_manager_secret.gateway["audit-signing-key"].id
  secret_data_wo         = ephemeral.tls_private_key.audit_signing[0].private_key_pem_pkcs8
  secret_data_wo_version = var.signing_key_generation
}

resource "google_secret_manager_secret_version" "pseudonymise_key" {
  count = var.manage_secret_versions ? 1 : 0

  secret                 = google_secret_manager_secret.gateway["pseudonymise-key"].id
  secret_data_wo         = ephemeral.random_password.pseudonymise[0].result
  secret_data_wo_version = var.pseudonymise_key_generation
}

resource "google_secret_manager_secret_version" "session_key" {
  count = var.manage_secret_versions ? 1 : 0

  secret                 = google_secret_manager_secret.gateway["session-key"].id
  secret_data_wo         = ephemeral.random_password.session[0].result
  secret_data_wo_version = var.session_key_generation
}

locals {
  # Mount the version this apply created (a rotation is a new revision), or the newest one the
  # operator added when versions are managed outside Terraform.
  signing_key_version      = var.manage_secret_versions ? google_secret_manager_secret_version.audit_signing_key[0].version : "latest"
  pseudonymise_key_version = var.manage_secret_versions ? google_secret_manager_secret_version.pseudonymise_key[0].version : "latest"
  session_key_version      = var.manage_secret_versions ? google_secret_manager_secret_version.session_key[0].version : "latest"
}
