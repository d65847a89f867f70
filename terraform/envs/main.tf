# dev: the smallest deployment that runs the whole cycle. One NAT gateway, a single-zone
# db.t4g.micro, small Airflow tasks, job tasks on Fargate Spot; everything can be destroyed and
# recreated (no deletion protection, no final snapshot, secrets deleted at once).
module "baton" {
  source = "../../modules/deployment"

  environment     = var.environment
  image_tag       = var.image_tag
  certificate_arn = var.certificate_arn
  domain_name     = var.domain_name
  allowed_cidrs   = var.allowed_cidrs
  source_cidrs    = var.source_cidrs

  single_nat_gateway          = true
  db_instance_class           = "db.t4g.micro"
  db_multi_az                 = false
  db_backup_retention_days    = 3
  enable_performance_insights = false # not offered on db.t4g.micro

  services = {
    "api-server"    = { cpu = 512, memory = 2048 }
    "scheduler"     = { cpu = 512, memory = 2048 }
    "dag-processor" = { cpu = 256, memory = 1024 }
    "triggerer"     = { cpu = 256, memory = 1024 }
  }
  jobs_cpu               = 1024
  jobs_memory            = 4096
  jobs_capacity_provider = "FARGATE_SPOT"

  deletion_protection            = false
  skip_final_snapshot            = true
  force_destroy                  = true
  secret_recovery_window_in_days = 0

  # Secure defaults (true) everywhere but in tests/cloud, which sets emulator = true.
  enable_efs_backup             = !var.emulator
  enable_efs_file_system_policy = !var.emulator
}
