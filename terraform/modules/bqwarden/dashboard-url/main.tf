# Looker Studio Linking API link for the examiner dashboard: copies the template report and
# rebinds each data source (by alias) to a table of the views dataset. It must equal what
# `bqwarden dashboard-url` prints (src/report/dashboard-url.ts): same aliases, same parameter
# order, same encoding. The aliases come from generated/looker_data_sources.json, which
# `npm run schema` writes from the CLI's own list. This module has no provider and no resource,
# so the test suite evaluates it with the terraform binary and compares the two links.

terraform {
  required_version = ">= 1.5"
}

variable "template_report_id" {
  description = "Looker Studio template report id; empty gives no link (null)."
  type        = string
}

variable "report_name" {
  description = "Name of the report copy the link creates."
  type        = string
}

variable "project_id" {
  description = "Project of the views dataset."
  type        = string
}

variable "dataset_id" {
  description = "Views dataset the data sources are bound to."
  type        = string
}

variable "data_sources" {
  description = "Data sources of the template in link order: alias (as set in the template) and table id in the views dataset."
  type = list(object({
    alias    = string
    table_id = string
  }))
}

locals {
  # urlencode is Go's QueryEscape: for the identifier characters allowed here (letters, digits,
  # _ . : -) and spaces it encodes exactly like the CLI's URLSearchParams.
  params = concat(
    ["c.reportId=${urlencode(var.template_report_id)}", "r.reportName=${urlencode(var.report_name)}"],
    flatten([for ds in var.data_sources : [
      "ds.${ds.alias}.connector=bigQuery",
      "ds.${ds.alias}.type=TABLE",
      "ds.${ds.alias}.projectId=${urlencode(var.project_id)}",
      "ds.${ds.alias}.datasetId=${urlencode(var.dataset_id)}",
      "ds.${ds.alias}.tableId=${urlencode(ds.table_id)}",
    ]]),
  )
}

output "url" {
  description = "The link, or null without a template report id."
  value       = var.template_report_id == "" ? null : "https://lookerstudio.google.com/reporting/create?${join("&", local.params)}"
}
