output "graphql_url" {
  description = "Public GraphQL endpoint."
  value       = module.edge.graphql_url
}

output "dashboard_url" {
  description = "Public dashboard."
  value       = module.edge.dashboard_url
}

output "d1_database_id" {
  description = "D1 database ID (put it in edge/wrangler.toml before `wrangler d1 migrations apply --remote`)."
  value       = module.edge.d1_database_id
}

output "upstream_url" {
  description = "GPU upstream URL the Worker calls."
  value       = module.gpu.upstream_url
}

output "gpu_autoscaling_group" {
  description = "GPU autoscaling group name (instance refresh target)."
  value       = module.gpu.autoscaling_group_name
}
