# State in S3, locked with S3's native lock file (no DynamoDB table). One state per environment:
# the key comes from <env>.s3.tfbackend, the bucket and region at init (make deploy passes
# TF_STATE_BUCKET and AWS_REGION):
#   terraform init -backend-config=dev.s3.tfbackend -backend-config="bucket=<state bucket>" -backend-config="region=<region>"
terraform {
  backend "s3" {
    encrypt      = true
    use_lockfile = true
  }
}
