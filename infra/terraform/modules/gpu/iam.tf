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

resource "aws_iam_role_policy_attachment" "managed" {
  for_each = toset([
    "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
    "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy",
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
  ])

  role       = aws_iam_role.instance.name
  policy_arn = each.value
}

data "aws_iam_policy_document" "instance" {
  statement {
    sid       = "ReadUpstreamToken"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = compact([var.upstream_token_secret_arn, var.upstream_token_next_secret_arn])
  }

  statement {
    sid       = "WriteLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = ["${aws_cloudwatch_log_group.gpu.arn}:*"]
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
