output "graphql_url" {
  description = "Public GraphQL endpoint."
  value       = module.edge.graphql_url
}

output "dashboard_url" {
  description = "Public dashboard."
  value       = module.edge.dashboard_url
}

output "d1_database_id" {
  description = "D1 database ID (npm run deploy:edge reads it from edge_deploy; edge/wrangler.toml keeps a placeholder)."
  value       = module.edge.d1_database_id
}

output "upstream_url" {
  description = "GPU upstream URL the Worker calls (the same value its UPSTREAM_URL holds)."
  value       = module.gpu.upstream_url
}

output "worker_name" {
  description = "Name of the Worker (edge/wrangler.toml's name), for wrangler tail / rollback."
  value       = module.edge.worker_name
}

output "alarm_topic_arn" {
  description = "SNS topic of the GPU alarms: subscribe the on-call to it."
  value       = module.gpu.alarm_topic_arn
}

output "gpu_autoscaling_group" {
  description = "GPU autoscaling group name (instance refresh target)."
  value       = module.gpu.autoscaling_group_name
}

# Everything edge/scripts/deploy-worker.ts needs to deploy the Worker against this infrastructure:
# the one source of its upstream URL, D1 database and production settings. Secret *names* only.
output "edge_deploy" {
  description = "Input of edge/scripts/deploy-worker.ts (wrangler deploy): Worker name, D1, upstream, production vars, and the Secrets Manager secrets its two Worker secrets come from."
  value = {
    account_id            = var.cloudflare_account_id
    worker_name           = module.edge.worker_name
    d1_database_name      = module.edge.d1_database_name
    d1_database_id        = module.edge.d1_database_id
    upstream_url          = module.gpu.upstream_url
    model                 = var.bundle_name
    cors_origins          = var.cors_origins
    introspection         = false
    aws_region            = var.aws_region
    upstream_token_secret = var.worker_uses_next_token ? var.upstream_token_next_secret_name : var.upstream_token_secret_name
    api_key_pepper_secret = var.api_key_pepper_secret_name
    # "" = no client certificate (then the fleet has no trust store either: variables.tf)
    upstream_mtls_certificate_id = var.upstream_mtls_certificate_id
  }
}
