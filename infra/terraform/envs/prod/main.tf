# Production wiring: the GPU fleet on AWS, the Worker + D1 on Cloudflare. The two secrets live in AWS
# Secrets Manager (created once by hand, see docs/DEPLOY.md); the instances read the upstream token at
# boot and Terraform copies both into Worker secrets.

data "aws_secretsmanager_secret" "upstream_token" {
  name = var.upstream_token_secret_name
}

data "aws_secretsmanager_secret_version" "upstream_token" {
  secret_id = data.aws_secretsmanager_secret.upstream_token.id
}

data "aws_secretsmanager_secret_version" "api_key_pepper" {
  secret_id = var.api_key_pepper_secret_name
}

# Only Cloudflare's egress ranges (where Workers' subrequests come from) may reach the ALB.
data "cloudflare_ip_ranges" "cloudflare" {}

module "gpu" {
  source = "../../modules/gpu"

  name                      = "intentql-gpu"
  vpc_id                    = var.vpc_id
  public_subnet_ids         = var.public_subnet_ids
  private_subnet_ids        = var.private_subnet_ids
  instance_type             = var.gpu_instance_type
  image                     = var.gpu_image
  bundle_s3_uri             = var.bundle_s3_uri
  bundle_name               = var.bundle_name
  min_size                  = var.gpu_min_size
  max_size                  = var.gpu_max_size
  upstream_token_secret_arn = data.aws_secretsmanager_secret.upstream_token.arn
  certificate_arn           = var.gpu_certificate_arn
  route53_zone_id           = var.route53_zone_id
  hostname                  = var.gpu_hostname
  ingress_cidrs             = data.cloudflare_ip_ranges.cloudflare.ipv4_cidrs
  ingress_ipv6_cidrs        = data.cloudflare_ip_ranges.cloudflare.ipv6_cidrs

  gpu_env = {
    GPU_MAX_BATCH_SIZE     = "256"
    GPU_MAX_QUEUE_DELAY_US = "2000"
    GPU_LOG_LEVEL          = "info"
  }

  tags = { Environment = "prod" }
}

module "edge" {
  source = "../../modules/edge"

  account_id     = var.cloudflare_account_id
  zone_id        = var.cloudflare_zone_id
  hostname       = var.api_hostname
  bundle_dir     = abspath("${path.root}/${var.worker_bundle_dir}")
  upstream_url   = "https://${var.gpu_hostname}"
  upstream_model = var.bundle_name
  api_key_pepper = data.aws_secretsmanager_secret_version.api_key_pepper.secret_string
  upstream_token = data.aws_secretsmanager_secret_version.upstream_token.secret_string
  rate_limit     = var.rate_limit
}
