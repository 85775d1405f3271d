terraform {
  # 1.11: write-only arguments (secret_data_wo) with ephemeral resources, so the keys this
  # module generates never appear in a plan or in the state.
  required_version = ">= 1.11.0"

  required_providers {
    google = {
      source = "hashicorp/google"
      # 6.31: the floor that matches what the module uses (same as google-beta below).
      version = ">= 6.31.0, < 7.0.0"
    }
    google-beta = {
      source = "hashicorp/google-beta"
      # 6.31: google_cloud_run_v2_service.iap_enabled (direct IAP on Cloud Run).
      version = ">= 6.31.0, < 7.0.0"
    }
    random = {
      source = "hashicorp/random"
      # 3.7: ephemeral "random_password".
      version = ">= 3.7.0, < 4.0.0"
    }
    tls = {
      source = "hashicorp/tls"
      # 4.1: ephemeral "tls_private_key".
      version = ">= 4.1.0, < 5.0.0"
    }
  }

  provider_meta "google" {
    module_name = "blueprints/terraform/terraform-google-bqwarden/v0.1.0"
  }
}
