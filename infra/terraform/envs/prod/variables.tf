variable "aws_region" {
  description = "AWS region for the GPU fleet (pick one with g4dn capacity close to your users' Cloudflare colos)."
  type        = string
}

variable "cloudflare_account_id" {
  description = "Cloudflare account ID."
  type        = string
}

variable "cloudflare_zone_id" {
  description = "Cloudflare zone ID of the API's domain."
  type        = string
}

variable "api_hostname" {
  description = "Public hostname of the GraphQL API (a Worker custom domain), e.g. api.example.com."
  type        = string
}

variable "vpc_id" {
  description = "VPC for the GPU fleet."
  type        = string
}

variable "public_subnet_ids" {
  description = "Public subnets (two or more AZs) for the ALB."
  type        = list(string)
}

variable "private_subnet_ids" {
  description = "Private subnets with NAT egress (two or more AZs) for the GPU instances."
  type        = list(string)
}

variable "gpu_ami_id" {
  description = "AMI of the GPU instances, pinned by ID (NVIDIA driver >= 580, Docker, NVIDIA container toolkit): see docs/DEPLOY.md, \"Pick the AMI\"."
  type        = string
}

variable "gpu_runtime" {
  description = "\"gpu-service\" (default) or \"triton\" (gpu_image is then a Triton image and bundle_s3_uri a Triton model repository)."
  type        = string
  default     = "gpu-service"
}

variable "gpu_image" {
  description = "gpu-service image reference (ECR repository and tag or digest)."
  type        = string
}

variable "gpu_instance_type" {
  description = "GPU instance type; g4dn.xlarge is one T4."
  type        = string
  default     = "g4dn.xlarge"
}

variable "gpu_min_size" {
  description = "Minimum GPU instances."
  type        = number
  default     = 2
}

variable "gpu_max_size" {
  description = "Maximum GPU instances."
  type        = number
  default     = 6
}

variable "bundle_s3_uri" {
  description = "S3 prefix of the model bundle to serve (trailing slash), or empty to use the bundle baked into the image."
  type        = string
  default     = ""
}

variable "bundle_sha256" {
  description = "sha256 of the bundle's bundle.json at bundle_s3_uri (sha256sum models/massive-scratch/bundle.json); required with bundle_s3_uri."
  type        = string
  default     = ""
}

variable "bundle_name" {
  description = "Bundle name (served as /v2/models/{name})."
  type        = string
  default     = "massive-scratch"
}

variable "gpu_hostname" {
  description = "Hostname of the GPU upstream in the Cloudflare zone, e.g. gpu.example.com: Terraform makes its ACM certificate (validated in Cloudflare) and a DNS-only CNAME to the ALB."
  type        = string
}

variable "upstream_token_secret_name" {
  description = "Name of the Secrets Manager secret holding the upstream bearer token (created before apply, see docs/DEPLOY.md)."
  type        = string
  default     = "intentql/upstream-token"
}

variable "upstream_token_next_secret_name" {
  description = "During a token rotation only: name of the Secrets Manager secret holding the next upstream token. null otherwise."
  type        = string
  default     = null
}

variable "worker_uses_next_token" {
  description = "During a token rotation only, once every GPU instance accepts the next token: the Worker sends the next token instead of the current one."
  type        = bool
  default     = false
}

variable "cors_origins" {
  description = "Browser origins allowed by CORS (the Worker's CORS_ORIGINS), e.g. [\"https://app.example.com\"]; [] when only servers call the API. Never \"*\"."
  type        = list(string)

  validation {
    condition     = alltrue([for o in var.cors_origins : can(regex("^https://[a-z0-9.-]+(:[0-9]+)?$", o))])
    error_message = "cors_origins must be https:// origins (scheme, host, optional port; no path, no \"*\")."
  }
}

variable "alarm_actions" {
  description = "Extra ARNs notified by the GPU alarms (the gpu module's SNS topic is always notified)."
  type        = list(string)
  default     = []
}

variable "api_key_pepper_secret_name" {
  description = "Name of the Secrets Manager secret holding the API-key pepper."
  type        = string
  default     = "intentql/api-key-pepper"
}

variable "rate_limit" {
  description = "Cloudflare rate-limiting rule for /graphql, or null for none."
  type = object({
    requests_per_period = number
    period              = number
    mitigation_timeout  = number
    path_prefix         = optional(string, "/graphql")
  })
  default = null
}

variable "upstream_client_ca_bundle_s3_uri" {
  description = "Mutual TLS between the Worker and the GPU fleet (docs/DEPLOY.md, \"Mutual TLS\"): s3://bucket/key of the PEM bundle of the CA that signed the Worker's client certificate. \"\" (default): off. Goes with upstream_mtls_certificate_id."
  type        = string
  default     = ""
}

variable "upstream_mtls_certificate_id" {
  description = "Mutual TLS: the ID `wrangler mtls-certificate upload` printed for the Worker's client certificate; npm run deploy:edge binds it as UPSTREAM_MTLS. \"\" (default): off. Goes with upstream_client_ca_bundle_s3_uri."
  type        = string
  default     = ""

  validation {
    condition     = var.upstream_mtls_certificate_id == "" || can(regex("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", var.upstream_mtls_certificate_id))
    error_message = "upstream_mtls_certificate_id: \"\" or the certificate's ID (a UUID, as wrangler mtls-certificate list shows it)."
  }

  # Both halves or neither: a trust store without the Worker's certificate shuts the Worker out, and
  # a certificate without a trust store leaves the fleet on the token alone.
  validation {
    condition     = (var.upstream_mtls_certificate_id == "") == (var.upstream_client_ca_bundle_s3_uri == "")
    error_message = "upstream_mtls_certificate_id and upstream_client_ca_bundle_s3_uri go together (docs/DEPLOY.md, \"Mutual TLS\"): set both, or neither."
  }
}
