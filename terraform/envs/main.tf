# One deployment of baton. The environments differ only in their variables: <env>.tfvars holds
# the sizes and switches, <env>.s3.tfbackend the state key (see terraform/README.md).
module "baton" {
  source = "../modules/deployment"

  environment     = var.environment
  image_tag       = var.image_tag
  certificate_arn = var.certificate_arn

  # Sizes and switches, as objects: null (not set in <env>.tfvars), or an attribute left out,
  # takes modules/deployment's default.
  site                       = var.site
  network                    = var.network
  database                   = var.database
  protection                 = var.protection
  services                   = var.services
  job_cpu                    = var.job_cpu
  job_memory                 = var.job_memory
  job_capacity_provider      = var.job_capacity_provider
  warehouse                  = var.warehouse
  oidc_issuer                = var.oidc_issuer
  oidc_client_id             = var.oidc_client_id
  oidc_client_secret         = var.oidc_client_secret
  oidc_client_secret_version = var.oidc_client_secret_version
  oidc_role_mapping          = var.oidc_role_mapping
  secret_generation          = var.secret_generation

  # Secure defaults (true) everywhere but in tests/cloud, which sets emulator = true.
  enable_efs_backup             = !var.emulator
  enable_efs_file_system_policy = !var.emulator
}
