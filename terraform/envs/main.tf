# One deployment of baton. The environments differ only in their variables: <env>.tfvars holds
# the sizes and switches, <env>.s3.tfbackend the state key (see terraform/README.md).
module "baton" {
  source = "../modules/deployment"

  environment     = var.environment
  image_tag       = var.image_tag
  certificate_arn = var.certificate_arn

  # Sizes and switches, as objects: null (not set in <env>.tfvars), or an attribute left out,
  # takes modules/deployment's default.
  site       = var.site
  network    = var.network
  database   = var.database
  protection = var.protection
  services   = var.services
  jobs       = var.jobs
  warehouse  = var.warehouse
  oidc       = var.oidc
  # Ephemeral: written to Secrets Manager, never to the plan or the state.
  oidc_client_secret = var.oidc_client_secret
  secret_generation  = var.secret_generation

  # Secure defaults (true) everywhere but in tests/cloud, which sets emulator = true.
  enable_efs_backup             = !var.emulator
  enable_efs_file_system_policy = !var.emulator
}
