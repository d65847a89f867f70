# prod: two zones with a NAT gateway each, a Multi-AZ database with Performance Insights,
# deletion protection and a final snapshot, two api-servers behind the load balancer. Job tasks
# stay on Fargate Spot (Airflow retries a reclaimed one; set FARGATE for strict deadlines).
# Everything not set here is modules/deployment's default, which is the production setting.
environment = "prod"

# This deployment's site: fill in (no secrets here: they live in Secrets Manager).
# certificate_arn = "arn:aws:acm:eu-central-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"
# site = {
#   domain_name   = "airflow.example.com"
#   allowed_cidrs = ["203.0.113.0/24"] # who may reach the UI
# }
# network = { source_cidrs = [] } # networks of source databases outside the VPC (port 5432)
# Sign-in through the company's OpenID Connect provider (the client secret: TF_VAR_oidc_client_secret).
# oidc = {
#   issuer       = "https://login.example.com/realms/data"
#   client_id    = "baton-prod"
#   role_mapping = { "data-engineers" = "Op", "analysts" = "Viewer" }
# }

database = {
  instance_class = "db.t4g.medium"
  multi_az       = true
}

services = {
  "api-server" = { desired_count = 2 }
  "scheduler"  = { memory = 4096 }
}

jobs = {
  cpu               = 2048
  memory            = 8192
  capacity_provider = "FARGATE_SPOT"
}
