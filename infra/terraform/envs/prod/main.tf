# Production wiring: the GPU fleet on AWS, the Worker + D1 on Cloudflare, the GPU hostname and its
# certificate in the Cloudflare zone. The two secrets live in AWS Secrets Manager (created once by
# hand, docs/DEPLOY.md); the instances read the upstream token at boot and Terraform copies both into
# Worker secrets.

data "aws_secretsmanager_secret" "upstream_token" {
  name = var.upstream_token_secret_name
}

data "aws_secretsmanager_secret_version" "upstream_token" {
  secret_id = data.aws_secretsmanager_secret.upstream_token.id
}

# Only while a token rotation is under way (docs/DEPLOY.md, "Rotate the upstream token").
data "aws_secretsmanager_secret" "upstream_token_next" {
  count = var.upstream_token_next_secret_name == null ? 0 : 1
  name  = var.upstream_token_next_secret_name
}

data "aws_secretsmanager_secret_version" "upstream_token_next" {
  count     = var.upstream_token_next_secret_name == null ? 0 : 1
  secret_id = data.aws_secretsmanager_secret.upstream_token_next[0].id
}

data "aws_secretsmanager_secret_version" "api_key_pepper" {
  secret_id = var.api_key_pepper_secret_name
}

# Only Cloudflare's egress ranges (where Workers' subrequests come from) may reach the ALB.
data "cloudflare_ip_ranges" "cloudflare" {}

locals {
  current_token = data.aws_secretsmanager_secret_version.upstream_token.secret_string
  next_token    = one(data.aws_secretsmanager_secret_version.upstream_token_next[*].secret_string)
  # Every token the fleet accepts right now; the Worker sends the next one only once the fleet takes it.
  accepted_tokens = compact([local.current_token, local.next_token])
  worker_token    = var.worker_uses_next_token ? local.next_token : local.current_token
}

module "gpu" {
  source = "../../modules/gpu"

  name                           = "intentql-gpu"
  vpc_id                         = var.vpc_id
  public_subnet_ids              = var.public_subnet_ids
  private_subnet_ids             = var.private_subnet_ids
  instance_type                  = var.gpu_instance_type
  ami_id                         = var.gpu_ami_id
  runtime                        = var.gpu_runtime
  image                          = var.gpu_image
  bundle_s3_uri                  = var.bundle_s3_uri
  bundle_name                    = var.bundle_name
  min_size                       = var.gpu_min_size
  max_size                       = var.gpu_max_size
  upstream_token_secret_arn      = data.aws_secretsmanager_secret.upstream_token.arn
  upstream_token_next_secret_arn = one(data.aws_secretsmanager_secret.upstream_token_next[*].arn)
  alb_bearer_tokens              = var.gpu_runtime == "triton" ? local.accepted_tokens : []
  hostname                       = var.gpu_hostname
  cloudflare_zone_id             = var.cloudflare_zone_id
  ingress_cidrs                  = data.cloudflare_ip_ranges.cloudflare.ipv4_cidrs
  ingress_ipv6_cidrs             = data.cloudflare_ip_ranges.cloudflare.ipv6_cidrs
  alarm_actions                  = var.alarm_actions

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
  upstream_url   = module.gpu.upstream_url
  upstream_model = var.bundle_name
  api_key_pepper = data.aws_secretsmanager_secret_version.api_key_pepper.secret_string
  upstream_token = local.worker_token
  cors_origins   = var.cors_origins
  introspection  = false
  rate_limit     = var.rate_limit

  migrate_durable_objects_from = var.migrate_durable_objects_from
}

check "worker_token_is_accepted" {
  assert {
    condition     = !var.worker_uses_next_token || local.next_token != null
    error_message = "worker_uses_next_token = true needs upstream_token_next_secret_name: the Worker would send a token the fleet does not accept."
  }
}
