output "arns" {
  description = "Secret key (jwt-secret, fernet-key, api-secret-key, the passwords, database URLs, given and external secrets) -> ARN"
  value       = { for k, s in aws_secretsmanager_secret.this : k => s.arn }
}

output "external_secret_names" {
  description = "Names of the secrets to fill in after the first apply (aws secretsmanager put-secret-value --secret-id NAME --secret-string VALUE)"
  value       = [for k in keys(var.external_secrets) : aws_secretsmanager_secret.this[k].name]
}
