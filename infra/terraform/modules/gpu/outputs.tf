output "upstream_url" {
  description = "HTTPS base URL of the V2 upstream (https://<hostname>): the Worker's UPSTREAM_URL comes from here and nowhere else."
  value       = "https://${cloudflare_dns_record.gpu.name}"
}

output "certificate_arn" {
  description = "ACM certificate of hostname (validated through the Cloudflare records)."
  value       = aws_acm_certificate_validation.gpu.certificate_arn
}

output "alarm_topic_arn" {
  description = "SNS topic every alarm notifies: subscribe the on-call to it (docs/DEPLOY.md)."
  value       = aws_sns_topic.alarms.arn
}

output "alb_dns_name" {
  description = "DNS name of the ALB (hostname is a DNS-only CNAME to it)."
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

output "mtls" {
  description = "Whether the ALB requires a client certificate signed by client_ca_bundle_s3_uri's CA."
  value       = local.mtls
}
