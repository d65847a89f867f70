# prod: two zones with a NAT gateway each, a Multi-AZ database with Performance Insights,
# deletion protection and a final snapshot, two api-servers behind the load balancer. Job tasks
# stay on Fargate Spot (Airflow retries a reclaimed one; set FARGATE for strict deadlines).
# Everything not set here is modules/deployment's default, which is the production setting.
environment = "prod"

# This deployment's site: fill in (no secrets here: they live in Secrets Manager).
# certificate_arn = "arn:aws:acm:eu-central-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"
# domain_name     = "airflow.example.com"
# allowed_cidrs   = ["203.0.113.0/24"] # who may reach the UI
# source_cidrs    = []                 # networks of source databases outside the VPC (port 5432)

db_instance_class = "db.t4g.medium"
db_multi_az       = true

services = {
  "api-server" = { desired_count = 2 }
  "scheduler"  = { memory = 4096 }
}
jobs_cpu               = 2048
jobs_memory            = 8192
jobs_capacity_provider = "FARGATE_SPOT"
