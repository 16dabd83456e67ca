output "worker_name" {
  description = "Name of the Worker the custom domain serves (deployed by wrangler)."
  value       = var.worker_name
}

output "d1_database_id" {
  description = "ID of the D1 database: edge/scripts/deploy-worker.ts writes it into the deploy config and `wrangler d1 migrations apply --remote` targets it."
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
