resource "aws_db_subnet_group" "this" {
  name       = var.name
  subnet_ids = var.subnet_ids

  tags = var.tags
}

module "security_group" {
  source = "../security-group"

  group = { name = "${var.name}-db", description = "Postgres from the Airflow and job tasks", vpc_id = var.vpc_id }
  rules = var.security_group_rules
  tags  = var.tags
}

resource "aws_db_parameter_group" "this" {
  name   = var.name
  family = var.parameter_group_family

  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }

  parameter {
    name  = "log_connections"
    value = "1"
  }

  parameter {
    name  = "log_disconnections"
    value = "1"
  }

  parameter {
    name  = "log_min_duration_statement"
    value = "1000"
  }

  tags = var.tags
}

data "aws_iam_policy_document" "monitoring_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["monitoring.rds.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "monitoring" {
  count = var.monitoring_interval > 0 ? 1 : 0

  name               = "${var.name}-rds-monitoring"
  assume_role_policy = data.aws_iam_policy_document.monitoring_assume.json

  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "monitoring" {
  count = var.monitoring_interval > 0 ? 1 : 0

  role       = aws_iam_role.monitoring[0].name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
}

data "aws_partition" "current" {}

# Without RDS-managed passwords: a generated one, never in state (write-only), kept in a secret
# shaped like the managed one ({"username", "password"}) so consumers need not care which.
ephemeral "aws_secretsmanager_random_password" "master" {
  count = var.manage_master_user_password ? 0 : 1

  password_length     = 40
  exclude_punctuation = true
}

resource "aws_secretsmanager_secret" "master" {
  #checkov:skip=CKV2_AWS_57:only created where RDS cannot manage (and rotate) the master password itself; rotate by bumping master_password_version
  count = var.manage_master_user_password ? 0 : 1

  name                    = "${var.name}/db-master"
  description             = "Master user of ${var.name} (RDS-managed rotation is off)"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = var.secret_recovery_window_in_days

  tags = var.tags
}

resource "aws_secretsmanager_secret_version" "master" {
  count = var.manage_master_user_password ? 0 : 1

  secret_id                = aws_secretsmanager_secret.master[0].id
  secret_string_wo         = jsonencode({ username = var.master_username, password = ephemeral.aws_secretsmanager_random_password.master[0].random_password })
  secret_string_wo_version = var.master_password_version
}

resource "aws_db_instance" "this" {
  identifier     = var.name
  engine         = "postgres"
  engine_version = var.engine_version
  instance_class = var.instance_class

  # No database here: the api-server's init container creates airflow and meltano, each owned by
  # its own role (a database created here would belong to the master user).
  username                      = var.master_username
  manage_master_user_password   = var.manage_master_user_password ? true : null
  master_user_secret_kms_key_id = var.manage_master_user_password ? var.kms_key_arn : null
  password_wo                   = var.manage_master_user_password ? null : ephemeral.aws_secretsmanager_random_password.master[0].random_password
  password_wo_version           = var.manage_master_user_password ? null : var.master_password_version

  allocated_storage     = var.allocated_storage
  max_allocated_storage = var.max_allocated_storage
  storage_type          = "gp3"
  storage_encrypted     = true
  kms_key_id            = var.kms_key_arn

  db_subnet_group_name   = aws_db_subnet_group.this.name
  vpc_security_group_ids = [module.security_group.id]
  parameter_group_name   = aws_db_parameter_group.this.name
  publicly_accessible    = false
  multi_az               = var.multi_az
  ca_cert_identifier     = "rds-ca-rsa2048-g1"

  iam_database_authentication_enabled = true
  auto_minor_version_upgrade          = true
  enabled_cloudwatch_logs_exports     = ["postgresql", "upgrade"]
  monitoring_interval                 = var.monitoring_interval
  monitoring_role_arn                 = var.monitoring_interval > 0 ? aws_iam_role.monitoring[0].arn : null

  performance_insights_enabled    = var.enable_performance_insights
  performance_insights_kms_key_id = var.enable_performance_insights ? var.kms_key_arn : null

  backup_retention_period   = var.backup_retention_period
  copy_tags_to_snapshot     = true
  deletion_protection       = var.deletion_protection
  skip_final_snapshot       = var.skip_final_snapshot
  final_snapshot_identifier = var.skip_final_snapshot ? null : "${var.name}-final"

  tags = var.tags
}
