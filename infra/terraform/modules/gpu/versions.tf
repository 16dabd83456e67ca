terraform {
  # use_lockfile in the S3 backend needs 1.10.
  required_version = ">= 1.10"

  required_providers {
    # Exact versions: an upgrade is a reviewed change, with infra/terraform/schema regenerated.
    aws = {
      source  = "hashicorp/aws"
      version = "6.25.0"
    }
    cloudflare = {
      source  = "cloudflare/cloudflare"
      version = "5.14.0"
    }
  }
}
