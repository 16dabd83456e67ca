# Production wiring: the GPU fleet on AWS, D1 and the API's domain on Cloudflare, the GPU hostname
# and its certificate in the Cloudflare zone. The Worker itself is deployed by
# edge/scripts/deploy-worker.ts from the `edge_deploy` output (modules/edge/main.tf says why). The
# secrets live in AWS Secrets Manager (created once by hand, docs/DEPLOY.md): the instances read the
# upstream token at boot, deploy-worker reads both for the Worker's secrets.

data "aws_secretsmanager_secret" "upstream_token" {
  name = var.upstream_token_secret_name
}

# Only while a token rotation is under way (docs/DEPLOY.md, "Rotate the upstream token").
data "aws_secretsmanager_secret" "upstream_token_next" {
  count = var.upstream_token_next_secret_name == null ? 0 : 1
  name  = var.upstream_token_next_secret_name
}

# Token values enter Terraform (and its state) only for Triton, whose tokens the ALB checks. With
# gpu-service the instances and deploy-worker read them from Secrets Manager themselves.
data "aws_secretsmanager_secret_version" "upstream_tokens" {
  for_each  = var.gpu_runtime == "triton" ? { for i, s in concat(data.aws_secretsmanager_secret.upstream_token[*].id, data.aws_secretsmanager_secret.upstream_token_next[*].id) : tostring(i) => s } : {}
  secret_id = each.value
}

# Only Cloudflare's egress ranges (where Workers' subrequests come from) may reach the ALB. Any
# Cloudflare customer's Worker comes from them too: the upstream token, not this rule, keeps those out.
data "cloudflare_ip_ranges" "cloudflare" {}

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
  bundle_sha256                  = var.bundle_sha256
  min_size                       = var.gpu_min_size
  max_size                       = var.gpu_max_size
  upstream_token_secret_arn      = data.aws_secretsmanager_secret.upstream_token.arn
  upstream_token_next_secret_arn = one(data.aws_secretsmanager_secret.upstream_token_next[*].arn)
  alb_bearer_tokens              = [for v in values(data.aws_secretsmanager_secret_version.upstream_tokens) : v.secret_string]
  hostname                       = var.gpu_hostname
  cloudflare_zone_id             = var.cloudflare_zone_id
  ingress_cidrs                  = data.cloudflare_ip_ranges.cloudflare.ipv4_cidrs
  ingress_ipv6_cidrs             = data.cloudflare_ip_ranges.cloudflare.ipv6_cidrs
  alarm_actions                  = var.alarm_actions
  client_ca_bundle_s3_uri        = var.upstream_client_ca_bundle_s3_uri

  gpu_env = {
    GPU_MAX_BATCH_SIZE     = "256"
    GPU_MAX_QUEUE_DELAY_US = "2000"
    GPU_LOG_LEVEL          = "info"
  }

  tags = { Environment = "prod" }
}

module "edge" {
  source = "../../modules/edge"

  account_id = var.cloudflare_account_id
  zone_id    = var.cloudflare_zone_id
  hostname   = var.api_hostname
  rate_limit = var.rate_limit
}

check "worker_token_is_accepted" {
  assert {
    condition     = !var.worker_uses_next_token || var.upstream_token_next_secret_name != null
    error_message = "worker_uses_next_token = true needs upstream_token_next_secret_name: the Worker would send a token the fleet does not accept."
  }
}
