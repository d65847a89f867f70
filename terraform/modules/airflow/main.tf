data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  task_arn = "arn:${data.aws_partition.current.partition}:ecs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:task/${var.cluster_name}/*"
}

resource "aws_cloudwatch_log_group" "this" {
  name              = var.log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn

  tags = var.tags
}

resource "aws_cloudwatch_log_group" "task_logs" {
  name              = var.task_log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn

  tags = var.tags
}

module "security_group" {
  source = "../security-group"

  group = { name = "${var.name}-airflow", description = "Airflow components: the api-server from the ALB and from the other components", vpc_id = var.vpc_id }
  rules = var.security_group_rules
  tags  = var.tags
}

# Task role: what Airflow itself does: read the DAG bundle, write task logs, run job tasks.
# Both roles come from modules/task-roles.
data "aws_iam_policy_document" "task" {
  statement {
    sid       = "ListDagBundle"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = [var.dag_bucket_arn]
  }
  statement {
    sid       = "ReadDagBundle"
    actions   = ["s3:GetObject"]
    resources = ["${var.dag_bucket_arn}/*"]
  }
  statement {
    sid       = "RunJobTasks"
    actions   = ["ecs:RunTask"]
    resources = ["${var.jobs_task_definition_arn}:*"]
    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [var.cluster_arn]
    }
  }
  statement {
    sid       = "FollowJobTasks"
    actions   = ["ecs:DescribeTasks", "ecs:StopTask"]
    resources = [local.task_arn]
  }
  statement {
    sid       = "PassJobRoles"
    actions   = ["iam:PassRole"]
    resources = var.jobs_role_arns
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com"]
    }
  }
  statement {
    sid       = "ReadJobLogs"
    actions   = ["logs:GetLogEvents", "logs:DescribeLogStreams", "logs:FilterLogEvents"]
    resources = [var.jobs_log_group_arn, "${var.jobs_log_group_arn}:*"]
  }
  statement {
    sid       = "TaskLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:GetLogEvents", "logs:DescribeLogStreams", "logs:FilterLogEvents"]
    resources = [aws_cloudwatch_log_group.task_logs.arn, "${aws_cloudwatch_log_group.task_logs.arn}:*"]
  }
  statement {
    sid       = "DecryptBundleAndLogs"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }
}

module "roles" {
  source = "../task-roles"

  name             = "${var.name}-airflow"
  task_policy_json = data.aws_iam_policy_document.task.json
  repository_arn   = var.repository_arn
  log_group_arn    = aws_cloudwatch_log_group.this.arn
  secret_arns      = var.secret_arns
  kms_key_arn      = var.kms_key_arn
  tags             = var.tags
}

resource "aws_ecs_task_definition" "this" {
  for_each = var.services

  family                   = each.value.family
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = each.value.cpu
  memory                   = each.value.memory
  execution_role_arn       = module.roles.execution_role_arn
  task_role_arn            = module.roles.task_role_arn
  container_definitions    = each.value.container_definitions_json

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  tags = var.tags

  depends_on = [aws_cloudwatch_log_group.this]
}

# The four components from one map; FARGATE (not Spot): the scheduler and api-server must stay up.
resource "aws_ecs_service" "this" {
  for_each = var.services

  name                               = each.key
  cluster                            = var.cluster_arn
  task_definition                    = aws_ecs_task_definition.this[each.key].arn
  desired_count                      = each.value.desired_count
  platform_version                   = "LATEST"
  propagate_tags                     = "SERVICE"
  enable_execute_command             = false
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  health_check_grace_period_seconds  = each.value.port != null ? var.health_check_grace_period : null

  capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 1
  }

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = [module.security_group.id]
    assign_public_ip = false
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  dynamic "load_balancer" {
    for_each = each.value.port != null ? [each.value.port] : []
    content {
      target_group_arn = var.target_group_arn
      container_name   = each.value.container
      container_port   = load_balancer.value
    }
  }

  # Every component is a Service Connect client (it reaches http://api-server:<port>); the
  # api-server also serves under that name.
  dynamic "service_connect_configuration" {
    for_each = var.service_connect_namespace_arn != null ? [1] : []
    content {
      enabled   = true
      namespace = var.service_connect_namespace_arn

      dynamic "service" {
        for_each = each.value.port != null ? [each.value.port] : []
        content {
          port_name      = each.key
          discovery_name = each.key
          client_alias {
            port     = service.value
            dns_name = each.key
          }
        }
      }
    }
  }

  tags = var.tags
}
