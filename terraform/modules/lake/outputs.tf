output "bucket" {
  description = "Bucket of the lake's data"
  value       = module.bucket.name
}

output "data_path" {
  description = "DuckLake's DATA_PATH: s3://<bucket>/<prefix>/ (BATON_LAKE_DATA_PATH)"
  value       = "s3://${module.bucket.name}/${var.prefix}/"
}

output "read_write_policy_json" {
  description = "Policy of the job tasks: list, read, write and delete objects under the prefix only, through the key"
  value       = data.aws_iam_policy_document.this["read-write"].json
}

output "read_only_policy_arn" {
  description = "Managed policy for readers outside the stack: list and read objects under the prefix, decrypt through S3"
  value       = aws_iam_policy.read_only.arn
}
