# State in S3, locked with S3's native lock file (no DynamoDB table). The bucket and region come at
# init: terraform init -backend-config="bucket=<state bucket>" -backend-config="region=<region>"
# (make deploy passes TF_STATE_BUCKET and AWS_REGION).
terraform {
  backend "s3" {
    key          = "baton/dev/terraform.tfstate"
    encrypt      = true
    use_lockfile = true
  }
}
