terraform {
  # use_lockfile (S3-native state locking, backend.tf.example) needs 1.10.
  required_version = ">= 1.10"

  required_providers {
    # Exact versions: an upgrade is a reviewed change, with infra/terraform/schema regenerated and
    # .terraform.lock.hcl committed from `terraform providers lock` (docs/DEPLOY.md).
    aws = {
      source  = "hashicorp/aws"
      version = "6.25.0"
    }
    cloudflare = {
      source  = "cloudflare/cloudflare"
      version = "5.14.0"
    }
  }

  # Remote state holds the Worker secrets: the S3 backend of backend.tf.example (versioned,
  # KMS-encrypted, locked), set up as docs/DEPLOY.md describes.
}

provider "aws" {
  region = var.aws_region
}

# Reads CLOUDFLARE_API_TOKEN from the environment.
provider "cloudflare" {}
