# The GPU hostname lives in the Cloudflare zone that also serves the API (the Worker's custom domain
# needs the zone on Cloudflare), so its records are made there: the ACM certificate's validation
# records, and a DNS-only CNAME to the ALB. DNS-only: the Worker's subrequests reach the ALB directly
# from Cloudflare's egress ranges (the only sources its security group admits), not through the proxy.
# Those ranges carry every Cloudflare customer's Workers, not only ours: the network rule keeps the
# rest of the internet out, and the upstream bearer token is what keeps other Workers out
# (docs/SECURITY.md, "The GPU service's network").

resource "aws_acm_certificate" "gpu" {
  domain_name       = var.hostname
  validation_method = "DNS"
  tags              = local.tags

  lifecycle {
    create_before_destroy = true
  }
}

resource "cloudflare_dns_record" "acm_validation" {
  for_each = {
    for o in aws_acm_certificate.gpu.domain_validation_options : o.domain_name => o
  }

  zone_id = var.cloudflare_zone_id
  name    = trimsuffix(each.value.resource_record_name, ".")
  type    = each.value.resource_record_type
  content = trimsuffix(each.value.resource_record_value, ".")
  ttl     = 60
  proxied = false
  comment = "ACM validation for ${var.hostname} (terraform: intentql gpu module)"
}

resource "aws_acm_certificate_validation" "gpu" {
  certificate_arn         = aws_acm_certificate.gpu.arn
  validation_record_fqdns = [for r in cloudflare_dns_record.acm_validation : r.name]
}

resource "cloudflare_dns_record" "gpu" {
  zone_id = var.cloudflare_zone_id
  name    = var.hostname
  type    = "CNAME"
  content = aws_lb.gpu.dns_name
  ttl     = 60
  proxied = false
  comment = "IntentQL GPU upstream ALB (terraform: intentql gpu module)"
}
