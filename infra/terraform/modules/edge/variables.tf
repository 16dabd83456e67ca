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

variable "migrate_durable_objects_from" {
  description = "Durable Object migration tag the deployed Worker has now. \"\" for the first deploy (no script yet: every [[migrations]] entry of edge/wrangler.toml is applied); null for every later apply (nothing is sent); a tag such as \"v2\" to apply the entries after it, once, when wrangler.toml gains a migration. Set it back to null after that apply: Cloudflare refuses a migration that does not start at the script's current tag."
  type        = string
  default     = null
}

variable "bundle_dir" {
  description = "Folder written by `node --import tsx edge/scripts/build-worker.ts` (wrangler deploy --dry-run --outdir); must contain worker-manifest.json and the modules it lists."
  type        = string
}

variable "d1_database_name" {
  description = "Name of the D1 database (datasets, eval runs, predictions, API keys). Must match database_name in edge/wrangler.toml so `wrangler d1 migrations apply --remote` finds it."
  type        = string
  default     = "intentql"
}

variable "d1_binding" {
  description = "Binding name the Worker code uses for D1 (env.<name>)."
  type        = string
  default     = "DB"
}

variable "upstream_url" {
  description = "Base URL of the V2 inference upstream (the gpu module's ALB, or a Triton server), e.g. https://gpu.example.com. Overrides UPSTREAM_URL from edge/wrangler.toml [vars]."
  type        = string

  validation {
    condition     = can(regex("^https://", var.upstream_url))
    error_message = "upstream_url must use https:// (the bearer token travels in it)."
  }
}

variable "upstream_model" {
  description = "Model name the Worker sends to /v2/models/{name}/infer (the bundle name, and the Triton model folder name); the Worker's MODEL var."
  type        = string
  default     = "massive-scratch"
}

variable "cors_origins" {
  description = "Browser origins allowed to call the API with CORS (the Worker's CORS_ORIGINS), e.g. [\"https://app.example.com\"]. Server-to-server callers need none: pass []. \"*\" is refused."
  type        = list(string)

  validation {
    condition     = alltrue([for o in var.cors_origins : can(regex("^https://[a-z0-9.-]+(:[0-9]+)?$", o))])
    error_message = "cors_origins must be https:// origins (scheme, host, optional port; no path, no \"*\")."
  }
}

variable "introspection" {
  description = "Whether GraphQL introspection is on (the Worker's INTROSPECTION). Off in production: the schema is published in schema/schema.graphql for clients."
  type        = bool
  default     = false
}

variable "plain_text_vars" {
  description = "Plain-text variables overriding the [vars] of edge/wrangler.toml (name => value), e.g. { TEXT_QUOTA_PER_SECOND = \"500\" }. UPSTREAM_URL, MODEL, CORS_ORIGINS, INTROSPECTION and ENVIRONMENT come from their own inputs and win. Never put secrets here."
  type        = map(string)
  default     = {}
}

variable "api_key_pepper" {
  description = "Secret pepper mixed into API-key hashes (Worker secret API_KEY_PEPPER). Supply through TF_VAR_api_key_pepper or a secrets-manager data source; never commit it."
  type        = string
  sensitive   = true

  validation {
    condition     = length(var.api_key_pepper) >= 32
    error_message = "api_key_pepper must be at least 32 characters."
  }
}

variable "upstream_token" {
  description = "Bearer token the Worker sends to the upstream (Worker secret UPSTREAM_TOKEN); gpu-service checks it as INTENTQL_UPSTREAM_TOKEN."
  type        = string
  sensitive   = true

  validation {
    condition     = length(var.upstream_token) >= 32
    error_message = "upstream_token must be at least 32 characters."
  }
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

variable "rate_limit_namespace_ids" {
  description = "Rate Limiting namespaces (integers unique in the Cloudflare account) for requests per API key and per client IP; edge/wrangler.toml uses 1001 and 1002."
  type = object({
    key_requests  = string
    anon_requests = string
  })
  default = {
    key_requests  = "1001"
    anon_requests = "1002"
  }
}

variable "rate_limit_period_s" {
  description = "Window of both Rate Limiting bindings in seconds (10 or 60); also the Retry-After of their 429s."
  type        = number
  default     = 10
  validation {
    condition     = contains([10, 60], var.rate_limit_period_s)
    error_message = "Cloudflare's Rate Limiting binding accepts a period of 10 or 60 seconds."
  }
}

variable "key_requests_per_period" {
  description = "Requests one API key may make per period in one Cloudflare location (texts per key are limited separately by TEXT_QUOTA_PER_SECOND / TEXT_QUOTA_BURST)."
  type        = number
  default     = 500
}

variable "anon_requests_per_period" {
  description = "Requests without a valid key (and key lookups that miss the per-isolate cache) one client IP may make per period in one location."
  type        = number
  default     = 50
}
