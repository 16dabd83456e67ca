locals {
  # Written by edge/scripts/build-worker.ts next to the bundle: the entry module, its sha256 and the
  # compatibility settings read from edge/wrangler.toml, so Terraform deploys exactly what wrangler built.
  manifest    = jsondecode(file("${var.bundle_dir}/worker-manifest.json"))
  main_module = local.manifest.main_module
  # edge/wrangler.toml's name: `wrangler dev`, `wrangler tail` and Terraform all mean the same Worker.
  worker_name = local.manifest.name
  # Durable Object migrations to send with this upload: migrations.tf.

  # [vars] of edge/wrangler.toml (recorded in the manifest), then overrides, then the upstream.
  plain_bindings = [
    for name, value in merge(local.manifest.vars, var.plain_text_vars, {
      UPSTREAM_URL        = var.upstream_url
      MODEL               = var.upstream_model
      RATE_LIMIT_PERIOD_S = tostring(var.rate_limit_period_s)
      # wrangler.toml's development defaults ("*", "on") never reach production.
      CORS_ORIGINS  = join(",", var.cors_origins)
      INTROSPECTION = var.introspection ? "on" : "off"
      ENVIRONMENT   = "production"
    }) : { type = "plain_text", name = name, text = tostring(value) }
  ]
}

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

resource "cloudflare_workers_script" "edge" {
  account_id          = var.account_id
  script_name         = local.worker_name
  main_module         = local.main_module
  content_file        = "${var.bundle_dir}/${local.main_module}"
  content_sha256      = filesha256("${var.bundle_dir}/${local.main_module}")
  compatibility_date  = local.manifest.compatibility_date
  compatibility_flags = local.manifest.compatibility_flags

  bindings = concat(
    [
      {
        type = "d1"
        name = var.d1_binding
        id   = cloudflare_d1_database.main.id
      },
      {
        type = "secret_text"
        name = "API_KEY_PEPPER"
        text = var.api_key_pepper
      },
      {
        type = "secret_text"
        name = "UPSTREAM_TOKEN"
        text = var.upstream_token
      },
      {
        # Eval runs: one EvalRunner Durable Object per run (edge/wrangler.toml).
        type       = "durable_object_namespace"
        name       = "EVAL_RUNNER"
        class_name = "EvalRunnerObject"
      },
      {
        # Texts per API key: one TextQuota Durable Object per key (edge/wrangler.toml).
        type       = "durable_object_namespace"
        name       = "TEXT_QUOTA"
        class_name = "TextQuotaObject"
      },
      {
        # Requests per API key, shared by the isolates of a location (edge/wrangler.toml [[ratelimits]]).
        type         = "ratelimit"
        name         = "KEY_REQUESTS"
        namespace_id = var.rate_limit_namespace_ids.key_requests
        simple       = { limit = var.key_requests_per_period, period = var.rate_limit_period_s }
      },
      {
        # Key-less requests and key-cache misses per client IP.
        type         = "ratelimit"
        name         = "ANON_REQUESTS"
        namespace_id = var.rate_limit_namespace_ids.anon_requests
        simple       = { limit = var.anon_requests_per_period, period = var.rate_limit_period_s }
      },
    ],
    local.plain_bindings,
  )

  migrations = local.migrations

  observability = {
    enabled = true
  }

  lifecycle {
    precondition {
      condition     = local.migrate_from == null || local.migrate_from == "" || contains(local.migration_tags, coalesce(local.migrate_from, "-"))
      error_message = "migrate_durable_objects_from must be null, \"\" (first deploy) or a tag of edge/wrangler.toml's [[migrations]]: ${join(", ", local.migration_tags)}."
    }
  }
}

resource "cloudflare_workers_custom_domain" "api" {
  account_id = var.account_id
  zone_id    = var.zone_id
  hostname   = var.hostname
  service    = cloudflare_workers_script.edge.script_name
}

resource "cloudflare_workers_route" "extra" {
  for_each = toset(var.routes)

  zone_id = var.zone_id
  pattern = each.value
  script  = cloudflare_workers_script.edge.script_name
}

resource "cloudflare_ruleset" "rate_limit" {
  count = var.rate_limit == null ? 0 : 1

  zone_id     = var.zone_id
  name        = "${local.worker_name} rate limit"
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
