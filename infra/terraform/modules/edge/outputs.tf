output "worker_name" {
  description = "Name of the deployed Worker script."
  value       = cloudflare_workers_script.edge.script_name
}

output "d1_database_id" {
  description = "ID of the D1 database; put it in edge/wrangler.toml (database_id) so `wrangler d1 migrations apply --remote` targets it."
  value       = cloudflare_d1_database.main.id
}

output "d1_database_name" {
  description = "Name of the D1 database."
  value       = cloudflare_d1_database.main.name
}

output "graphql_url" {
  description = "Public GraphQL endpoint."
  value       = "https://${var.hostname}/graphql"
}

output "dashboard_url" {
  description = "Public dashboard URL."
  value       = "https://${var.hostname}/dashboard"
}

output "bundle_sha256" {
  description = "sha256 of the deployed Worker entry module (matches worker-manifest.json)."
  value       = cloudflare_workers_script.edge.content_sha256
}
