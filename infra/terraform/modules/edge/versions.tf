terraform {
  # use_lockfile in the S3 backend needs 1.10.
  required_version = ">= 1.10"

  required_providers {
    cloudflare = {
      source = "cloudflare/cloudflare"
      # Exact: a provider upgrade is a reviewed change (infra/terraform/schema is regenerated with it).
      version = "5.14.0"
    }
  }
}
