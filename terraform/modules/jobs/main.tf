data "aws_partition" "current" {}

resource "aws_cloudwatch_log_group" "this" {
  name              = var.log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn

  tags = var.tags
}

module "security_group" {
  #checkov:skip=CKV2_AWS_5:attached at run time: the ecs runner passes it to RunTask for each job (BATON_ECS_SECURITY_GROUPS)
  source = "../security-group"

  group = { name = "${var.name}-jobs", description = "Job tasks: no inbound; out to AWS APIs and S3, Postgres, the file sources' folders", vpc_id = var.vpc_id }
  rules = var.security_group_rules
  tags  = var.tags
}

# Task role: what the job itself may do: mount its access points (write only the writable ones)
# and whatever the caller adds (the lake's prefix). Both roles come from modules/task-roles.
locals {
  efs_statements = var.efs == null ? {} : {
    MountVolumes = { action = "elasticfilesystem:ClientMount", access_points = values(var.efs.access_point_arns) }
    WriteVolumes = { action = "elasticfilesystem:ClientWrite", access_points = [for k, arn in var.efs.access_point_arns : arn if contains(var.efs.writable, k)] }
  }
}

data "aws_iam_policy_document" "task" {
  source_policy_documents = var.task_policy_documents

  dynamic "statement" {
    for_each = { for sid, s in local.efs_statements : sid => s if length(s.access_points) > 0 }
    content {
      sid       = statement.key
      actions   = [statement.value.action]
      resources = [var.efs.file_system_arn]
      condition {
        test     = "StringEquals"
        variable = "elasticfilesystem:AccessPointArn"
        values   = statement.value.access_points
      }
    }
  }
}

module "roles" {
  source = "../task-roles"

  name             = "${var.name}-jobs"
  task_policy_json = data.aws_iam_policy_document.task.json
  repository_arn   = var.repository_arn
  log_group_arn    = aws_cloudwatch_log_group.this.arn
  secret_arns      = var.secret_arns
  kms_key_arn      = var.kms_key_arn
  tags             = var.tags
}

# One task definition, no service: the ecs runner starts a task per job with its command.
resource "aws_ecs_task_definition" "this" {
  family                   = var.spec.family
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.spec.cpu
  memory                   = var.spec.memory
  execution_role_arn       = module.roles.execution_role_arn
  task_role_arn            = module.roles.task_role_arn
  container_definitions    = var.spec.container_definitions_json

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  dynamic "volume" {
    for_each = var.efs == null ? {} : var.efs.access_point_ids
    content {
      name = volume.key
      efs_volume_configuration {
        file_system_id     = var.efs.file_system_id
        transit_encryption = "ENABLED"
        authorization_config {
          access_point_id = volume.value
          iam             = "ENABLED"
        }
      }
    }
  }

  tags = var.tags
}
