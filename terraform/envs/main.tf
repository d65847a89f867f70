# One deployment of baton. The environments differ only in their variables: <env>.tfvars holds
# the sizes and switches, <env>.s3.tfbackend the state key (see terraform/README.md).
module "baton" {
  source = "../modules/deployment"

  environment     = var.environment
  image_tag       = var.image_tag
  certificate_arn = var.certificate_arn
  domain_name     = var.domain_name
  allowed_cidrs   = var.allowed_cidrs
  source_cidrs    = var.source_cidrs

  # Sizes and switches: null (not set in <env>.tfvars) takes modules/deployment's default.
  single_nat_gateway             = var.single_nat_gateway
  interface_endpoints            = var.interface_endpoints
  db_instance_class              = var.db_instance_class
  db_multi_az                    = var.db_multi_az
  db_backup_retention_days       = var.db_backup_retention_days
  enable_performance_insights    = var.enable_performance_insights
  services                       = var.services
  jobs_cpu                       = var.jobs_cpu
  jobs_memory                    = var.jobs_memory
  jobs_capacity_provider         = var.jobs_capacity_provider
  deletion_protection            = var.deletion_protection
  skip_final_snapshot            = var.skip_final_snapshot
  force_destroy                  = var.force_destroy
  secret_recovery_window_in_days = var.secret_recovery_window_in_days
  log_retention_days             = var.log_retention_days
  secret_generation              = var.secret_generation

  # Secure defaults (true) everywhere but in tests/cloud, which sets emulator = true.
  enable_efs_backup             = !var.emulator
  enable_efs_file_system_policy = !var.emulator
}
