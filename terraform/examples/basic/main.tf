# Minimal deployment: one project, the gateway image you pushed, one dataset agents may query.

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

  project_id       = var.project_id
  region           = var.region
  gateway_image    = var.gateway_image
  allowed_datasets = ["bank_analytics"]

  examiner_members = ["group:ffiec-examiners@bank.example"]
  invoker_members  = ["group:data-agents@bank.example"]

  # Trial deployments only: keep the archive unlocked and allow destroy.
  # archive_retention_locked = false
  # deletion_protection      = false
}

output "gateway_url" {
  description = "Gateway URL."
  value       = module.bqwarden.gateway_url
}

output "audit_table" {
  description = "Audit table for `bqwarden verify --bigquery`."
  value       = module.bqwarden.audit_table
}
