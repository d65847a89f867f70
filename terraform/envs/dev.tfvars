# dev: the smallest deployment that runs the whole cycle. One NAT gateway, a single-zone
# db.t4g.micro, small Airflow tasks, job tasks on Fargate Spot; everything can be destroyed and
# recreated (no deletion protection, no final snapshot, secrets deleted at once).
# make deploy ENV=dev applies it (terraform apply -var-file=dev.tfvars, image_tag = the commit).
environment = "dev"

# This deployment's site: fill in (no secrets here: they live in Secrets Manager).
# certificate_arn = "arn:aws:acm:eu-central-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"
# domain_name     = "airflow-dev.example.com"
# allowed_cidrs   = ["203.0.113.0/24"] # who may reach the UI
# source_cidrs    = []                 # networks of source databases outside the VPC (port 5432)

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
