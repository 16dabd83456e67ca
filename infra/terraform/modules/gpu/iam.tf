data "aws_iam_policy_document" "assume_ec2" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "instance" {
  name               = "${var.name}-instance"
  assume_role_policy = data.aws_iam_policy_document.assume_ec2.json
  tags               = local.tags
}

# No AWS managed policies: AmazonSSMManagedInstanceCore, CloudWatchAgentServerPolicy and
# AmazonEC2ContainerRegistryReadOnly grant ssm:GetParameter(s), log writes and ECR reads on every
# resource of the account, so code that got onto an instance could read every SSM parameter, pull
# every image and write any log group. Each statement below names what the instance does, on what.
# The only "*" resources are actions that take no other: ecr:GetAuthorizationToken,
# ec2:DescribeTags, cloudwatch:PutMetricData (narrowed to one namespace by a condition), and the
# SSM agent's channels.
data "aws_iam_policy_document" "instance" {
  statement {
    sid       = "ReadUpstreamToken"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = compact([var.upstream_token_secret_arn, var.upstream_token_next_secret_arn])
  }

  # The containers' awslogs driver and the CloudWatch agent's Prometheus (EMF) log group.
  statement {
    sid       = "WriteLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = ["${aws_cloudwatch_log_group.gpu.arn}:*", "${aws_cloudwatch_log_group.prometheus.arn}:*"]
  }

  # The CloudWatch agent: nvidia_gpu metrics in the fleet's namespace, and the instance's tags for
  # its AutoScalingGroupName dimension.
  statement {
    sid       = "PutFleetMetrics"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = [var.metrics_namespace]
    }
  }

  statement {
    sid       = "ReadOwnTags"
    actions   = ["ec2:DescribeTags"]
    resources = ["*"]
  }

  # Systems Manager Run Command and Session Manager (docs/DEPLOY.md checks an instance with
  # `aws ssm send-command`): the agent's registration and message channels, no parameters or documents.
  statement {
    sid = "SsmAgent"
    actions = [
      "ssm:UpdateInstanceInformation",
      "ec2messages:AcknowledgeMessage", "ec2messages:DeleteMessage", "ec2messages:FailMessage",
      "ec2messages:GetEndpoint", "ec2messages:GetMessages", "ec2messages:SendReply",
      "ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel",
      "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel",
    ]
    resources = ["*"]
  }

  # The gpu-service image, when it lives in ECR: a registry login, then that one repository's layers.
  dynamic "statement" {
    for_each = local.is_ecr ? [1] : []
    content {
      sid       = "EcrLogin"
      actions   = ["ecr:GetAuthorizationToken"]
      resources = ["*"]
    }
  }

  dynamic "statement" {
    for_each = local.is_ecr ? [1] : []
    content {
      sid       = "PullImage"
      actions   = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
      resources = [local.ecr_repository_arn]
    }
  }

  dynamic "statement" {
    for_each = var.bundle_s3_uri == "" ? [] : [1]
    content {
      sid       = "ListBundle"
      actions   = ["s3:ListBucket"]
      resources = ["arn:aws:s3:::${local.bundle_bucket}"]
      condition {
        test     = "StringLike"
        variable = "s3:prefix"
        values   = ["${local.bundle_prefix}*"]
      }
    }
  }

  dynamic "statement" {
    for_each = var.bundle_s3_uri == "" ? [] : [1]
    content {
      sid       = "ReadBundle"
      actions   = ["s3:GetObject"]
      resources = ["arn:aws:s3:::${local.bundle_bucket}/${local.bundle_prefix}*"]
    }
  }
}

resource "aws_iam_role_policy" "instance" {
  name   = "${var.name}-instance"
  role   = aws_iam_role.instance.id
  policy = data.aws_iam_policy_document.instance.json
}

resource "aws_iam_instance_profile" "instance" {
  name = "${var.name}-instance"
  role = aws_iam_role.instance.name
}
