# dev: the smallest deployment that runs the whole cycle. One NAT gateway, a single-zone
# db.t4g.micro, small Airflow tasks, job tasks on Fargate Spot; everything can be destroyed and
# recreated (no deletion protection, no final snapshot, secrets deleted at once).
# make deploy ENV=dev applies it (terraform apply -var-file=dev.tfvars, image_tag = the commit).
environment = "dev"

# This deployment's site: fill in (no secrets here: they live in Secrets Manager).
# certificate_arn = "arn:aws:acm:eu-central-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"
# site = {
#   domain_name   = "airflow-dev.example.com"
#   allowed_cidrs = ["203.0.113.0/24"] # who may reach the UI
# }
# Sign-in through the company's OpenID Connect provider (the client secret: TF_VAR_oidc_client_secret).
# oidc = {
#   issuer       = "https://login.example.com/realms/data"
#   client_id    = "baton-dev"
#   role_mapping = { "data-engineers" = "Op", "analysts" = "Viewer" }
# }

network = {
  single_nat_gateway = true
  # source_cidrs     = [] # networks of source databases outside the VPC (port 5432)
}

database = {
  instance_class        = "db.t4g.micro"
  multi_az              = false
  backup_retention_days = 3
  performance_insights  = false # not offered on db.t4g.micro
}

services = {
  "api-server"    = { cpu = 512, memory = 2048 }
  "scheduler"     = { cpu = 512, memory = 2048 }
  "dag-processor" = { cpu = 256, memory = 1024 }
  "triggerer"     = { cpu = 256, memory = 1024 }
}

# The job task's size is each job's limit: DuckDB spills to disk beyond it.
jobs = {
  cpu               = 1024
  memory            = 2048
  capacity_provider = "FARGATE_SPOT"
}

protection = {
  deletion_protection            = false
  skip_final_snapshot            = true
  force_destroy                  = true
  secret_recovery_window_in_days = 0
}
