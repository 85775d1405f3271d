# A deployment into one (possibly empty) project: the gateway image you pushed, one dataset
# agents may read and one that approved statements may change, people calling from laptops
# through Cloud Run IAM with their gcloud identity. docs/gcp.md walks through it.

variable "project_id" {
  description = "Project to deploy bqwarden into."
  type        = string
}

variable "gateway_image" {
  description = "Gateway image, e.g. us-central1-docker.pkg.dev/<project>/bqwarden/gateway:0.1.0"
  type        = string
}

variable "region" {
  description = "Region for Cloud Run, Pub/Sub and the archive."
  type        = string
  default     = "us-central1"
}

variable "invoker_members" {
  description = "Who may call the gateway, e.g. [\"user:alice@bank.example\", \"group:data-agents@bank.example\"]."
  type        = list(string)
}

variable "examiner_members" {
  description = "Who may read the examiner views, e.g. [\"group:ffiec-examiners@bank.example\"]."
  type        = list(string)
  default     = []
}

variable "trial" {
  description = "A trial deployment: the archive's retention is not locked and everything can be destroyed. Never in production."
  type        = bool
  default     = false
}

variable "policy_dir" {
  description = "Directory with the production policy (see docs/gcp.md); null uses the demo policy baked into the image."
  type        = string
  default     = null
}

provider "google" {
  project = var.project_id
  region  = var.region
}

provider "google-beta" {
  project = var.project_id
  region  = var.region
}

module "bqwarden" {
  source = "../../modules/bqwarden"

  project_id        = var.project_id
  region            = var.region
  gateway_image     = var.gateway_image
  allowed_datasets  = ["bank_analytics"]
  writable_datasets = ["bank_staging"]
  policy_dir        = var.policy_dir

  invoker_members  = var.invoker_members
  examiner_members = var.examiner_members

  # First call from a laptop: `gcloud auth print-identity-token` (see the variable's caveat).
  accept_gcloud_user_tokens = true
  google_hosted_domains     = []

  # A locked retention policy cannot be undone: trials keep it unlocked and allow destroy.
  archive_retention_locked = !var.trial
  deletion_protection      = !var.trial
}

output "gateway_url" {
  description = "Gateway URL."
  value       = module.bqwarden.gateway_url
}

output "mcp_url" {
  description = "MCP endpoint for clients."
  value       = module.bqwarden.mcp_url
}

output "audit_table" {
  description = "Audit table for `bqwarden verify --bigquery`."
  value       = module.bqwarden.audit_table
}

output "signing_key_secret" {
  description = "Secret holding the audit signing key."
  value       = module.bqwarden.signing_key_secret
}
