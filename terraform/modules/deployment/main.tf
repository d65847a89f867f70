# One baton deployment: every module wired together. envs/<env> call this with their sizes.

data "aws_region" "current" {}

locals {
  name = "${var.project}-${var.environment}"
  tags = merge({ Project = var.project, Environment = var.environment, ManagedBy = "terraform" }, var.tags)
  # Named zones, not "whatever is available now": the subnets do not move when AWS adds a zone.
  azs = length(var.availability_zones) > 0 ? var.availability_zones : [for suffix in slice(["a", "b", "c"], 0, var.az_count) : "${data.aws_region.current.name}${suffix}"]
}

module "kms" {
  source = "../kms"

  name = local.name
  tags = local.tags
}

module "network" {
  source = "../network"

  name                = local.name
  cidr                = var.vpc_cidr
  azs                 = local.azs
  single_nat_gateway  = var.single_nat_gateway
  interface_endpoints = var.interface_endpoints
  log_retention_days  = var.log_retention_days
  kms_key_arn         = module.kms.key_arn
  tags                = local.tags
}

module "ecr" {
  source = "../ecr"

  name         = local.name
  images       = ["airflow", "jobs"]
  kms_key_arn  = module.kms.key_arn
  force_delete = var.force_destroy
  tags         = local.tags
}

module "dag_bucket" {
  source = "../dag-bucket"

  name          = "${local.name}-dags-${module.kms.account_id}"
  kms_key_arn   = module.kms.key_arn
  force_destroy = var.force_destroy
  tags          = local.tags
}

module "rds" {
  source = "../rds"

  name                           = local.name
  vpc_id                         = module.network.vpc_id
  subnet_ids                     = module.network.private_subnet_ids
  allowed_security_groups        = { airflow = module.airflow.security_group_id, jobs = module.jobs.security_group_id }
  instance_class                 = var.db_instance_class
  multi_az                       = var.db_multi_az
  kms_key_arn                    = module.kms.key_arn
  backup_retention_period        = var.db_backup_retention_days
  deletion_protection            = var.deletion_protection
  skip_final_snapshot            = var.skip_final_snapshot
  enable_performance_insights    = var.enable_performance_insights
  monitoring_interval            = var.db_monitoring_interval
  secret_recovery_window_in_days = var.secret_recovery_window_in_days
  tags                           = local.tags
}

module "secrets" {
  source = "../secrets"

  name          = local.name
  kms_key_arn   = module.kms.key_arn
  database_host = module.rds.address
  database_port = module.rds.port
  generation    = var.secret_generation
  # One secret per variable the sources declare in their `baton:` blocks (module spec).
  external_secrets        = { for env, s in module.spec.source_secrets : s.key => s.description }
  recovery_window_in_days = var.secret_recovery_window_in_days
  tags                    = local.tags
}

module "efs" {
  source = "../efs"

  name                    = local.name
  vpc_id                  = module.network.vpc_id
  subnet_ids              = module.network.private_subnet_ids
  allowed_security_groups = { jobs = module.jobs.security_group_id }
  # The warehouse and one access point per folder the sources declare (module spec).
  access_points = { for name, v in module.spec.jobs_volumes : name => v.path }
  kms_key_arn   = module.kms.key_arn
  enable_backup = var.enable_efs_backup
  # Emulators lack these two; on AWS both stay on (defaults).
  enable_file_system_policy = var.enable_efs_file_system_policy
  tags                      = local.tags
}

module "cluster" {
  source = "../ecs-cluster"

  name                   = module.spec.names.cluster
  enable_service_connect = true # tasks reach the execution API at http://api-server:<BATON_AIRFLOW_PORT>
  tags                   = local.tags
}

module "alb" {
  source = "../alb"

  name                = local.name
  vpc_id              = module.network.vpc_id
  vpc_cidr            = module.network.vpc_cidr
  subnet_ids          = module.network.public_subnet_ids
  allowed_cidrs       = var.allowed_cidrs
  certificate_arn     = var.certificate_arn
  target_port         = module.spec.api_port # BATON_AIRFLOW_PORT of settings.env
  deletion_protection = var.deletion_protection
  tags                = local.tags
}

locals {
  secrets = module.secrets.arns
  airflow_secrets = {
    AIRFLOW__API_AUTH__JWT_SECRET       = local.secrets["jwt-secret"]
    AIRFLOW__CORE__FERNET_KEY           = local.secrets["fernet-key"]
    AIRFLOW__API__SECRET_KEY            = local.secrets["api-secret-key"]
    AIRFLOW__DATABASE__SQL_ALCHEMY_CONN = local.secrets["airflow-db-url"]
  }
  # baton-airflow-init creates the applications' roles and databases as the RDS master user.
  init_secrets = {
    BATON_DB_ADMIN_USER     = "${module.rds.master_user_secret_arn}:username::"
    BATON_DB_ADMIN_PASSWORD = "${module.rds.master_user_secret_arn}:password::"
    MELTANO_DATABASE_URI    = local.secrets["meltano-db-url"]
  }
}

module "spec" {
  source = "../spec"

  name                    = local.name
  region                  = data.aws_region.current.name
  airflow_image           = "${module.ecr.repository_urls["airflow"]}:${var.image_tag}"
  jobs_image              = "${module.ecr.repository_urls["jobs"]}:${var.image_tag}"
  task_log_group_arn      = module.airflow.task_log_group_arn
  airflow_secrets         = local.airflow_secrets
  init_secrets            = local.init_secrets
  jobs_secrets            = { MELTANO_DATABASE_URI = local.secrets["meltano-db-url"] }
  secret_arns             = local.secrets
  api_base_url            = "https://${coalesce(var.domain_name, module.alb.dns_name)}/"
  dag_bucket              = module.dag_bucket.name
  jobs_subnet_ids         = module.network.private_subnet_ids
  jobs_security_group_ids = [module.jobs.security_group_id]
  jobs_capacity_provider  = var.jobs_capacity_provider
  services                = var.services
  jobs_cpu                = var.jobs_cpu
  jobs_memory             = var.jobs_memory
}

module "jobs" {
  source = "../jobs"

  name                  = local.name
  spec                  = module.spec.jobs
  log_group_name        = module.spec.names.jobs_log_group
  vpc_id                = module.network.vpc_id
  vpc_cidr              = module.network.vpc_cidr
  source_cidrs          = var.source_cidrs
  efs_security_group_id = module.efs.security_group_id
  efs_file_system_id    = module.efs.id
  efs_file_system_arn   = module.efs.arn
  efs_access_point_ids  = module.efs.access_point_ids
  efs_access_point_arns = module.efs.access_point_arns
  repository_arn        = module.ecr.repository_arns["jobs"]
  secret_arns           = distinct(values(module.spec.jobs_secrets))
  writable_volumes      = [for name, v in module.spec.jobs_volumes : name if !v.read_only]
  kms_key_arn           = module.kms.key_arn
  log_retention_days    = var.log_retention_days
  tags                  = local.tags
}

module "airflow" {
  source = "../airflow"

  name                            = local.name
  services                        = module.spec.services
  cluster_arn                     = module.cluster.arn
  cluster_name                    = module.cluster.name
  vpc_id                          = module.network.vpc_id
  vpc_cidr                        = module.network.vpc_cidr
  subnet_ids                      = module.network.private_subnet_ids
  load_balancer_security_group_id = module.alb.security_group_id
  target_group_arn                = module.alb.target_group_arn
  service_connect_namespace_arn   = module.cluster.service_connect_namespace_arn
  log_group_name                  = module.spec.names.airflow_log_group
  task_log_group_name             = module.spec.names.task_log_group
  log_retention_days              = var.log_retention_days
  repository_arn                  = module.ecr.repository_arns["airflow"]
  secret_arns                     = concat(values(local.airflow_secrets), [local.secrets["meltano-db-url"], module.rds.master_user_secret_arn])
  kms_key_arn                     = module.kms.key_arn
  dag_bucket_arn                  = module.dag_bucket.arn
  jobs_task_definition_arn        = module.jobs.task_definition_arn_without_revision
  jobs_role_arns                  = [module.jobs.execution_role_arn, module.jobs.task_role_arn]
  jobs_log_group_arn              = module.jobs.log_group_arn
  tags                            = local.tags
}
