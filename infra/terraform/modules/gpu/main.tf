data "aws_region" "current" {}

data "aws_ssm_parameter" "ami" {
  name = var.ami_ssm_parameter
}

locals {
  # Fixed name (not generated) so the launch template's CloudWatch agent config can label metrics with
  # the ASG name the scaling policy reads, without a dependency cycle.
  asg_name      = "${var.name}-asg"
  log_group     = "/intentql/${var.name}"
  bundle_bucket = var.bundle_s3_uri == "" ? "" : regex("^s3://([^/]+)/", var.bundle_s3_uri)[0]
  bundle_prefix = var.bundle_s3_uri == "" ? "" : regex("^s3://[^/]+/(.*)$", var.bundle_s3_uri)[0]
  registry      = split("/", var.image)[0]
  is_ecr        = can(regex("\\.dkr\\.ecr\\.[a-z0-9-]+\\.amazonaws\\.com$", local.registry))
  bundle_path   = var.bundle_s3_uri == "" ? "/app/models/${var.bundle_name}" : "/models/${var.bundle_name}"

  gpu_env = merge(var.gpu_env, {
    GPU_HOST         = "0.0.0.0"
    GPU_PORT         = tostring(var.container_port)
    GPU_DEVICE       = "cuda"
    GPU_VARIANT      = var.variant
    INTENTQL_BUNDLES = local.bundle_path
  })

  user_data = templatefile("${path.module}/user_data.sh.tftpl", {
    region            = data.aws_region.current.name
    image             = var.image
    registry          = local.registry
    is_ecr            = local.is_ecr
    bundle_s3_uri     = var.bundle_s3_uri
    bundle_name       = var.bundle_name
    container_port    = var.container_port
    gpu_env           = local.gpu_env
    token_secret_arn  = var.upstream_token_secret_arn
    asg_name          = local.asg_name
    metrics_namespace = var.metrics_namespace
    log_group         = local.log_group
  })

  tags = merge({ Project = "intentql", Component = "gpu-service" }, var.tags)
}

resource "aws_cloudwatch_log_group" "gpu" {
  name              = local.log_group
  retention_in_days = 30
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
  description                  = "To gpu-service"
  ip_protocol                  = "tcp"
  from_port                    = var.container_port
  to_port                      = var.container_port
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
  description                  = "gpu-service from the ALB"
  ip_protocol                  = "tcp"
  from_port                    = var.container_port
  to_port                      = var.container_port
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
  port                 = var.container_port
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
  certificate_arn   = var.certificate_arn

  # /metrics is unauthenticated on the instance; the ALB never forwards it.
  default_action {
    type = "fixed-response"
    fixed_response {
      content_type = "application/json"
      message_body = "{\"error\":\"not found\"}"
      status_code  = "404"
    }
  }
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
}

resource "aws_route53_record" "alb" {
  count = var.route53_zone_id != "" && var.hostname != "" ? 1 : 0

  zone_id = var.route53_zone_id
  name    = var.hostname
  type    = "A"

  alias {
    name                   = aws_lb.gpu.dns_name
    zone_id                = aws_lb.gpu.zone_id
    evaluate_target_health = true
  }
}
