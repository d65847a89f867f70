# The lake's data: DuckLake's Parquet files under s3://<bucket>/<prefix>/. Its catalog is the
# `lake` database on the deployment's RDS instance (created by the api-server's init container).
data "aws_region" "current" {}

module "bucket" {
  source = "../bucket"

  name                    = var.bucket_name
  kms_key_arn             = var.kms_key_arn
  noncurrent_version_days = var.noncurrent_version_days
  force_destroy           = var.force_destroy
  tags                    = var.tags
}

locals {
  # What each kind of client may do with the lake's objects; nothing outside the prefix.
  access = {
    read-only  = { objects = ["s3:GetObject"], key = ["kms:Decrypt"] }
    read-write = { objects = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"], key = ["kms:Decrypt", "kms:GenerateDataKey"] }
  }
}

data "aws_iam_policy_document" "this" {
  for_each = local.access

  statement {
    sid       = "ListTheLake"
    actions   = ["s3:ListBucket"]
    resources = [module.bucket.arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.prefix}/*"]
    }
  }
  statement {
    sid       = "LakeObjects"
    actions   = each.value.objects
    resources = ["${module.bucket.arn}/${var.prefix}/*"]
  }
  statement {
    sid       = "LakeKeyThroughS3"
    actions   = each.value.key
    resources = [var.kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${data.aws_region.current.name}.amazonaws.com"]
    }
  }
}

# For readers outside the stack (an analyst's role, a BI tool's): attach it beside the read-only
# catalog role's secret (outputs).
resource "aws_iam_policy" "read_only" {
  name        = "${var.name}-lake-read-only"
  description = "Read the lake's Parquet files under s3://${module.bucket.name}/${var.prefix}/ (DuckLake, READ_ONLY)"
  policy      = data.aws_iam_policy_document.this["read-only"].json

  tags = var.tags
}
