provider "aws" {
  region = var.region

  # Empty in real use. tests/cloud points every service at a local AWS emulator (moto) through
  # aws_endpoint_url; the skips below avoid calls the emulator does not need.
  skip_credentials_validation = var.aws_endpoint_url != ""
  skip_requesting_account_id  = var.aws_endpoint_url != ""
  skip_metadata_api_check     = var.aws_endpoint_url != ""
  s3_use_path_style           = var.aws_endpoint_url != ""

  dynamic "endpoints" {
    for_each = var.aws_endpoint_url == "" ? [] : [var.aws_endpoint_url]
    content {
      acm              = endpoints.value
      ec2              = endpoints.value
      ecr              = endpoints.value
      ecs              = endpoints.value
      efs              = endpoints.value
      elbv2            = endpoints.value
      iam              = endpoints.value
      kms              = endpoints.value
      logs             = endpoints.value
      rds              = endpoints.value
      s3               = endpoints.value
      secretsmanager   = endpoints.value
      servicediscovery = endpoints.value
      sts              = endpoints.value
    }
  }

  default_tags {
    tags = { Project = "baton", Environment = var.environment }
  }
}
