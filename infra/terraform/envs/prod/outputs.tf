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
