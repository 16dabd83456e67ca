variable "account_id" {
  description = "Cloudflare account ID that owns the Worker and the D1 database."
  type        = string
}

variable "zone_id" {
  description = "Cloudflare zone ID of the domain that serves the API (needed for the custom domain, routes and rate limiting)."
  type        = string
}

variable "hostname" {
  description = "Public hostname of the API, e.g. api.example.com. Attached to the Worker as a custom domain (Cloudflare creates the DNS record and certificate)."
  type        = string
}

variable "worker_name" {
  description = "Name of the Worker script (the name in edge/wrangler.toml, which wrangler deploys; npm test keeps the two equal)."
  type        = string
  default     = "intentql-edge"
}

variable "d1_database_name" {
  description = "Name of the D1 database (datasets, eval runs, predictions, API keys). Must match database_name in edge/wrangler.toml so `wrangler d1 migrations apply --remote` finds it."
  type        = string
  default     = "intentql"
}

variable "routes" {
  description = "Extra route patterns (zone routes) sent to the Worker in addition to the custom domain, e.g. [\"example.com/graphql*\"]."
  type        = list(string)
  default     = []
}

variable "rate_limit" {
  description = "Optional Cloudflare rate-limiting rule on the GraphQL path: null disables it. requests_per_period per client IP per period seconds; over it, clients are blocked for mitigation_timeout seconds. Free plans allow period = 10 and mitigation_timeout = 10 only."
  type = object({
    requests_per_period = number
    period              = number
    mitigation_timeout  = number
    path_prefix         = optional(string, "/graphql")
  })
  default = null
}

