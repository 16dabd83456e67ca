# What Terraform owns on Cloudflare: the D1 database, the Worker's custom domain and routes, and the
# zone's rate-limiting rule. The Worker script itself is deployed by `wrangler deploy`
# (edge/scripts/deploy-worker.ts, fed by this root's `edge_deploy` output), because:
# - the pinned provider (cloudflare 5.14.0) has no `ratelimit` binding type, and the Worker needs
#   KEY_REQUESTS and ANON_REQUESTS;
# - wrangler applies edge/wrangler.toml's Durable Object [[migrations]] from the tag the live script
#   has, once each, where a Terraform resource would send the same migration on every update;
# - edge/wrangler.toml stays the one description of the Worker's bindings, here and in `wrangler dev`.
# So the first deploy runs: D1 (here) -> D1 migrations -> deploy-worker -> the domain (here).

resource "cloudflare_d1_database" "main" {
  account_id = var.account_id
  name       = var.d1_database_name

  read_replication = {
    mode = "disabled"
  }

  lifecycle {
    # Holds every dataset, eval run and API key: never destroyed by a plan.
    prevent_destroy = true
  }
}

resource "cloudflare_workers_custom_domain" "api" {
  account_id = var.account_id
  zone_id    = var.zone_id
  hostname   = var.hostname
  service    = var.worker_name
}

resource "cloudflare_workers_route" "extra" {
  for_each = toset(var.routes)

  zone_id = var.zone_id
  pattern = each.value
  script  = var.worker_name
}

resource "cloudflare_ruleset" "rate_limit" {
  count = var.rate_limit == null ? 0 : 1

  zone_id     = var.zone_id
  name        = "${var.worker_name} rate limit"
  description = "Per-IP rate limit on the IntentQL GraphQL endpoint"
  kind        = "zone"
  phase       = "http_ratelimit"

  rules = [
    {
      description = "Limit GraphQL requests per client IP"
      expression  = "(http.host eq \"${var.hostname}\" and starts_with(http.request.uri.path, \"${var.rate_limit.path_prefix}\"))"
      action      = "block"
      enabled     = true
      ratelimit = {
        characteristics     = ["cf.colo.id", "ip.src"]
        period              = var.rate_limit.period
        requests_per_period = var.rate_limit.requests_per_period
        mitigation_timeout  = var.rate_limit.mitigation_timeout
      }
    },
  ]
}
