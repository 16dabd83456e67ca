terraform {
  required_version = ">= 1.6"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.70"
    }
    cloudflare = {
      source  = "cloudflare/cloudflare"
      version = "~> 5.8"
    }
  }

  # Remote state is left to you (it holds the Worker secrets: use an encrypted, access-controlled
  # backend). See backend.tf.example.
}

provider "aws" {
  region = var.aws_region
}

# Reads CLOUDFLARE_API_TOKEN from the environment.
provider "cloudflare" {}
