output "upstream_url" {
  description = "HTTPS base URL of the V2 upstream: the Route 53 hostname when one was created, else the ALB's DNS name (whose certificate must then cover it)."
  value       = length(aws_route53_record.alb) > 0 ? "https://${var.hostname}" : "https://${aws_lb.gpu.dns_name}"
}

output "alb_dns_name" {
  description = "DNS name of the ALB (point a CNAME or alias at it when route53_zone_id is not used)."
  value       = aws_lb.gpu.dns_name
}

output "alb_zone_id" {
  description = "Hosted zone ID of the ALB, for alias records."
  value       = aws_lb.gpu.zone_id
}

output "autoscaling_group_name" {
  description = "Name of the GPU autoscaling group (for `aws autoscaling start-instance-refresh`)."
  value       = aws_autoscaling_group.gpu.name
}

output "launch_template_id" {
  description = "ID of the launch template."
  value       = aws_launch_template.gpu.id
}

output "instance_security_group_id" {
  description = "Security group of the GPU instances (admits only the ALB)."
  value       = aws_security_group.instance.id
}

output "instance_role_name" {
  description = "IAM role of the GPU instances (attach more policies here, e.g. for a private bundle bucket with KMS)."
  value       = aws_iam_role.instance.name
}

output "log_group_name" {
  description = "CloudWatch log group receiving gpu-service's structured logs."
  value       = aws_cloudwatch_log_group.gpu.name
}
