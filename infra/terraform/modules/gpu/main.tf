data "aws_region" "current" {}

locals {
  # Fixed name (not generated) so the launch template's CloudWatch agent config can label metrics with
  # the ASG name the scaling policy reads, without a dependency cycle.
  asg_name      = "${var.name}-asg"
  log_group     = "/intentql/${var.name}"
  bundle_bucket = var.bundle_s3_uri == "" ? "" : regex("^s3://([^/]+)/", var.bundle_s3_uri)[0]
  bundle_prefix = var.bundle_s3_uri == "" ? "" : regex("^s3://[^/]+/(.*)$", var.bundle_s3_uri)[0]
  registry      = split("/", var.image)[0]
  is_ecr        = can(regex("\\.dkr\\.ecr\\.[a-z0-9-]+\\.amazonaws\\.com$", local.registry))
  # The repository of an ECR image <account>.dkr.ecr.<region>.amazonaws.com/<name>[:tag|@digest]:
  # arn:aws:ecr:<region>:<account>:repository/<name> (the one repository the role may pull from).
  ecr_repository_arn = local.is_ecr ? format("arn:aws:ecr:%s:%s:repository/%s",
    regex("\\.dkr\\.ecr\\.([a-z0-9-]+)\\.amazonaws\\.com$", local.registry)[0],
    split(".", local.registry)[0],
  regex("^[^/]+/([^:@]+)", var.image)[0]) : ""
  bundle_path = var.bundle_s3_uri == "" ? "/app/models/${var.bundle_name}" : "/models/${var.bundle_name}"
  # Mutual TLS at the ALB: on when a CA bundle for the Worker's client certificate is given.
  mtls      = var.client_ca_bundle_s3_uri != ""
  is_triton = var.runtime == "triton"

  # The port the ALB forwards to, and where the CloudWatch agent scrapes Prometheus metrics.
  port         = local.is_triton ? var.triton_http_port : var.container_port
  metrics_port = local.is_triton ? var.triton_metrics_port : var.container_port
  # Requests in flight on one instance: gpu-service's gauge, or Triton's pending requests.
  inflight_metric = local.is_triton ? "nv_inference_pending_request_count" : "intentql_inflight_requests"
  scraped_metrics = local.is_triton ? [local.inflight_metric] : ["intentql_queue_rows", local.inflight_metric]

  gpu_env = merge(var.gpu_env, {
    NODE_ENV         = "production"
    GPU_HOST         = "0.0.0.0"
    GPU_PORT         = tostring(var.container_port)
    GPU_DEVICE       = "cuda"
    GPU_VARIANT      = var.variant
    INTENTQL_BUNDLES = local.bundle_path
  })

  user_data = templatefile("${path.module}/user_data.sh.tftpl", {
    region                = data.aws_region.current.region
    image                 = var.image
    registry              = local.registry
    is_ecr                = local.is_ecr
    runtime               = var.runtime
    bundle_s3_uri         = var.bundle_s3_uri
    bundle_name           = var.bundle_name
    bundle_sha256         = var.bundle_sha256
    container_port        = var.container_port
    gpu_env               = local.gpu_env
    token_secret_arn      = var.upstream_token_secret_arn
    next_token_secret_arn = coalesce(var.upstream_token_next_secret_arn, "")
    triton_command        = var.triton_command
    triton_env            = var.triton_env
    triton_http_port      = var.triton_http_port
    triton_metrics_port   = var.triton_metrics_port
    metrics_port          = local.metrics_port
    scraped_metrics       = local.scraped_metrics
    asg_name              = local.asg_name
    metrics_namespace     = var.metrics_namespace
    log_group             = local.log_group

    cloudwatch_agent_key_fingerprint = var.cloudwatch_agent_key_fingerprint
    cloudwatch_agent_min_version     = var.cloudwatch_agent_min_version
  })

  tags = merge({ Project = "intentql", Component = "gpu-service" }, var.tags)
}

resource "aws_cloudwatch_log_group" "gpu" {
  name              = local.log_group
  retention_in_days = 30
  tags              = local.tags
}

# Where the CloudWatch agent writes the scraped Prometheus gauges as EMF (user_data.sh.tftpl): made
# here, so the instance role needs no logs:CreateLogGroup.
resource "aws_cloudwatch_log_group" "prometheus" {
  name              = "${local.log_group}/prometheus"
  retention_in_days = 7
  tags              = local.tags
}

# --- Security groups: the internet reaches only the ALB; instances admit only the ALB. ---

resource "aws_security_group" "alb" {
  name        = "${var.name}-alb"
  description = "IntentQL GPU ALB: HTTPS from the allowed ranges"
  vpc_id      = var.vpc_id
  tags        = local.tags
}

resource "aws_vpc_security_group_ingress_rule" "alb_https" {
  for_each = toset(var.ingress_cidrs)

  security_group_id = aws_security_group.alb.id
  description       = "HTTPS"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_ingress_rule" "alb_https_v6" {
  for_each = toset(var.ingress_ipv6_cidrs)

  security_group_id = aws_security_group.alb.id
  description       = "HTTPS (IPv6)"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv6         = each.value
}

resource "aws_vpc_security_group_egress_rule" "alb_to_instances" {
  security_group_id            = aws_security_group.alb.id
  description                  = "To the inference server"
  ip_protocol                  = "tcp"
  from_port                    = local.port
  to_port                      = local.port
  referenced_security_group_id = aws_security_group.instance.id
}

resource "aws_security_group" "instance" {
  name        = "${var.name}-instance"
  description = "IntentQL GPU instances: gpu-service port from the ALB only"
  vpc_id      = var.vpc_id
  tags        = local.tags
}

resource "aws_vpc_security_group_ingress_rule" "instance_from_alb" {
  security_group_id            = aws_security_group.instance.id
  description                  = "Inference server from the ALB"
  ip_protocol                  = "tcp"
  from_port                    = local.port
  to_port                      = local.port
  referenced_security_group_id = aws_security_group.alb.id
}

resource "aws_vpc_security_group_egress_rule" "instance_https" {
  security_group_id = aws_security_group.instance.id
  description       = "HTTPS to ECR, S3, SSM, Secrets Manager, CloudWatch"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

# --- Load balancer: TLS terminates here (ACM); only the V2 API is forwarded. ---

resource "aws_lb" "gpu" {
  name                       = var.name
  load_balancer_type         = "application"
  internal                   = false
  security_groups            = [aws_security_group.alb.id]
  subnets                    = var.public_subnet_ids
  drop_invalid_header_fields = true
  idle_timeout               = 60
  tags                       = local.tags
}

resource "aws_lb_target_group" "gpu" {
  name                 = var.name
  port                 = local.port
  protocol             = "HTTP"
  vpc_id               = var.vpc_id
  target_type          = "instance"
  deregistration_delay = 30

  health_check {
    path                = "/v2/health/ready"
    matcher             = "200"
    interval            = 10
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }

  tags = local.tags
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.gpu.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  # The validated certificate: the listener waits until ACM has issued it (dns.tf).
  certificate_arn = aws_acm_certificate_validation.gpu.certificate_arn

  # With a client CA, the handshake itself refuses any caller without a certificate that CA signed:
  # other Cloudflare Workers (which share Cloudflare's source ranges) no longer reach the token check.
  # Dropping the block later leaves the listener's mode as it is (the attribute is computed): turning
  # mTLS off starts with the CLI (docs/DEPLOY.md §9).
  dynamic "mutual_authentication" {
    for_each = local.mtls ? [1] : []
    content {
      mode            = "verify"
      trust_store_arn = aws_lb_trust_store.clients[0].arn
    }
  }

  # /metrics is unauthenticated on the instance; the ALB never forwards it. Nor anything not sent to
  # the GPU hostname (scanners that hit the ALB's own DNS name or IP).
  default_action {
    type = "fixed-response"
    fixed_response {
      content_type = "application/json"
      message_body = "{\"error\":\"not found\"}"
      status_code  = "404"
    }
  }
}

# The CAs whose client certificates the listener accepts (docs/DEPLOY.md, "Mutual TLS"): read from S3
# by Terraform's credentials when the trust store is made; a new bundle needs a new object key.
resource "aws_lb_trust_store" "clients" {
  count                            = local.mtls ? 1 : 0
  name                             = "${var.name}-clients"
  ca_certificates_bundle_s3_bucket = regex("^s3://([^/]+)/", var.client_ca_bundle_s3_uri)[0]
  ca_certificates_bundle_s3_key    = regex("^s3://[^/]+/(.+)$", var.client_ca_bundle_s3_uri)[0]
  tags                             = local.tags
}

resource "aws_lb_listener_rule" "v2" {
  listener_arn = aws_lb_listener.https.arn
  priority     = 10

  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.gpu.arn
  }

  condition {
    path_pattern {
      values = ["/v2", "/v2/*"]
    }
  }

  condition {
    host_header {
      values = [var.hostname]
    }
  }

  # Triton checks no token: the ALB does, on the current and (during a rotation) the next one.
  # gpu-service checks its own (fails closed), so the header stays out of the ALB's config there.
  dynamic "condition" {
    for_each = local.is_triton ? [1] : []
    content {
      http_header {
        http_header_name = "Authorization"
        values           = [for t in var.alb_bearer_tokens : "Bearer ${t}"]
      }
    }
  }

  lifecycle {
    precondition {
      condition     = !local.is_triton || length(var.alb_bearer_tokens) > 0
      error_message = "runtime = \"triton\" needs alb_bearer_tokens: Triton itself accepts every caller."
    }
  }
}
