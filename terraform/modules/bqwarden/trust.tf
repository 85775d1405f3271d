# Audit trust outside the gateway (issue 13): the key that signs checkpoints lives in Cloud KMS,
# the chain head is anchored every second in a bucket the gateway can add to but not rewrite,
# and approval claims are created once in a bucket every instance shares.
#
# The runtime identity may only SIGN with the key (never export it) and only CREATE objects in
# the two buckets: roles/storage.objectCreator has no delete, so it cannot overwrite either, and
# the locked retention policies stop anyone else from deleting or replacing what was written.

variable "audit_signing_algorithm" {
  description = "Cloud KMS algorithm of the checkpoint signing key: EC_SIGN_P256_SHA256 (default; HSM-backed everywhere) or EC_SIGN_ED25519."
  type        = string
  default     = "EC_SIGN_P256_SHA256"
  validation {
    condition     = contains(["EC_SIGN_P256_SHA256", "EC_SIGN_ED25519"], var.audit_signing_algorithm)
    error_message = "audit_signing_algorithm must be EC_SIGN_P256_SHA256 or EC_SIGN_ED25519 (what the gateway and bqwarden verify support)."
  }
}

variable "audit_signing_protection_level" {
  description = "Where the checkpoint signing key lives: HSM (FIPS 140-2 Level 3 Cloud HSM, default) or SOFTWARE."
  type        = string
  default     = "HSM"
  validation {
    condition     = contains(["HSM", "SOFTWARE"], var.audit_signing_protection_level)
    error_message = "audit_signing_protection_level must be HSM or SOFTWARE."
  }
}

variable "anchor_retention_days" {
  description = "Days each anchor object (the chain head, written every second) is kept under the anchor bucket's retention policy; at least as long as the audit data it vouches for."
  type        = number
  default     = 1826
  validation {
    condition     = var.anchor_retention_days >= 365
    error_message = "anchor_retention_days must be at least 365 (PCI DSS 10.5.1)."
  }
}

variable "trust_retention_locked" {
  description = "Lock the retention policies of the anchor and approval-claim buckets. IRREVERSIBLE once applied; false only for a trial deployment."
  type        = bool
  default     = true
}

resource "google_project_service" "kms" {
  count              = var.enable_apis ? 1 : 0
  project            = var.project_id
  service            = "cloudkms.googleapis.com"
  disable_on_destroy = false
}

resource "google_kms_key_ring" "audit" {
  project    = var.project_id
  name       = "${var.name_prefix}-audit"
  location   = var.region
  depends_on = [google_project_service.kms]
}

resource "google_kms_crypto_key" "audit_checkpoints" {
  name     = "audit-checkpoints"
  key_ring = google_kms_key_ring.audit.id
  purpose  = "ASYMMETRIC_SIGN"
  labels   = local.labels

  version_template {
    algorithm        = var.audit_signing_algorithm
    protection_level = var.audit_signing_protection_level
  }

  lifecycle {
    prevent_destroy = true
  }
}

# The first version: its public key is what verifiers pin (output audit_signing_public_key_pem).
data "google_kms_crypto_key_version" "audit_checkpoints" {
  crypto_key = google_kms_crypto_key.audit_checkpoints.id
}

# Sign only, and read the public key (the gateway checks each signature KMS returns).
resource "google_kms_crypto_key_iam_member" "runtime_signer" {
  crypto_key_id = google_kms_crypto_key.audit_checkpoints.id
  role          = "roles/cloudkms.signer"
  member        = google_service_account.runtime.member
}

resource "google_kms_crypto_key_iam_member" "runtime_public_key_viewer" {
  crypto_key_id = google_kms_crypto_key.audit_checkpoints.id
  role          = "roles/cloudkms.publicKeyViewer"
  member        = google_service_account.runtime.member
}

resource "google_storage_bucket" "anchors" {
  project                     = var.project_id
  name                        = "${var.project_id}-${var.name_prefix}-audit-anchors"
  location                    = var.region
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false
  labels                      = local.labels

  retention_policy {
    retention_period = var.anchor_retention_days * 86400
    is_locked        = var.trust_retention_locked
  }

  depends_on = [google_project_service.apis]
}

# Approval claims only need to outlive the approval they consume (7 days at most, plus margin).
resource "google_storage_bucket" "approval_claims" {
  project                     = var.project_id
  name                        = "${var.project_id}-${var.name_prefix}-approval-claims"
  location                    = var.region
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false
  labels                      = local.labels

  retention_policy {
    retention_period = 8 * 86400
    is_locked        = var.trust_retention_locked
  }

  lifecycle_rule {
    condition {
      age = 30
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.apis]
}

# Tool-definition pins (src/pins): each accepted definition of an upstream tool is a new object,
# created once; kept as long as the anchors, since a pin is trusted for as long as it stands.
resource "google_storage_bucket" "tool_pins" {
  project                     = var.project_id
  name                        = "${var.project_id}-${var.name_prefix}-tool-pins"
  location                    = var.region
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false
  labels                      = local.labels

  retention_policy {
    retention_period = var.anchor_retention_days * 86400
    is_locked        = var.trust_retention_locked
  }

  depends_on = [google_project_service.apis]
}

resource "google_storage_bucket_iam_member" "runtime_anchor_creator" {
  bucket = google_storage_bucket.anchors.name
  role   = "roles/storage.objectCreator"
  member = google_service_account.runtime.member
}

resource "google_storage_bucket_iam_member" "runtime_claim_creator" {
  bucket = google_storage_bucket.approval_claims.name
  role   = "roles/storage.objectCreator"
  member = google_service_account.runtime.member
}

# Pins are created once and read back (current pin = highest record); never replaced or deleted.
resource "google_storage_bucket_iam_member" "runtime_pin_creator" {
  bucket = google_storage_bucket.tool_pins.name
  role   = "roles/storage.objectCreator"
  member = google_service_account.runtime.member
}

resource "google_storage_bucket_iam_member" "runtime_pin_viewer" {
  bucket = google_storage_bucket.tool_pins.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.runtime.member
}

# Examiners compare the chain with the anchors (`bqwarden verify --anchors gs://…`).
resource "google_storage_bucket_iam_member" "examiner_anchor_viewer" {
  for_each = toset(var.examiner_members)

  bucket = google_storage_bucket.anchors.name
  role   = "roles/storage.objectViewer"
  member = each.value
}

locals {
  # Gateway config for the pieces above (BQWARDEN__a__b sets a.b); merged into the service's env.
  trust_env = {
    BQWARDEN__audit__kms__keyVersion         = data.google_kms_crypto_key_version.audit_checkpoints.id
    BQWARDEN__audit__anchors__gcs__bucket    = google_storage_bucket.anchors.name
    BQWARDEN__approvals__claims__gcs__bucket = google_storage_bucket.approval_claims.name
    BQWARDEN__toolPins__gcs__bucket          = google_storage_bucket.tool_pins.name
  }
}

output "audit_signing_key_version" {
  description = "Cloud KMS key version that signs audit checkpoints (the gateway's audit.kms.keyVersion)."
  value       = data.google_kms_crypto_key_version.audit_checkpoints.id
}

output "audit_signing_public_key_pem" {
  description = "Public key verifiers pin: `terraform output -raw audit_signing_public_key_pem > kms.pub.pem; bqwarden verify --key kms.pub.pem`."
  value       = data.google_kms_crypto_key_version.audit_checkpoints.public_key[0].pem
}

output "anchor_bucket" {
  description = "Bucket holding the chain-head anchors; compare with `bqwarden verify --anchors gs://<bucket>/anchors/`."
  value       = google_storage_bucket.anchors.name
}

output "approval_claims_bucket" {
  description = "Bucket where each approval is claimed once across all gateway instances."
  value       = google_storage_bucket.approval_claims.name
}

output "tool_pins_bucket" {
  description = "Bucket holding the pinned tool definitions every gateway instance shares."
  value       = google_storage_bucket.tool_pins.name
}
