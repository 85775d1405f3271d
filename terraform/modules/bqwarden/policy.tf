# Where the gateway's policy comes from. Default: the rules/ directory baked into the image.
# With policy_dir set, the files under it are uploaded to a versioned bucket that the service
# mounts read-only (Cloud Run Cloud Storage volume) at /policy. Every change of a file changes
# policy_digest, which is part of the revision template, so a policy change rolls out as a new
# revision; object versioning keeps every earlier policy, and each audit event records the
# version (hash) of the policy that decided it.

locals {
  policy_from_bucket = var.policy_dir != null
  policy_files       = local.policy_from_bucket ? fileset(var.policy_dir, "**/*.{yaml,yml}") : toset([])
  policy_digest      = sha256(join("\n", [for f in sort(tolist(local.policy_files)) : "${f} ${filesha256("${var.policy_dir}/${f}")}"]))
  policy_mount       = "/policy"
}

resource "google_storage_bucket" "policy" {
  count = local.policy_from_bucket ? 1 : 0

  project                     = var.project_id
  name                        = "${var.project_id}-${var.name_prefix}-policy"
  location                    = var.region
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = !var.deletion_protection
  labels                      = local.labels

  versioning {
    enabled = true
  }

  depends_on = [google_project_service.apis]
}

resource "google_storage_bucket_object" "policy" {
  for_each = local.policy_files

  bucket       = google_storage_bucket.policy[0].name
  name         = each.value
  source       = "${var.policy_dir}/${each.value}"
  content_type = "application/yaml"
}

# Read-only, on the policy bucket only.
resource "google_storage_bucket_iam_member" "runtime_policy_reader" {
  count = local.policy_from_bucket ? 1 : 0

  bucket = google_storage_bucket.policy[0].name
  role   = "roles/storage.objectViewer"
  member = google_service_account.runtime.member
}
