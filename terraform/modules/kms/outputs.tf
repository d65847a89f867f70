output "key_arn" {
  description = "ARN of the deployment's KMS key"
  value       = aws_kms_key.this.arn
}

output "alias_name" {
  description = "Alias of the key"
  value       = aws_kms_alias.this.name
}

output "account_id" {
  description = "Account the deployment lives in (makes global names such as S3 buckets unique)"
  value       = data.aws_caller_identity.current.account_id
}
