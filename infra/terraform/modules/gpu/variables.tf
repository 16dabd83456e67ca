variable "name" {
  description = "Prefix for every resource name (ALB, ASG, security groups, IAM)."
  type        = string
  default     = "intentql-gpu"

  validation {
    condition     = can(regex("^[a-z0-9-]{1,24}$", var.name))
    error_message = "name must be 1-24 lowercase letters, digits or dashes (ALB names are limited to 32 characters)."
  }
}

variable "vpc_id" {
  description = "VPC in which the ALB and GPU instances run."
  type        = string
}

variable "public_subnet_ids" {
  description = "Public subnets (one per AZ, at least two) for the internet-facing ALB."
  type        = list(string)

  validation {
    condition     = length(var.public_subnet_ids) >= 2
    error_message = "An ALB needs subnets in at least two availability zones."
  }
}

variable "private_subnet_ids" {
  description = "Subnets (one per AZ; several AZs so a zone without T4 capacity does not stop scaling) for the GPU instances. They need egress (NAT or VPC endpoints) to ECR, S3, SSM, Secrets Manager and CloudWatch."
  type        = list(string)

  validation {
    condition     = length(var.private_subnet_ids) >= 2
    error_message = "Give at least two subnets in different AZs."
  }
}

variable "instance_type" {
  description = "EC2 instance type. g4dn.xlarge = 1 NVIDIA T4, 4 vCPU, 16 GiB. Any single-GPU NVIDIA type works (g5.xlarge A10G, g6.xlarge L4, p5 H100) with the same image."
  type        = string
  default     = "g4dn.xlarge"
}

variable "ami_id" {
  description = "AMI of the GPU instances, pinned by ID: an NVIDIA driver >= 580 (CUDA 13, which the image's onnxruntime CUDA provider needs), Docker and the NVIDIA container toolkit, e.g. the AWS Deep Learning Base OSS NVIDIA driver AMI (Ubuntu 22.04) of a known date. docs/DEPLOY.md shows how to look one up and check its driver."
  type        = string

  validation {
    condition     = can(regex("^ami-[0-9a-f]{8,17}$", var.ami_id))
    error_message = "ami_id must be an AMI ID (ami-…), not an SSM parameter or a name: the fleet must not change AMI on its own."
  }
}

variable "hostname" {
  description = "Hostname of the GPU upstream in the Cloudflare zone, e.g. gpu.example.com: the ACM certificate's name, a DNS-only CNAME to the ALB, and the only Host the ALB forwards."
  type        = string
}

variable "cloudflare_zone_id" {
  description = "Cloudflare zone holding hostname: its ACM validation records and its CNAME are created there."
  type        = string
}

variable "runtime" {
  description = "Inference server on the instances: \"gpu-service\" (default; checks the bearer token itself) or \"triton\" (NVIDIA Triton with the model repository at bundle_s3_uri; the ALB checks the token, see alb_bearer_tokens)."
  type        = string
  default     = "gpu-service"

  validation {
    condition     = contains(["gpu-service", "triton"], var.runtime)
    error_message = "runtime must be \"gpu-service\" or \"triton\"."
  }
}

variable "image" {
  description = "gpu-service container image (built from gpu-service/Dockerfile), e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com/intentql-gpu:1.0.0. Pin a tag or digest, never latest."
  type        = string
}

variable "bundle_s3_uri" {
  description = "S3 prefix holding the model bundle folder (bundle.json, labels.json, vocab.txt, model*.onnx), e.g. s3://my-models/massive-scratch/1.0.0/. Instances sync it at boot; gpu-service verifies every file's sha256 against bundle.json before it reports ready. Empty: use the bundle baked into the image."
  type        = string
  default     = ""

  validation {
    condition     = var.bundle_s3_uri == "" || can(regex("^s3://[^/]+/.+/$", var.bundle_s3_uri))
    error_message = "bundle_s3_uri must be empty or look like s3://bucket/prefix/ (with the trailing slash)."
  }
}

variable "bundle_sha256" {
  description = "sha256 of the file that pins the model at bundle_s3_uri: bundle.json for gpu-service (which then checks every other file against it), <bundle_name>/1/model.onnx for Triton. The boot stops when the synced file differs, so what runs is what this apply names. Required with bundle_s3_uri."
  type        = string
  default     = ""

  validation {
    condition     = var.bundle_s3_uri == "" || can(regex("^[0-9a-f]{64}$", var.bundle_sha256))
    error_message = "bundle_sha256 must be the 64-hex-digit sha256 of the pinned file when bundle_s3_uri is set (sha256sum models/<name>/bundle.json)."
  }
}

variable "bundle_name" {
  description = "Bundle (model) name: the folder name under /models in the container and the {name} in /v2/models/{name}."
  type        = string
  default     = "massive-scratch"
}

variable "variant" {
  description = "Model variant gpu-service loads: fp16 (default on CUDA), fp32 or int8. Empty: the bundle's default for the provider."
  type        = string
  default     = "fp16"

  validation {
    condition     = contains(["", "fp32", "fp16", "int8"], var.variant)
    error_message = "variant must be one of \"\", fp32, fp16, int8."
  }
}

variable "container_port" {
  description = "Port gpu-service listens on inside the instance (GPU_PORT)."
  type        = number
  default     = 8500
}

variable "gpu_env" {
  description = "Extra environment variables for gpu-service (e.g. GPU_MAX_BATCH_SIZE, GPU_MAX_QUEUE_DELAY_US). Never put secrets here: they are visible in the launch template."
  type        = map(string)
  default     = {}
}

variable "upstream_token_next_secret_arn" {
  description = "During a token rotation only: ARN of the secret holding the next token, accepted next to the current one (INTENTQL_UPSTREAM_TOKEN_NEXT). null otherwise. docs/DEPLOY.md gives the sequence."
  type        = string
  default     = null
}

variable "client_ca_bundle_s3_uri" {
  description = "Mutual TLS: s3://bucket/key of a PEM bundle of the CA(s) that sign the edge Worker's client certificate (docs/DEPLOY.md, \"Mutual TLS\"). The ALB then completes no TLS handshake without such a certificate. \"\" (default): off, the bearer token alone guards the upstream."
  type        = string
  default     = ""

  validation {
    condition     = var.client_ca_bundle_s3_uri == "" || can(regex("^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/.+$", var.client_ca_bundle_s3_uri))
    error_message = "client_ca_bundle_s3_uri: \"\" or s3://bucket/key of the CA bundle."
  }
}

variable "alb_bearer_tokens" {
  description = "runtime = \"triton\" only: the tokens (current, and next during a rotation) the ALB requires as `Authorization: Bearer <token>` before it forwards to Triton, which checks none. Ignored for gpu-service."
  type        = list(string)
  default     = []
  sensitive   = true

  validation {
    # The ALB matches header values with * and ? wildcards and at most 128 characters.
    condition     = length(var.alb_bearer_tokens) <= 2 && alltrue([for t in var.alb_bearer_tokens : can(regex("^[A-Za-z0-9._~+/=-]{32,121}$", t))])
    error_message = "alb_bearer_tokens: at most 2 tokens of 32-121 characters from A-Z a-z 0-9 . _ ~ + / = - (no ALB wildcards)."
  }
}

variable "triton_command" {
  description = "runtime = \"triton\": the container's command. The model repository is mounted read-only at /models, the TensorRT engine cache read-write at /trt-cache (infra/triton/README.md)."
  type        = list(string)
  default = [
    "tritonserver", "--model-repository=/models", "--strict-model-config=true", "--allow-grpc=false",
    "--http-port=8000", "--allow-metrics=true", "--metrics-port=8002", "--exit-on-error=true",
  ]
}

variable "triton_http_port" {
  description = "runtime = \"triton\": Triton's HTTP (KServe V2) port, which the ALB forwards to; must match --http-port in triton_command."
  type        = number
  default     = 8000
}

variable "triton_metrics_port" {
  description = "runtime = \"triton\": Triton's Prometheus metrics port, scraped by the CloudWatch agent; must match --metrics-port in triton_command."
  type        = number
  default     = 8002
}

variable "triton_env" {
  description = "runtime = \"triton\": environment variables for the Triton container. Never secrets: they are visible in the launch template."
  type        = map(string)
  default     = {}
}

variable "upstream_token_secret_arn" {
  description = "ARN of the Secrets Manager secret (plain string) holding the bearer token gpu-service requires (INTENTQL_UPSTREAM_TOKEN). Read at boot by the instance role; the same value is the Worker's UPSTREAM_TOKEN."
  type        = string
}

variable "ingress_cidrs" {
  description = "CIDR blocks allowed to reach the ALB on 443. Default: anywhere; the prod env passes Cloudflare's published egress ranges."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "ingress_ipv6_cidrs" {
  description = "IPv6 CIDR blocks allowed to reach the ALB on 443."
  type        = list(string)
  default     = []
}

variable "min_size" {
  description = "Minimum number of GPU instances (keep >= 2 for zone failure tolerance in production). terraform apply waits until this many pass the ALB health check (wait_for_elb_capacity)."
  type        = number
  default     = 1
}

variable "max_size" {
  description = "Maximum number of GPU instances."
  type        = number
  default     = 4
}

variable "desired_capacity" {
  description = "Initial desired capacity; null leaves it to the scaling policies (recommended after the first apply)."
  type        = number
  default     = null
}

variable "target_queue_rows" {
  description = "Target-tracking set point: average rows waiting in each instance's batcher queue (Prometheus gauge intentql_queue_rows). Below one full batch means the GPU keeps up."
  type        = number
  default     = 128
}

variable "target_inflight_requests" {
  description = "Target-tracking set point: average infer requests in flight per instance (intentql_inflight_requests, or Triton's nv_inference_pending_request_count)."
  type        = number
  default     = 64
}

variable "alarm_actions" {
  description = "Extra ARNs (SNS topics, PagerDuty/Opsgenie integrations) notified by every alarm, besides the module's own SNS topic (output alarm_topic_arn)."
  type        = list(string)
  default     = []
}

variable "alarm_5xx_per_minute" {
  description = "Alarm when the ALB answers more 5xx (its own plus the targets') than this per minute, 3 minutes out of 5."
  type        = number
  default     = 10
}

variable "alarm_p99_latency_seconds" {
  description = "Alarm when the ALB's p99 target response time stays above this for 5 minutes (the Worker's upstream timeout is 10 s)."
  type        = number
  default     = 0.5
}

variable "alarm_gpu_utilization_percent" {
  description = "Alarm when the fleet's average GPU utilisation (CloudWatch agent nvidia_gpu) stays above this for 15 minutes: scaling is not keeping up, or max_size is reached."
  type        = number
  default     = 90
}

variable "target_requests_per_target" {
  description = "Optional second target-tracking policy on ALB RequestCountPerTarget (requests per instance per minute); null disables it."
  type        = number
  default     = null
}

variable "metrics_namespace" {
  description = "CloudWatch namespace the CloudWatch agent publishes the scraped Prometheus metrics into."
  type        = string
  default     = "IntentQL/GPU"
}

variable "instance_warmup_seconds" {
  description = "Seconds a new instance needs from launch to serving (AMI boot, image pull, bundle sync, model warm-up); used by the ASG and instance refresh."
  type        = number
  default     = 300
}

variable "refresh_min_healthy_percentage" {
  description = "Instance refresh: percentage of capacity that must stay healthy while instances are replaced (new image or bundle)."
  type        = number
  default     = 100
}

variable "root_volume_gb" {
  description = "Root EBS volume size (GiB); the CUDA image is several GiB."
  type        = number
  default     = 100
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = {}
}

variable "cloudwatch_agent_key_fingerprint" {
  description = "Fingerprint of the key that signs the CloudWatch agent package (AWS's CloudWatch guide, \"Verify the signature of the CloudWatch agent package\"). Only for an AMI without the agent: the boot script then downloads the package, its signature and the key, and installs the agent only when the key has this fingerprint and the signature verifies. Should AWS change its key, take the new fingerprint from that page."
  type        = string
  default     = "937616F3450B7D806CBD9725D58167303B789C72"

  validation {
    condition     = can(regex("^[0-9A-F]{40}$", var.cloudwatch_agent_key_fingerprint))
    error_message = "cloudwatch_agent_key_fingerprint: 40 upper-case hex digits, no spaces."
  }
}

variable "cloudwatch_agent_min_version" {
  description = "The oldest CloudWatch agent package the boot script installs (a Debian version, compared with dpkg --compare-versions against the package's own Version field). Only for an AMI without the agent. AWS's signature does not expire, so without a floor an older release it signed would install as well as the latest. Raise it when AWS fixes a flaw in the agent (its release notes on GitHub, aws/amazon-cloudwatch-agent)."
  type        = string
  default     = "1.300064.0"

  validation {
    condition     = can(regex("^[0-9][0-9A-Za-z.+~-]*$", var.cloudwatch_agent_min_version))
    error_message = "cloudwatch_agent_min_version: a Debian version such as 1.300064.0 (digits first; letters, digits and . + ~ - after)."
  }
}
