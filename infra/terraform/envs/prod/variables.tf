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

variable "worker_bundle_dir" {
  description = "Output folder of `node --import tsx edge/scripts/build-worker.ts` (relative to this folder or absolute)."
  type        = string
  default     = "../../../../dist/worker"
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

variable "bundle_name" {
  description = "Bundle name (served as /v2/models/{name})."
  type        = string
  default     = "massive-scratch"
}

variable "gpu_hostname" {
  description = "Hostname of the GPU upstream, e.g. gpu.example.com; covered by gpu_certificate_arn."
  type        = string
}

variable "gpu_certificate_arn" {
  description = "ACM certificate (in aws_region) for gpu_hostname."
  type        = string
}

variable "route53_zone_id" {
  description = "Route 53 zone for gpu_hostname; empty if you create the DNS record elsewhere (e.g. a DNS-only CNAME in Cloudflare)."
  type        = string
  default     = ""
}

variable "upstream_token_secret_name" {
  description = "Name of the Secrets Manager secret holding the upstream bearer token (created before apply, see docs/DEPLOY.md)."
  type        = string
  default     = "intentql/upstream-token"
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
