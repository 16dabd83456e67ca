# Alarms the on-call acts on (runbook: docs/DEPLOY.md, "Alarms"). Every alarm notifies the module's
# SNS topic (subscribe to it) and alarm_actions, on firing and on recovery.

resource "aws_sns_topic" "alarms" {
  name = "${var.name}-alarms"
  tags = local.tags
}

locals {
  alarm_actions = concat([aws_sns_topic.alarms.arn], var.alarm_actions)
  alb_dimensions = {
    LoadBalancer = aws_lb.gpu.arn_suffix
    TargetGroup  = aws_lb_target_group.gpu.arn_suffix
  }
}

# 5xx from the ALB itself (no healthy target, timeouts) plus 5xx the targets answered (queue full,
# not ready, internal errors).
resource "aws_cloudwatch_metric_alarm" "http_5xx" {
  alarm_name          = "${var.name}-5xx"
  alarm_description   = "IntentQL GPU upstream answers 5xx (runbook: docs/DEPLOY.md#alarms)"
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.alarm_5xx_per_minute
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags

  metric_query {
    id          = "total"
    expression  = "FILL(target, 0) + FILL(elb, 0)"
    label       = "5xx per minute"
    return_data = true
  }

  metric_query {
    id = "target"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_Target_5XX_Count"
      dimensions  = local.alb_dimensions
      period      = 60
      stat        = "Sum"
    }
  }

  metric_query {
    id = "elb"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_ELB_5XX_Count"
      dimensions  = { LoadBalancer = aws_lb.gpu.arn_suffix }
      period      = 60
      stat        = "Sum"
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "unhealthy_hosts" {
  alarm_name          = "${var.name}-unhealthy-hosts"
  alarm_description   = "An IntentQL GPU instance fails /v2/health/ready (runbook: docs/DEPLOY.md#alarms)"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "UnHealthyHostCount"
  dimensions          = local.alb_dimensions
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "no_healthy_hosts" {
  alarm_name          = "${var.name}-no-healthy-hosts"
  alarm_description   = "No IntentQL GPU instance is healthy: every classify fails (runbook: docs/DEPLOY.md#alarms)"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "HealthyHostCount"
  dimensions          = local.alb_dimensions
  statistic           = "Minimum"
  period              = 60
  evaluation_periods  = 2
  comparison_operator = "LessThanThreshold"
  threshold           = 1
  treat_missing_data  = "breaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "p99_latency" {
  alarm_name          = "${var.name}-p99-latency"
  alarm_description   = "IntentQL GPU upstream p99 latency is high (runbook: docs/DEPLOY.md#alarms)"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "TargetResponseTime"
  dimensions          = local.alb_dimensions
  extended_statistic  = "p99"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 5
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.alarm_p99_latency_seconds
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

# nvidia_smi_utilization_gpu from the CloudWatch agent's nvidia_gpu plugin (user_data), aggregated per
# AutoScalingGroupName.
resource "aws_cloudwatch_metric_alarm" "gpu_utilization" {
  alarm_name          = "${var.name}-gpu-utilization"
  alarm_description   = "IntentQL GPU fleet saturated: scaling is not keeping up or max_size is reached (runbook: docs/DEPLOY.md#alarms)"
  namespace           = var.metrics_namespace
  metric_name         = "nvidia_smi_utilization_gpu"
  dimensions          = { AutoScalingGroupName = local.asg_name }
  statistic           = "Average"
  period              = 300
  evaluation_periods  = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.alarm_gpu_utilization_percent
  treat_missing_data  = "missing"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}
