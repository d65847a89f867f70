data "aws_partition" "current" {}

resource "aws_cloudwatch_log_group" "this" {
  name              = var.log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn

  tags = var.tags
}

resource "aws_security_group" "this" {
  #checkov:skip=CKV2_AWS_5:attached at run time: the ecs runner passes it to RunTask for each job (BATON_ECS_SECURITY_GROUPS)
  name        = "${var.name}-jobs"
  description = "Job tasks: no inbound; out to AWS APIs, Postgres and the warehouse"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${var.name}-jobs" })
}

resource "aws_vpc_security_group_egress_rule" "https" {
  security_group_id = aws_security_group.this.id
  description       = "HTTPS: ECR, Secrets Manager, CloudWatch Logs, S3"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_vpc_security_group_egress_rule" "postgres" {
  for_each = toset(concat([var.vpc_cidr], var.source_cidrs))

  security_group_id = aws_security_group.this.id
  description       = "Postgres in ${each.key}: Meltano's system database, source databases"
  cidr_ipv4         = each.key
  ip_protocol       = "tcp"
  from_port         = 5432
  to_port           = 5432
}

resource "aws_vpc_security_group_egress_rule" "efs" {
  security_group_id            = aws_security_group.this.id
  description                  = "NFS to the warehouse"
  referenced_security_group_id = var.efs_security_group_id
  ip_protocol                  = "tcp"
  from_port                    = 2049
  to_port                      = 2049
}

# Task role: what the job itself may do. Only mount its access points. Both roles come from
# modules/task-roles.
data "aws_iam_policy_document" "task" {
  statement {
    sid       = "MountWarehouse"
    actions   = ["elasticfilesystem:ClientMount"]
    resources = [var.efs_file_system_arn]
    condition {
      test     = "StringEquals"
      variable = "elasticfilesystem:AccessPointArn"
      values   = values(var.efs_access_point_arns)
    }
  }
  statement {
    sid       = "WriteWarehouse"
    actions   = ["elasticfilesystem:ClientWrite"]
    resources = [var.efs_file_system_arn]
    condition {
      test     = "StringEquals"
      variable = "elasticfilesystem:AccessPointArn"
      values   = [for k, arn in var.efs_access_point_arns : arn if contains(var.writable_volumes, k)]
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
    for_each = var.efs_access_point_ids
    content {
      name = volume.key
      efs_volume_configuration {
        file_system_id     = var.efs_file_system_id
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
