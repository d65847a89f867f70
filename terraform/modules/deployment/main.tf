# One baton deployment: every module wired together. envs/ calls this with an environment's sizes.
# Who may talk to whom (every security group rule) is in security.tf.

data "aws_region" "current" {}

locals {
  name = "${var.project}-${var.environment}"
  tags = merge({ Project = var.project, Environment = var.environment, ManagedBy = "terraform" }, var.tags)
  # Named zones, not "whatever is available now": the subnets do not move when AWS adds a zone.
  azs  = length(var.availability_zones) > 0 ? var.availability_zones : [for suffix in slice(["a", "b", "c"], 0, var.az_count) : "${data.aws_region.current.name}${suffix}"]
  lake = var.warehouse == "lake"
  oidc = var.oidc.issuer != ""
  # EFS only for volumes: the folders file sources read and, in files mode, the warehouse.
  efs = length(module.spec.jobs_volumes) > 0
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
  single_nat_gateway  = var.network.single_nat_gateway
  interface_endpoints = var.network.interface_endpoints
  log_retention_days  = var.protection.log_retention_days
  kms_key_arn         = module.kms.key_arn
  tags                = local.tags
}

module "ecr" {
  source = "../ecr"

  name         = local.name
  images       = ["airflow", "jobs"]
  kms_key_arn  = module.kms.key_arn
  force_delete = var.protection.force_destroy
  tags         = local.tags
}

module "dag_bucket" {
  source = "../bucket"

  name          = "${local.name}-dags-${module.kms.account_id}"
  kms_key_arn   = module.kms.key_arn
  force_destroy = var.protection.force_destroy
  tags          = local.tags
}

# The lake's data (S3); its catalog is the `lake` database on the RDS instance below.
module "lake" {
  source = "../lake"
  count  = local.lake ? 1 : 0

  name          = local.name
  bucket_name   = "${local.name}-lake-${module.kms.account_id}"
  kms_key_arn   = module.kms.key_arn
  force_destroy = var.protection.force_destroy
  tags          = local.tags
}

module "rds" {
  source = "../rds"

  name                           = local.name
  vpc_id                         = module.network.vpc_id
  subnet_ids                     = module.network.private_subnet_ids
  security_group_rules           = local.security_rules.database
  instance_class                 = var.database.instance_class
  multi_az                       = var.database.multi_az
  kms_key_arn                    = module.kms.key_arn
  backup_retention_period        = var.database.backup_retention_days
  deletion_protection            = var.protection.deletion_protection
  skip_final_snapshot            = var.protection.skip_final_snapshot
  enable_performance_insights    = var.database.performance_insights
  monitoring_interval            = var.database.monitoring_interval
  secret_recovery_window_in_days = var.protection.secret_recovery_window_in_days
  tags                           = local.tags
}

locals {
  automation_user = module.spec.settings["BATON_AUTOMATION_USER"]
  # Each application's own role and database on the RDS instance (the init container creates
  # them); the lake's catalog has a second, read-only role for readers outside the stack.
  database_urls = merge(
    {
      "airflow-db-url" = { role = "airflow", database = "airflow", scheme = "postgresql+psycopg2", description = "Airflow's metadata database URL (role and database airflow)" }
      "meltano-db-url" = { role = "meltano", database = "meltano", scheme = "postgresql+psycopg", description = "Meltano's system database URL (role and database meltano): state of every source" }
    },
    local.lake ? {
      "lake-catalog-url" = { role = "lake", database = "lake", description = "The lake's DuckLake catalog (role and database lake): jobs read and write it" }
      "lake-reader-url"  = { role = "lake_reader", database = "lake", description = "The lake's catalog, read-only role lake_reader: for readers outside the stack (ATTACH ... READ_ONLY)" }
    } : {},
  )
}

module "secrets" {
  source = "../secrets"

  name          = local.name
  kms_key_arn   = module.kms.key_arn
  database_host = module.rds.address
  database_port = module.rds.port
  generation    = var.secret_generation
  database_urls = local.database_urls
  passwords = {
    "airflow-admin-password" = "Password of the first Airflow admin (BATON_AIRFLOW_USER of settings.env): BATON_AIRFLOW_PASSWORD"
    "automation-password"    = "Password of the service account ${local.automation_user} (role Op): CI/CD and batonctl, BATON_AUTOMATION_PASSWORD"
  }
  given_secrets = local.oidc ? { "oidc-client-secret" = { description = "Client secret at the OIDC provider ${var.oidc.issuer}: BATON_OIDC_CLIENT_SECRET", version = var.oidc.client_secret_version } } : {}
  given_values  = local.oidc ? { "oidc-client-secret" = var.oidc_client_secret } : {}
  # One secret per variable the sources declare in their `baton:` blocks (module spec).
  external_secrets        = { for env, s in module.spec.source_secrets : s.key => s.description }
  recovery_window_in_days = var.protection.secret_recovery_window_in_days
  tags                    = local.tags
}

module "efs" {
  source = "../efs"
  count  = local.efs ? 1 : 0

  name                 = local.name
  vpc_id               = module.network.vpc_id
  subnet_ids           = module.network.private_subnet_ids
  security_group_rules = local.security_rules.efs
  # One access point per volume of the job task (module spec).
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

  name                 = local.name
  vpc_id               = module.network.vpc_id
  subnet_ids           = module.network.public_subnet_ids
  security_group_rules = local.security_rules.load_balancer
  certificate_arn      = var.certificate_arn
  target_port          = module.spec.api_port # BATON_AIRFLOW_PORT of settings.env
  deletion_protection  = var.protection.deletion_protection
  tags                 = local.tags
}

locals {
  secrets = module.secrets.arns
  airflow_secrets = {
    AIRFLOW__API_AUTH__JWT_SECRET       = local.secrets["jwt-secret"]
    AIRFLOW__CORE__FERNET_KEY           = local.secrets["fernet-key"]
    AIRFLOW__API__SECRET_KEY            = local.secrets["api-secret-key"]
    AIRFLOW__DATABASE__SQL_ALCHEMY_CONN = local.secrets["airflow-db-url"]
  }
  # Sign-in through an OpenID Connect provider: the api-server's client secret.
  api_server_secrets = local.oidc ? { BATON_OIDC_CLIENT_SECRET = local.secrets["oidc-client-secret"] } : {}
  # baton-airflow-init creates the applications' roles and databases as the RDS master user, and
  # the accounts it sets the passwords of: the first admin and the service account (FAB auth manager).
  init_secrets = merge(
    {
      BATON_DB_ADMIN_USER       = "${module.rds.master_user_secret_arn}:username::"
      BATON_DB_ADMIN_PASSWORD   = "${module.rds.master_user_secret_arn}:password::"
      MELTANO_DATABASE_URI      = local.secrets["meltano-db-url"]
      BATON_AIRFLOW_PASSWORD    = local.secrets["airflow-admin-password"]
      BATON_AUTOMATION_PASSWORD = local.secrets["automation-password"]
    },
    local.lake ? { BATON_LAKE_CATALOG_URL = local.secrets["lake-catalog-url"], BATON_LAKE_READER_URL = local.secrets["lake-reader-url"] } : {},
  )
  jobs_secrets = merge(
    { MELTANO_DATABASE_URI = local.secrets["meltano-db-url"] },
    local.lake ? { BATON_LAKE_CATALOG_URL = local.secrets["lake-catalog-url"] } : {},
  )
}

module "spec" {
  source = "../spec"

  name                    = local.name
  region                  = data.aws_region.current.name
  airflow_image           = "${module.ecr.repository_urls["airflow"]}:${var.image_tag}"
  jobs_image              = "${module.ecr.repository_urls["jobs"]}:${var.image_tag}"
  task_log_group_arn      = module.airflow.task_log_group_arn
  airflow_secrets         = local.airflow_secrets
  api_server_secrets      = local.api_server_secrets
  init_secrets            = local.init_secrets
  jobs_secrets            = local.jobs_secrets
  secret_arns             = local.secrets
  api_base_url            = "https://${coalesce(var.site.domain_name, module.alb.dns_name)}/"
  dag_bucket              = module.dag_bucket.name
  jobs_subnet_ids         = module.network.private_subnet_ids
  jobs_security_group_ids = [module.jobs.security_group_id]
  services                = var.services
  jobs                    = var.jobs
  warehouse               = var.warehouse
  lake_data_path          = local.lake ? module.lake[0].data_path : ""
  oidc                    = local.oidc ? var.oidc : null
}

module "jobs" {
  source = "../jobs"

  name                 = local.name
  spec                 = module.spec.jobs
  log_group_name       = module.spec.names.jobs_log_group
  vpc_id               = module.network.vpc_id
  security_group_rules = local.security_rules.jobs
  efs = local.efs ? {
    file_system_id    = module.efs[0].id
    file_system_arn   = module.efs[0].arn
    access_point_ids  = module.efs[0].access_point_ids
    access_point_arns = module.efs[0].access_point_arns
    writable          = [for name, v in module.spec.jobs_volumes : name if !v.read_only]
  } : null
  # The lake: read and write under its prefix only.
  task_policy_documents = local.lake ? [module.lake[0].read_write_policy_json] : []
  repository_arn        = module.ecr.repository_arns["jobs"]
  secret_arns           = distinct(values(module.spec.jobs_secrets))
  kms_key_arn           = module.kms.key_arn
  log_retention_days    = var.protection.log_retention_days
  tags                  = local.tags
}

module "airflow" {
  source = "../airflow"

  name                          = local.name
  services                      = module.spec.services
  cluster_arn                   = module.cluster.arn
  cluster_name                  = module.cluster.name
  vpc_id                        = module.network.vpc_id
  subnet_ids                    = module.network.private_subnet_ids
  security_group_rules          = local.security_rules.airflow
  target_group_arn              = module.alb.target_group_arn
  service_connect_namespace_arn = module.cluster.service_connect_namespace_arn
  log_group_name                = module.spec.names.airflow_log_group
  task_log_group_name           = module.spec.names.task_log_group
  log_retention_days            = var.protection.log_retention_days
  repository_arn                = module.ecr.repository_arns["airflow"]
  secret_arns                   = distinct(concat(values(local.airflow_secrets), values(local.api_server_secrets), values(local.init_secrets)))
  kms_key_arn                   = module.kms.key_arn
  dag_bucket_arn                = module.dag_bucket.arn
  jobs_task_definition_arn      = module.jobs.task_definition_arn_without_revision
  jobs_role_arns                = [module.jobs.execution_role_arn, module.jobs.task_role_arn]
  jobs_log_group_arn            = module.jobs.log_group_arn
  tags                          = local.tags
}
