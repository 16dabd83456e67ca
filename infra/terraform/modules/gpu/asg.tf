resource "aws_launch_template" "gpu" {
  name_prefix = "${var.name}-"
  # Pinned: a new AMI (and with it a new NVIDIA driver) is a reviewed change of ami_id, never a side
  # effect of an unrelated apply.
  image_id               = var.ami_id
  instance_type          = var.instance_type
  vpc_security_group_ids = [aws_security_group.instance.id]
  user_data              = base64encode(local.user_data)
  update_default_version = true

  iam_instance_profile {
    arn = aws_iam_instance_profile.instance.arn
  }

  metadata_options {
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
    http_endpoint               = "enabled"
  }

  block_device_mappings {
    device_name = "/dev/sda1"
    ebs {
      volume_size           = var.root_volume_gb
      volume_type           = "gp3"
      encrypted             = true
      delete_on_termination = true
    }
  }

  monitoring {
    enabled = true
  }

  tag_specifications {
    resource_type = "instance"
    tags          = merge(local.tags, { Name = "${var.name}" })
  }

  tags = local.tags
}

resource "aws_autoscaling_group" "gpu" {
  name                      = local.asg_name
  vpc_zone_identifier       = var.private_subnet_ids
  min_size                  = var.min_size
  max_size                  = var.max_size
  desired_capacity          = var.desired_capacity
  target_group_arns         = [aws_lb_target_group.gpu.arn]
  health_check_type         = "ELB"
  health_check_grace_period = var.instance_warmup_seconds
  default_instance_warmup   = var.instance_warmup_seconds
  capacity_rebalance        = true
  # terraform apply succeeds only once this many instances pass the ALB's /v2/health/ready check, so
  # an image that cannot start fails the apply instead of restart-looping behind a green plan.
  wait_for_elb_capacity     = var.min_size
  wait_for_capacity_timeout = "${var.instance_warmup_seconds * 3}s"

  launch_template {
    id      = aws_launch_template.gpu.id
    version = aws_launch_template.gpu.latest_version
  }

  # A new launch template version (new image tag, new bundle URI, new instance type) rolls the fleet:
  # new instances must pass the ALB's /v2/health/ready check before old ones are drained.
  instance_refresh {
    strategy = "Rolling"
    preferences {
      min_healthy_percentage = var.refresh_min_healthy_percentage
      max_healthy_percentage = 200
      instance_warmup        = var.instance_warmup_seconds
      auto_rollback          = true
    }
  }

  dynamic "tag" {
    for_each = local.tags
    content {
      key                 = tag.key
      value               = tag.value
      propagate_at_launch = true
    }
  }

  lifecycle {
    ignore_changes = [desired_capacity]
  }
}

# Rows waiting in gpu-service's batcher (gauge intentql_queue_rows on /metrics), scraped by the
# CloudWatch agent on each instance and published with the AutoScalingGroupName dimension.
resource "aws_autoscaling_policy" "queue_rows" {
  count = local.is_triton ? 0 : 1

  name                      = "${var.name}-queue-rows"
  autoscaling_group_name    = aws_autoscaling_group.gpu.name
  policy_type               = "TargetTrackingScaling"
  estimated_instance_warmup = var.instance_warmup_seconds

  target_tracking_configuration {
    target_value = var.target_queue_rows

    customized_metric_specification {
      metric_name = "intentql_queue_rows"
      namespace   = var.metrics_namespace
      statistic   = "Average"

      metric_dimension {
        name  = "AutoScalingGroupName"
        value = local.asg_name
      }
    }
  }
}

# Requests in flight per instance (gpu-service's intentql_inflight_requests, Triton's
# nv_inference_pending_request_count): catches load the row queue misses, such as many one-text
# requests waiting on HTTP parsing while few rows are queued. With two target-tracking policies the
# ASG takes the larger capacity either asks for.
resource "aws_autoscaling_policy" "inflight" {
  name                      = "${var.name}-inflight"
  autoscaling_group_name    = aws_autoscaling_group.gpu.name
  policy_type               = "TargetTrackingScaling"
  estimated_instance_warmup = var.instance_warmup_seconds

  target_tracking_configuration {
    target_value = var.target_inflight_requests

    customized_metric_specification {
      metric_name = local.inflight_metric
      namespace   = var.metrics_namespace
      statistic   = "Average"

      metric_dimension {
        name  = "AutoScalingGroupName"
        value = local.asg_name
      }
    }
  }
}

resource "aws_autoscaling_policy" "requests" {
  count = var.target_requests_per_target == null ? 0 : 1

  name                      = "${var.name}-requests"
  autoscaling_group_name    = aws_autoscaling_group.gpu.name
  policy_type               = "TargetTrackingScaling"
  estimated_instance_warmup = var.instance_warmup_seconds

  target_tracking_configuration {
    target_value = var.target_requests_per_target

    predefined_metric_specification {
      predefined_metric_type = "ALBRequestCountPerTarget"
      resource_label         = "${aws_lb.gpu.arn_suffix}/${aws_lb_target_group.gpu.arn_suffix}"
    }
  }
}
