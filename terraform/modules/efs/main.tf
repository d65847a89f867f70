# The warehouse: DuckDB files (raw_<source>.duckdb, analytics.duckdb) and the folders file sources read.
resource "aws_efs_file_system" "this" {
  creation_token   = var.name
  encrypted        = true
  kms_key_id       = var.kms_key_arn
  performance_mode = "generalPurpose"
  throughput_mode  = "elastic" # bursty loads: pay per transfer, no credits to run out of

  tags = merge(var.tags, { Name = var.name })
}

# Daily AWS Backup (the default plan "aws/efs/automatic-backup-plan", 35 days).
resource "aws_efs_backup_policy" "this" {
  count = var.enable_backup ? 1 : 0

  file_system_id = aws_efs_file_system.this.id

  backup_policy {
    status = "ENABLED"
  }
}

module "security_group" {
  source = "../security-group"

  group = { name = "${var.name}-efs", description = "NFS from the job tasks", vpc_id = var.vpc_id }
  rules = var.security_group_rules
  tags  = var.tags
}

resource "aws_efs_mount_target" "this" {
  count = length(var.subnet_ids)

  file_system_id  = aws_efs_file_system.this.id
  subnet_id       = var.subnet_ids[count.index]
  security_groups = [module.security_group.id]
}

resource "aws_efs_access_point" "this" {
  for_each = var.access_points

  file_system_id = aws_efs_file_system.this.id

  posix_user {
    uid = var.posix_uid
    gid = var.posix_uid
  }

  root_directory {
    path = each.value
    creation_info {
      owner_uid   = var.posix_uid
      owner_gid   = var.posix_uid
      permissions = "0750"
    }
  }

  tags = merge(var.tags, { Name = "${var.name}-${each.key}" })
}

# Only TLS, only through an access point: a client cannot reach the root or another directory.
data "aws_iam_policy_document" "this" {
  dynamic "statement" {
    for_each = {
      DenyInsecureTransport   = { actions = ["*"], test = "Bool", variable = "aws:SecureTransport", value = "false" }
      DenyOutsideAccessPoints = { actions = ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite", "elasticfilesystem:ClientRootAccess"], test = "Null", variable = "elasticfilesystem:AccessPointArn", value = "true" }
    }
    content {
      sid       = statement.key
      effect    = "Deny"
      actions   = statement.value.actions
      resources = [aws_efs_file_system.this.arn]
      principals {
        type        = "AWS"
        identifiers = ["*"]
      }
      condition {
        test     = statement.value.test
        variable = statement.value.variable
        values   = [statement.value.value]
      }
    }
  }
}

resource "aws_efs_file_system_policy" "this" {
  count = var.enable_file_system_policy ? 1 : 0

  file_system_id = aws_efs_file_system.this.id
  policy         = data.aws_iam_policy_document.this.json
}
