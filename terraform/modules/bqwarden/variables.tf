variable "project_id" {
  description = "Project that hosts the gateway, the audit pipeline and the audit dataset."
  type        = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a valid Google Cloud project id."
  }
}

variable "region" {
  description = "Region for Cloud Run, Pub/Sub message storage and the archive bucket."
  type        = string
  default     = "us-central1"
}

variable "name_prefix" {
  description = "Prefix for every resource name (service accounts, topics, bucket, service)."
  type        = string
  default     = "bqwarden"
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,14}$", var.name_prefix))
    error_message = "name_prefix: lower-case letters, digits and dashes, 2-15 characters, starting with a letter."
  }
}

variable "enable_apis" {
  description = "Enable the Google APIs the module needs (run, pubsub, bigquery, secretmanager, storage, iap)."
  type        = bool
  default     = true
}

variable "gateway_image" {
  description = "bqwarden gateway container image (built from this repo's Dockerfile), pinned by tag or digest."
  type        = string
}

variable "toolbox_image" {
  description = "MCP Toolbox for Databases image run as the sidecar that executes SQL (listens on localhost only)."
  type        = string
  default     = "us-central1-docker.pkg.dev/database-toolbox/toolbox/toolbox:1.12.0"
}

variable "toolbox_port" {
  description = "Port the toolbox sidecar listens on, on 127.0.0.1 inside the instance."
  type        = number
  default     = 5000
  validation {
    condition     = var.toolbox_port > 1024 && var.toolbox_port < 65536 && var.toolbox_port != 8080
    error_message = "toolbox_port must be an unprivileged port other than the ingress port 8080."
  }
}

variable "allowed_datasets" {
  description = "Datasets (ids in project_id) the agents may query through the gateway: the only data the service identity can read."
  type        = list(string)
  default     = []
}

variable "bigquery_location" {
  description = "Location of the audit and views datasets (US, EU or a region)."
  type        = string
  default     = "US"
}

variable "audit_dataset_id" {
  description = "Dataset that holds the raw audit table (written only by the Pub/Sub service agent)."
  type        = string
  default     = "bqwarden_audit"
}

variable "views_dataset_id" {
  description = "Dataset of authorized views (dedup view, examiner dashboards) that examiners may read."
  type        = string
  default     = "bqwarden_audit_views"
}

variable "audit_table_id" {
  description = "Raw audit table name."
  type        = string
  default     = "events"
}

variable "audit_retention_days" {
  description = "Days an audit partition is kept before BigQuery expires it. PCI DSS 10.5.1 needs at least 365 (12 months); BSA record keeping needs 5 years (1826 days, the default)."
  type        = number
  default     = 1826
  validation {
    condition     = var.audit_retention_days >= 365
    error_message = "audit_retention_days must be at least 365 (PCI DSS 10.5.1: retain audit logs for at least 12 months)."
  }
}

variable "archive_retention_days" {
  description = "Days each object in the write-once archive bucket is retained (locked retention policy)."
  type        = number
  default     = 1826
  validation {
    condition     = var.archive_retention_days >= 365
    error_message = "archive_retention_days must be at least 365 (PCI DSS 10.5.1)."
  }
}

variable "archive_retention_locked" {
  description = "Lock the archive bucket's retention policy. IRREVERSIBLE: once locked, neither the policy nor the objects can be removed before they age out. Set false only for a trial deployment."
  type        = bool
  default     = true
}

variable "deletion_protection" {
  description = "Protect the audit table, datasets and Cloud Run service from terraform destroy."
  type        = bool
  default     = true
}

variable "examiner_members" {
  description = "Principals (e.g. group:examiners@bank.example) that may read the authorized views, never the raw table."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for m in var.examiner_members : !contains(["allUsers", "allAuthenticatedUsers"], m)])
    error_message = "examiner_members must name principals; allUsers / allAuthenticatedUsers are not allowed."
  }
}

variable "invoker_members" {
  description = "Principals granted roles/run.invoker on the gateway (used when IAP is off). Public principals are refused."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for m in var.invoker_members : !contains(["allUsers", "allAuthenticatedUsers"], m)])
    error_message = "invoker_members must not contain allUsers or allAuthenticatedUsers: turn on iap_enabled to put the gateway on the internet behind IAP."
  }
}

variable "iap_enabled" {
  description = "Put Identity-Aware Proxy in front of the Cloud Run service (the gateway then also accepts IAP identities)."
  type        = bool
  default     = false
}

variable "iap_members" {
  description = "Principals allowed through IAP (roles/iap.httpsResourceAccessor) when iap_enabled is true."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for m in var.iap_members : !contains(["allUsers", "allAuthenticatedUsers"], m)])
    error_message = "iap_members must name principals, not allUsers / allAuthenticatedUsers."
  }
}

variable "ingress" {
  description = "Cloud Run ingress. Default INGRESS_TRAFFIC_ALL: Cloud Run IAM (invoker_members) or IAP authenticates every request. INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER only with your own external HTTPS load balancer (serverless NEG, Cloud Armor) in front; then set public_url."
  type        = string
  default     = "INGRESS_TRAFFIC_ALL"
  validation {
    condition     = contains(["INGRESS_TRAFFIC_ALL", "INGRESS_TRAFFIC_INTERNAL_ONLY", "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"], var.ingress)
    error_message = "ingress must be one of INGRESS_TRAFFIC_ALL, INGRESS_TRAFFIC_INTERNAL_ONLY, INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER."
  }
}

variable "public_url" {
  description = "Base URL clients use (https://…, no path) when the gateway sits behind your own load balancer or domain. Default: the service's Cloud Run URL. The MCP resource (token audience) is <public_url>/mcp."
  type        = string
  default     = null
  validation {
    condition     = var.public_url == null || can(regex("^https://[^/]+$", var.public_url))
    error_message = "public_url must be an https origin without a path, e.g. https://bqwarden.bank.example."
  }
}

variable "oidc_issuers" {
  description = "OIDC issuers (the bank's IdP: Entra ID, Okta, …) whose access tokens the gateway accepts. audiences default to the MCP resource URL; groups_claim names the claim that carries groups (roles map groups in policy)."
  type = list(object({
    issuer       = string
    audiences    = optional(list(string))
    groups_claim = optional(string, "groups")
    email_claim  = optional(string, "email")
  }))
  default = []
  validation {
    condition     = alltrue([for i in var.oidc_issuers : can(regex("^https://", i.issuer))])
    error_message = "Every oidc_issuers[].issuer must be an https URL."
  }
}

variable "google_id_token_audiences" {
  description = "Extra audiences accepted on Google ID tokens (when IAP is off), besides the gateway URL itself: e.g. an OAuth client id your agents request tokens for."
  type        = list(string)
  default     = []
}

variable "accept_gcloud_user_tokens" {
  description = "Also accept user ID tokens minted by `gcloud auth print-identity-token` (audience: gcloud's own OAuth client id). Convenient for a first call from a laptop; such a token is valid for any service that accepts that audience, so prefer an OIDC issuer or service-account tokens in production."
  type        = bool
  default     = false
}

variable "google_hosted_domains" {
  description = "When set, Google ID tokens must come from one of these Workspace domains (the hd claim)."
  type        = list(string)
  default     = []
}

variable "writable_datasets" {
  description = "Datasets that statements released by an approver may change. Non-empty creates the writer service account (dataEditor on these only) and the credential-less writer Toolbox sidecar; empty means approved writes fail in BigQuery (the read identity cannot write)."
  type        = list(string)
  default     = []
}

variable "toolbox_writer_port" {
  description = "Port of the writer Toolbox sidecar on 127.0.0.1."
  type        = number
  default     = 5001
  validation {
    condition     = var.toolbox_writer_port > 1024 && var.toolbox_writer_port < 65536 && var.toolbox_writer_port != 8080
    error_message = "toolbox_writer_port must be an unprivileged port other than the ingress port 8080."
  }
}

variable "policy_dir" {
  description = "Local directory with the gateway policy (*.yaml, optional catalog/). When set, it is uploaded to a versioned bucket the service mounts at /policy, and each change rolls out as a new revision. Default null: the rules/ baked into the image (the demo policy)."
  type        = string
  default     = null
}

variable "bigquery_catalog" {
  description = "Let the gateway read table schemas and policy tags from INFORMATION_SCHEMA.COLUMN_FIELD_PATHS of the datasets a statement names, so policy classifies columns by their BigQuery policy tags."
  type        = bool
  default     = true
}

variable "manage_secret_versions" {
  description = "Generate the audit signing key and the pseudonymisation key in the apply (ephemeral, write-only: never in plan or state) and store them as secret versions. false: add the versions yourself before the service is created."
  type        = bool
  default     = true
}

variable "signing_key_generation" {
  description = "Increase to rotate the audit signing key (a new secret version and a new revision). Keep the old public key to verify older checkpoints."
  type        = number
  default     = 1
}

variable "pseudonymise_key_generation" {
  description = "Increase to rotate the pseudonymisation key. Pseudonyms change with the key, so joins across the rotation no longer match."
  type        = number
  default     = 1
}

variable "session_key_generation" {
  description = "Increase to rotate the MCP session key. Open sessions then start over with a new initialize (clients do this on 404)."
  type        = number
  default     = 1
}

variable "alert_notification_channels" {
  description = "Monitoring notification channels (projects/<p>/notificationChannels/<id>) for the audit pipeline alerts."
  type        = list(string)
  default     = []
}

variable "backlog_alert_seconds" {
  description = "Alert when the oldest unacknowledged audit message on the BigQuery or archive subscription is older than this."
  type        = number
  default     = 600
}

variable "min_instances" {
  description = "Minimum Cloud Run instances (1 avoids cold starts on the audit path)."
  type        = number
  default     = 1
}

variable "max_instances" {
  description = "Maximum Cloud Run instances."
  type        = number
  default     = 10
  validation {
    condition     = var.max_instances >= 1 && var.max_instances <= 1000
    error_message = "max_instances must be between 1 and 1000."
  }
}

variable "gateway_env" {
  description = "Extra non-secret gateway config (BQWARDEN__section__key = value, e.g. BQWARDEN__identity__google__idTokens). Secrets go through Secret Manager, never here: a name whose last segment names a secret value (…key, …token, …secret, …password, …credential) and a value holding a private key are refused."
  type        = map(string)
  default     = {}
  validation {
    condition     = alltrue([for k in keys(var.gateway_env) : length(regexall("(?i)(secret|password|passwd|private_?key|api_?key|key|token|credentials?)$", element(split("__", k), length(split("__", k)) - 1))) == 0])
    error_message = "gateway_env must not carry secrets (a name ending in key, token, secret, password or credential): mount them from Secret Manager and pass the file path (…File)."
  }
  validation {
    condition     = alltrue([for v in values(var.gateway_env) : length(regexall("PRIVATE KEY|\"private_key\"", v)) == 0])
    error_message = "gateway_env values must not contain private keys."
  }
}

variable "dashboard_views_dir" {
  description = "Directory of *.sql view templates (placeholders $${project}, $${dataset}, $${table}) deployed into the views dataset; default: the repo's dashboards/views."
  type        = string
  default     = null
}

variable "looker_template_report_id" {
  description = "Looker Studio template report id for the examiner dashboard link output (empty: no link)."
  type        = string
  default     = ""
}

variable "labels" {
  description = "Labels applied to every resource that supports them."
  type        = map(string)
  default     = {}
}
