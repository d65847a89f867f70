# prod: two zones with a NAT gateway each, a Multi-AZ database with Performance Insights,
# deletion protection and a final snapshot, two api-servers behind the load balancer. Job tasks
# stay on Fargate Spot (Airflow retries a reclaimed one; set FARGATE for strict deadlines).
module "baton" {
  source = "../../modules/deployment"

  environment     = var.environment
  image_tag       = var.image_tag
  certificate_arn = var.certificate_arn
  domain_name     = var.domain_name
  allowed_cidrs   = var.allowed_cidrs
  source_cidrs    = var.source_cidrs

  single_nat_gateway          = false
  db_instance_class           = "db.t4g.medium"
  db_multi_az                 = true
  db_backup_retention_days    = 14
  enable_performance_insights = true
  log_retention_days          = 365

  services = {
    "api-server" = { desired_count = 2 }
    "scheduler"  = { memory = 4096 }
  }
  jobs_cpu               = 2048
  jobs_memory            = 8192
  jobs_capacity_provider = "FARGATE_SPOT"

  deletion_protection            = true
  skip_final_snapshot            = false
  force_destroy                  = false
  secret_recovery_window_in_days = 30
}
